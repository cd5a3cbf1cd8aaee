// Log-scale charts drawn as plain SVG: bars (per-layer norms, chain factors) and lines (training).

import { fmt, svgEl, t } from "./util.js";

export function clear(svg) { while (svg.firstChild) svg.firstChild.remove(); }

function logTicks(lo, hi) {
  const span = hi - lo;
  const every = span > 16 ? 4 : span > 8 ? 2 : 1;
  const ticks = [];
  for (let e = Math.ceil(lo / every) * every; e <= hi; e += every) ticks.push(e);
  return ticks;
}

function powLabel(e) {
  if (e === 0) return "1";
  if (e === 1) return "10";
  return `1e${e}`;
}

/** Bars on a log scale. opts: labels, ref (a horizontal line: {value, text}), classes. */
export function logBars(svg, values, opts = {}) {
  clear(svg);
  const [W, H] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
  const m = { l: 52, r: 14, t: 14, b: 38 };
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  if (!positive.length) {
    svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, t("no data")));
    return;
  }
  let lo = Math.log10(Math.min(...positive));
  let hi = Math.log10(Math.max(...positive));
  if (opts.ref) { lo = Math.min(lo, Math.log10(opts.ref.value)); hi = Math.max(hi, Math.log10(opts.ref.value)); }
  // A decade below the smallest bar, so that even the smallest one is seen.
  lo = Math.floor(lo - 0.05) - 1;
  hi = Math.ceil(hi + 0.05);
  if (hi - lo < 2) hi = lo + 2;
  const y = (v) => m.t + (H - m.t - m.b) * (1 - (Math.log10(v) - lo) / (hi - lo));
  for (const e of logTicks(lo, hi)) {
    const yy = y(10 ** e);
    svg.append(svgEl("line", { class: "gridline", x1: m.l, x2: W - m.r, y1: yy, y2: yy }));
    svg.append(svgEl("text", { x: m.l - 6, y: yy + 4, "text-anchor": "end" }, powLabel(e)));
  }
  const n = values.length;
  const band = (W - m.l - m.r) / n;
  const gap = Math.min(6, band * 0.2);
  const labelEvery = Math.ceil(n / 15);
  values.forEach((v, i) => {
    const x = m.l + i * band + gap / 2;
    if (v > 0 && Number.isFinite(v)) {
      const top = y(v);
      const cls = ["bar", (opts.classOf && opts.classOf(v, i)) || ""].join(" ").trim();
      const rect = svgEl("rect", { class: cls, x, y: top, width: Math.max(1, band - gap),
        height: Math.max(0.5, H - m.b - top), "data-index": i, "data-value": v });
      rect.append(svgEl("title", {}, `${(opts.labels || [])[i] ?? i + 1}: ${fmt(v)}`));
      svg.append(rect);
    }
    if (i % labelEvery === 0 || i === n - 1) {
      svg.append(svgEl("text", { x: x + (band - gap) / 2, y: H - m.b + 14,
        "text-anchor": "middle" }, String((opts.labels || [])[i] ?? i + 1)));
    }
  });
  svg.append(svgEl("line", { class: "axis", x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
  svg.append(svgEl("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
  if (opts.xLabel) {
    svg.append(svgEl("text", { x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle" },
      opts.xLabel));
  }
  if (opts.ref) {
    const yy = y(opts.ref.value);
    svg.append(svgEl("line", { class: "quarter", x1: m.l, x2: W - m.r, y1: yy, y2: yy }));
    svg.append(svgEl("text", { class: "quarter-label", x: m.l + 6, y: yy - 5,
      "text-anchor": "start" }, opts.ref.text));
  }
}

/** Lines on a log-y scale. series: [{name, color, points: [[x, y], ...]}]. */
export function logLines(svg, series, opts = {}) {
  clear(svg);
  const [W, H] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
  const m = { l: 56, r: 150, t: 14, b: 38 };
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  if (!ys.length) {
    svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" },
      opts.empty || t("no data yet")));
    return;
  }
  let lo = Math.floor(Math.log10(Math.min(...ys)) - 0.05);
  let hi = Math.ceil(Math.log10(Math.max(...ys)) + 0.05);
  if (hi - lo < 1) hi = lo + 1;
  const xMax = Math.max(opts.xMax || 0, ...xs, 1e-9);
  const x = (v) => m.l + (W - m.l - m.r) * (v / xMax);
  const y = (v) => m.t + (H - m.t - m.b) * (1 - (Math.log10(v) - lo) / (hi - lo));
  for (const e of logTicks(lo, hi)) {
    const yy = y(10 ** e);
    svg.append(svgEl("line", { class: "gridline", x1: m.l, x2: W - m.r, y1: yy, y2: yy }));
    svg.append(svgEl("text", { x: m.l - 6, y: yy + 4, "text-anchor": "end" }, powLabel(e)));
  }
  const xticks = Math.min(10, Math.ceil(xMax));
  for (let i = 0; i <= xticks; i++) {
    const v = (xMax * i) / xticks;
    svg.append(svgEl("text", { x: x(v), y: H - m.b + 14, "text-anchor": "middle" },
      fmt(Number(v.toFixed(2)))));
  }
  svg.append(svgEl("line", { class: "axis", x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
  svg.append(svgEl("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
  if (opts.xLabel) {
    svg.append(svgEl("text", { x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle" },
      opts.xLabel));
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => p[1] > 0);
    if (pts.length) {
      const d = pts.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
        .join(" ");
      svg.append(svgEl("path", { class: "series", d, stroke: s.color, "data-series": i }));
    }
    const ly = m.t + 8 + i * 18;
    svg.append(svgEl("line", { x1: W - m.r + 12, x2: W - m.r + 32, y1: ly, y2: ly,
      stroke: s.color, "stroke-width": 3 }));
    svg.append(svgEl("text", { x: W - m.r + 38, y: ly + 4 }, s.name));
  });
}

