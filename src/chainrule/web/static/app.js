// chainrule explorer: the page's logic. Plain JavaScript, no libraries, no network but this server.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const SVGNS = "http://www.w3.org/2000/svg";
  const GRAD_FILL = "#cf222e";
  const SYMBOLS = {
    add: "+", sub: "−", mul: "×", div: "÷", neg: "−x", pow: "^", pow_const: "^", exp: "exp",
    log: "log", sigmoid: "σ", tanh: "tanh", relu: "relu", maximum: "max", minimum: "min",
    abs: "|x|", sqrt: "√",
  };
  const PALETTE = ["#cf222e", "#bc4c00", "#9a6700", "#1a7f37", "#0969da", "#8250df",
    "#bf3989", "#57606a"];

  let META = null;

  // ---------------------------------------------------------------- small helpers

  /** A number in at most four significant digits, like Python's "%.4g" (and the CLI). */
  function fmt(x) {
    if (x === null || x === undefined || Number.isNaN(x)) return "?";
    if (x === 0) return "0";
    const exp = Math.floor(Math.log10(Math.abs(x)));
    if (exp < -4 || exp >= 4) {
      let [mant, e] = x.toExponential(3).split("e");
      mant = mant.replace(/\.?0+$/, "");
      const sign = e[0] === "-" ? "-" : "+";
      const digits = e.replace(/^[+-]/, "").padStart(2, "0");
      return `${mant}e${sign}${digits}`;
    }
    return String(Number(x.toPrecision(4)));
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function svgEl(tag, attrs = {}, text) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  class ApiError extends Error {
    constructor(status, data) {
      super((data && data.error) || `HTTP ${status}`);
      this.status = status;
      this.data = data || {};
    }
  }

  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    };
    const response = await fetch(path, init);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function showError(box, err) {
    if (!err) { box.hidden = true; box.textContent = ""; return; }
    box.hidden = false;
    box.textContent = err.message || String(err);
  }

  // ---------------------------------------------------------------- state in the URL

  const DEFAULTS = {
    tab: "circuit", expr: "(x + y) * z", at: "x:-2,y:5,z:-4", step: "",
    depth: "5", width: "30", act: "sigmoid", init: "nielsen", ws: "1", pre: "scale",
  };
  const state = { ...DEFAULTS };

  function readHash() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    for (const key of Object.keys(DEFAULTS)) {
      state[key] = params.has(key) ? params.get(key) : DEFAULTS[key];
    }
  }

  function writeHash() {
    const params = new URLSearchParams();
    for (const key of Object.keys(DEFAULTS)) params.set(key, state[key]);
    const hash = "#" + params.toString();
    if (hash !== location.hash) history.replaceState(null, "", hash);
  }

  function parseAt(text) {
    const at = {};
    for (const part of (text || "").split(",")) {
      const i = part.indexOf(":");
      if (i > 0) at[part.slice(0, i)] = part.slice(i + 1);
    }
    return at;
  }

  // ---------------------------------------------------------------- tabs

  const PANELS = ["circuit", "vanishing", "training"];

  function showTab(name) {
    if (!PANELS.includes(name)) name = "circuit";
    state.tab = name;
    for (const p of PANELS) {
      $(`#panel-${p}`).hidden = p !== name;
      $(`#tab-${p}`).setAttribute("aria-selected", String(p === name));
    }
    writeHash();
    if (name === "vanishing") vanishing.refresh();
    if (name === "training") training.poll();
  }

  // ================================================================ the circuit panel

  const circuit = (() => {
    let data = null;          // the last /api/circuit answer
    let seq = 0;              // requests answered out of order are dropped
    let values = {};          // variable -> text in its input
    let svgIndex = null;      // elements of the drawn circuit
    let step = 0;

    const exprInput = $("#expr");

    function setVars(names) {
      const box = $("#vars");
      const old = values;
      values = {};
      box.textContent = "";
      for (const name of names) {
        values[name] = old[name] !== undefined ? old[name] : "1";
        const input = el("input", {
          id: `var-${name}`, "data-var": name, inputmode: "decimal", spellcheck: "false",
          "aria-label": `value of ${name}`,
        });
        input.value = values[name];
        input.addEventListener("input", () => {
          values[name] = input.value.trim();
          input.classList.toggle("invalid", !isNumber(values[name]));
          scheduleRun();
        });
        box.append(el("label", {}, `${name} =`, input));
      }
    }

    function isNumber(text) {
      return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text.trim());
    }

    function exprError(err) {
      const box = $("#expr-error");
      if (!err) {
        box.hidden = true;
        exprInput.classList.remove("invalid");
        return;
      }
      box.hidden = false;
      const d = err.data || {};
      $("#expr-caret").textContent = d.caret || "";
      $("#expr-caret").hidden = !d.caret;
      $("#expr-message").textContent = err.message;
      exprInput.classList.toggle("invalid", d.kind === "parse" || d.kind === "limit");
    }

    function clearDrawing(message) {
      data = null;
      svgIndex = null;
      $("#output").textContent = "?";
      const box = $("#circuit-svg");
      box.textContent = "";
      box.append(el("div", { class: "placeholder", text: message }));
      $("#grad-table tbody").textContent = "";
      $("#fanout-text").textContent = "";
      $("#step-text").textContent = "";
      $("#step-slider").max = "0";
      $("#step-count").textContent = "0 / 0";
    }

    function busy(on) {
      $("#panel-circuit").dataset.ready = on ? "0" : "1";
    }

    async function parseAndRun(keepStep) {
      const text = exprInput.value;
      const mine = ++seq;
      busy(true);
      state.expr = text;
      writeHash();
      try {
        const parsed = await api("/api/parse", { expression: text });
        if (mine !== seq) return;
        exprError(null);
        setVars(parsed.variables);
        await run(keepStep);
      } catch (err) {
        if (mine !== seq) return;
        exprError(err);
        $("#about").textContent = "";
        clearDrawing("fix the expression to see its circuit");
        busy(false);
      }
    }

    async function run(keepStep) {
      const at = {};
      for (const [name, text] of Object.entries(values)) {
        if (!isNumber(text)) {  // the input is marked; wait for a number
          busy(false);
          return;
        }
        at[name] = Number(text);
      }
      const mine = ++seq;
      busy(true);
      state.at = Object.entries(values).map(([k, v]) => `${k}:${v}`).join(",");
      writeHash();
      try {
        const answer = await api("/api/circuit", { expression: exprInput.value, at });
        if (mine !== seq) return;
        exprError(null);
        show(answer, keepStep);
      } catch (err) {
        if (mine !== seq) return;
        exprError(err);
        clearDrawing(err.data && err.data.kind === "evaluation"
          ? "this expression cannot be evaluated at these values" : err.message);
        busy(false);
      }
    }

    const scheduleRun = debounce(() => run(), 200);
    const scheduleParse = debounce(() => parseAndRun(), 250);

    function show(answer, keepStep) {
      data = answer;
      $("#output").textContent = fmt(answer.output);
      $("#about").textContent = answer.about || aboutFor(answer.expression);
      drawSvg(answer);
      gradTable(answer);
      fanoutText(answer);
      const n = answer.steps.length;
      $("#step-slider").max = String(n);
      let k = n;
      if (keepStep !== undefined && keepStep !== null && keepStep !== "") {
        k = Math.max(0, Math.min(n, Number(keepStep) || 0));
      }
      setStep(k, k === n);
      const panel = $("#panel-circuit");
      panel.dataset.expression = answer.expression;
      busy(false);
    }

    function aboutFor(expression) {
      if (!META) return "";
      for (const ex of Object.values(META.examples)) {
        if (ex.expression.replace(/\s+/g, "") === expression.replace(/\s+/g, "")) return ex.about;
      }
      return "";
    }

    function drawSvg(answer) {
      const box = $("#circuit-svg");
      box.textContent = "";
      svgIndex = null;
      if (!answer.svg) {
        box.append(el("div", { class: "placeholder",
          text: `no picture: ${answer.svg_error || "the renderer is missing"}` }));
        return;
      }
      // The SVG comes from this server's Graphviz layout of the circuit (labels escaped there).
      const doc = new DOMParser().parseFromString(answer.svg, "image/svg+xml");
      const svg = doc.documentElement;
      if (svg.nodeName !== "svg") return;
      const widthPt = parseFloat(svg.getAttribute("width") || "400");
      svg.removeAttribute("height");
      svg.setAttribute("width", String(Math.round(widthPt * 1.45)));
      svg.setAttribute("aria-label", `circuit of ${answer.expression}`);
      box.append(document.importNode(svg, true));
      indexSvg(box.querySelector("svg"), answer);
    }

    function indexSvg(svg, answer) {
      const nodes = {}, wires = {}, paths = {};
      for (const g of svg.querySelectorAll("g.node")) {
        const title = (g.querySelector("title") || {}).textContent || "";
        let m = /^n(\d+)$/.exec(title);
        if (m) { nodes[Number(m[1])] = g; continue; }
        m = /^w(\d+)$/.exec(title);
        if (m) wires[Number(m[1])] = g;
      }
      for (const g of svg.querySelectorAll("g.edge")) {
        const title = (g.querySelector("title") || {}).textContent || "";
        const m = /^n\d+->w(\d+)/.exec(title) || /^w(\d+)(?::\w+)*->n\d+/.exec(title);
        if (m) (paths[Number(m[1])] = paths[Number(m[1])] || []).push(g);
      }
      const gradText = {}, sigmaText = {};
      for (const [k, g] of Object.entries(wires)) {
        const t = [...g.querySelectorAll("text")].find((x) => x.getAttribute("fill") === GRAD_FILL);
        if (t) gradText[k] = { node: t, text: t.textContent };
      }
      for (const [id, g] of Object.entries(nodes)) {
        const t = [...g.querySelectorAll("text")].find((x) => x.getAttribute("fill") === GRAD_FILL);
        if (t) sigmaText[id] = t;
      }
      const outDegree = {};
      for (const e of answer.edges) outDegree[e.source] = (outDegree[e.source] || 0) + 1;
      svgIndex = { svg, nodes, wires, paths, gradText, sigmaText, outDegree };
    }

    let replaying = false;  // false: the finished pass as loaded, nothing highlighted

    function setStep(k, quiet) {
      if (!data) return;
      replaying = !quiet;
      const steps = data.steps;
      const n = steps.length;
      step = Math.max(0, Math.min(n, k));
      $("#step-slider").value = String(step);
      $("#step-count").textContent = `${step} / ${n}`;
      state.step = step === n ? "" : String(step);
      writeHash();
      paintSvg();
      stepText();
    }

    function paintSvg() {
      const ix = svgIndex;
      if (!ix) return;
      const steps = data.steps;
      const done = new Set(steps.slice(0, step).map((s) => s.edge));
      const totals = {};
      for (const s of steps.slice(0, step)) totals[s.input] = s.total;
      for (const [k, t] of Object.entries(ix.gradText)) {
        const known = done.has(Number(k));
        t.node.textContent = known ? t.text : "?";
        t.node.classList.toggle("pending", !known);
      }
      for (const [id, t] of Object.entries(ix.sigmaText)) {
        const full = step === steps.length;
        const total = full ? data.nodes[id].grad : totals[id];
        t.textContent = `Σ ${total === undefined ? "?" : fmt(total)}`;
        t.classList.toggle("pending", total === undefined);
      }
      for (const g of ix.svg.querySelectorAll(".current-gate, .current-wire, .current-input")) {
        g.classList.remove("current-gate", "current-wire", "current-input");
      }
      for (const b of ix.svg.querySelectorAll(".fanout-mark")) b.remove();
      if (step === 0 || step > steps.length || !replaying) return;
      const s = steps[step - 1];
      if (ix.nodes[s.gate]) ix.nodes[s.gate].classList.add("current-gate");
      if (ix.nodes[s.input]) ix.nodes[s.input].classList.add("current-input");
      if (ix.wires[s.edge]) ix.wires[s.edge].classList.add("current-wire");
      for (const g of ix.paths[s.edge] || []) g.classList.add("current-wire");
      if ((ix.outDegree[s.input] || 0) > 1 && ix.nodes[s.input]) {
        badge(ix.nodes[s.input], "+=");
      }
    }

    function badge(group, text) {
      const box = group.getBBox();
      const mark = svgEl("g", { class: "fanout-mark" });
      const w = 24, h = 16;
      const x = box.x + box.width - w / 2, y = box.y - h + 4;
      mark.append(svgEl("rect", { class: "fanout-badge-bg", x, y, width: w, height: h, rx: 4 }));
      mark.append(svgEl("text", { class: "fanout-badge", x: x + w / 2, y: y + h - 4,
        "text-anchor": "middle" }, text));
      group.parentNode.append(mark);
    }

    function stepText() {
      const box = $("#step-text");
      box.textContent = "";
      const steps = data.steps;
      const n = steps.length;
      if (n === 0) {
        box.append("This expression has no gates to backpropagate through.");
        return;
      }
      if (!replaying && step === n) {
        box.append(`The backward pass took ${n} step${n === 1 ? "" : "s"}, one per wire. `,
          "Press Step (or drag the slider) to replay it.");
        return;
      }
      if (step === 0) {
        box.append("Before the backward pass only the output's gradient is known: ∂f/∂f = 1. ",
          "Press Step to send it back one wire at a time.");
        return;
      }
      const s = steps[step - 1];
      const gate = data.names[s.gate];
      const symbol = SYMBOLS[s.op] || s.op;
      const fan = (svgIndex && svgIndex.outDegree[s.input]) || countOut(s.input);
      const input = s.input_name;
      box.append(`Step ${step} of ${n}: the `, el("span", { class: "op", text: symbol }),
        ` gate (${gate}) takes the upstream gradient ${fmt(s.upstream)}, multiplies it by its `
        + `local gradient ∂${gate}/∂${input} = ${fmt(s.local_grad)} and sends `
        + `${fmt(s.contribution)} back to ${input}: `);
      box.append(el("span", { class: "plus-eq", text: `${input}.grad += ${fmt(s.contribution)}` }));
      if (fan > 1) {
        box.append(` — ${input} feeds ${fan} wires, so their gradients add up`
          + ` (now ${fmt(s.total)}).`);
      } else {
        box.append(` (now ${fmt(s.total)}).`);
      }
      if (step === n) box.append(" That was the last step: every wire carries its gradient.");
    }

    function countOut(id) {
      return data.edges.filter((e) => e.source === id).length;
    }

    function gradTable(answer) {
      const body = $("#grad-table tbody");
      body.textContent = "";
      const checks = {};
      for (const c of answer.check) checks[c.variable] = c;
      for (const name of answer.variables) {
        const c = checks[name] || {};
        const verdict = c.verdict || "";
        const word = verdict.split(":")[0];
        body.append(el("tr", {},
          el("td", { class: "num", text: name }),
          el("td", { class: "num value", id: `value-${name}`, text: fmt(answer.at[name]) }),
          el("td", { class: "num grad", id: `grad-${name}`, text: fmt(answer.gradients[name]) }),
          el("td", { class: "num", text: fmt(c.numerical) }),
          el("td", { class: "num", text: c.rel_error == null ? "—" : c.rel_error.toExponential(1) }),
          el("td", { class: `verdict-${word}`, text: verdict })));
      }
    }

    function fanoutText(answer) {
      const parts = answer.fanout.map((f) => {
        const sum = f.wires.map((w) => fmt(w.contribution)).join(" + ");
        return `${f.name} feeds ${f.wires.length} wires; their gradients add up: ${sum} = `
          + `${fmt(f.sum)}.`;
      });
      $("#fanout-text").textContent = parts.length
        ? `Fan-out: ${parts.join(" ")}` : "";
    }

    function examples() {
      const box = $("#examples");
      box.textContent = "";
      for (const [name, ex] of Object.entries(META.examples)) {
        const b = el("button", { type: "button", "data-example": name, title: ex.about,
          text: name });
        b.addEventListener("click", () => load(ex.expression, ex.at));
        box.append(b);
      }
    }

    function load(expression, at, keepStep) {
      exprInput.value = expression;
      values = {};
      for (const [k, v] of Object.entries(at)) values[k] = String(v);
      return parseAndRun(keepStep);
    }

    function init() {
      exprInput.addEventListener("input", () => scheduleParse());
      $("#circuit-form").addEventListener("submit", (e) => { e.preventDefault(); parseAndRun(); });
      $("#step-next").addEventListener("click", () => {
        if (!data) return;
        setStep(step >= data.steps.length ? 1 : step + 1);
      });
      $("#step-back").addEventListener("click", () => setStep(step - 1));
      $("#step-reset").addEventListener("click", () => setStep(0));
      $("#step-all").addEventListener("click", () => data && setStep(data.steps.length, true));
      $("#step-slider").addEventListener("input", (e) => setStep(Number(e.target.value)));
      document.addEventListener("keydown", (e) => {
        if (state.tab !== "circuit" || e.target.closest("input, select, textarea")) return;
        if (e.key === "ArrowRight") $("#step-next").click();
        if (e.key === "ArrowLeft") $("#step-back").click();
      });
      examples();
      return load(state.expr, parseAt(state.at), state.step);
    }

    return { init };
  })();

  // ================================================================ charts

  function clear(svg) { while (svg.firstChild) svg.firstChild.remove(); }

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
  function logBars(svg, values, opts = {}) {
    clear(svg);
    const [W, H] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
    const m = { l: 52, r: 14, t: 14, b: 38 };
    const positive = values.filter((v) => v > 0 && Number.isFinite(v));
    if (!positive.length) {
      svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data"));
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
  function logLines(svg, series, opts = {}) {
    clear(svg);
    const [W, H] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
    const m = { l: 56, r: 150, t: 14, b: 38 };
    const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
    const xs = series.flatMap((s) => s.points.map((p) => p[0]));
    if (!ys.length) {
      svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" },
        opts.empty || "no data yet"));
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

  // ================================================================ the vanishing panel

  const vanishing = (() => {
    const EVIDENCE_SHOWN = 4;
    let seq = 0;
    const ids = ["depth", "width", "activation", "init", "weight-scale", "preprocess"];
    const keys = { depth: "depth", width: "width", activation: "act", init: "init",
      "weight-scale": "ws", preprocess: "pre" };

    function settings() {
      return {
        depth: Number($("#depth").value),
        width: Number($("#width").value),
        activation: $("#activation").value,
        init: $("#init").value,
        weight_scale: Number($("#weight-scale").value),
        preprocess: $("#preprocess").value,
      };
    }

    function outputs() {
      $("#depth-out").textContent = $("#depth").value;
      $("#width-out").textContent = $("#width").value;
      $("#weight-scale-out").textContent = $("#weight-scale").value;
    }

    function fill(select, options, value) {
      select.textContent = "";
      for (const o of options) select.append(el("option", { value: o, text: o }));
      if (options.includes(value)) select.value = value;
    }

    async function refresh() {
      outputs();
      for (const id of ids) state[keys[id]] = $(`#${id}`).value;
      writeHash();
      const mine = ++seq;
      const body = settings();
      const panel = $("#panel-vanishing");
      panel.dataset.ready = "0";
      const jobs = [
        api("/api/vanishing", body).then((d) => mine === seq && norms(d, body)),
        api("/api/chain", body).then((d) => mine === seq && chain(d)),
        api("/api/diagnose", body).then((d) => mine === seq && diagnosis(d)),
      ];
      const results = await Promise.allSettled(jobs);
      if (mine !== seq) return;
      const failed = results.find((r) => r.status === "rejected");
      showError($("#vanishing-error"), failed ? failed.reason : null);
      panel.dataset.ready = "1";
    }

    function norms(d, body) {
      const values = d.norms || [];
      const svg = $("#norms-chart");
      logBars(svg, values, {
        xLabel: "hidden layer (input side → output side)",
        classOf: (v, i) => (i === 0 ? "first" : ""),
      });
      const first = values[0], last = values[values.length - 1];
      svg.dataset.first = String(first);
      svg.dataset.last = String(last);
      svg.dataset.depth = String(values.length);
      svg.dataset.activation = body.activation;
      svg.dataset.init = body.init;
      const box = $("#norms-summary");
      box.textContent = "";
      const ratio = first > 0 && last > 0 ? first / last : null;
      box.append("first hidden layer ", el("strong", { id: "norm-first", text: fmt(first) }),
        " · last ", el("strong", { id: "norm-last", text: fmt(last) }));
      if (ratio !== null) {
        const decades = Math.log10(ratio);
        const words = Math.abs(decades) < 1 ? "about the same size"
          : decades < 0 ? `${Math.abs(decades).toFixed(1)} orders of magnitude smaller`
            : `${decades.toFixed(1)} orders of magnitude larger`;
        box.append(" · first / last = ", el("strong", { id: "norm-ratio", text: fmt(ratio) }),
          ` (${words})`);
      }
    }

    function chain(d) {
      const layers = d.layers || [];
      const factors = layers.map((l) => Math.abs(l.factor));
      logBars($("#chain-chart"), factors, {
        labels: layers.map((l) => l.layer),
        xLabel: "layer of the chain",
        ref: { value: 0.25, text: "1/4 = max σ'" },
        classOf: (v) => (v < 0.25 ? "below" : ""),
      });
      const box = $("#chain-summary");
      box.textContent = "";
      const product = d.product !== undefined ? d.product
        : factors.reduce((a, b) => a * b, 1);
      const below = factors.filter((f) => f < 0.25).length;
      box.append(el("span", { class: "swatch below" }), ` ${below} of ${factors.length} factors `
        + "are below 1/4 (", el("span", { class: "swatch" }), " above). The gradient of the first "
        + "bias passes through layers 2 … L, and their product is ",
      el("strong", { id: "chain-product", text: fmt(Math.abs(product)) }), ".");
    }

    function diagnosis(d) {
      const verdict = $("#verdict");
      verdict.textContent = d.verdict || "";
      const healthy = /healthy|ok|fine|good/i.test(d.verdict || "");
      verdict.className = `verdict ${healthy ? "ok" : "bad"}`;
      const list = (box, items) => {
        box.textContent = "";
        const texts = (items || []).map((item) => (typeof item === "string" ? item
          : item.text || item.message || JSON.stringify(item)));
        const shown = texts.length > EVIDENCE_SHOWN + 1 ? EVIDENCE_SHOWN : texts.length;
        for (const text of texts.slice(0, shown)) box.append(el("li", { text }));
        if (shown < texts.length) {
          const more = el("details", { class: "more" },
            el("summary", { text: `${texts.length - shown} more` }));
          const rest = el("ul");
          for (const text of texts.slice(shown)) rest.append(el("li", { text }));
          more.append(rest);
          box.append(el("li", { class: "more-item" }, more));
        }
      };
      // Findings carry their severity; the advice says which flags make each change.
      const rank = { problem: 0, warning: 1, note: 2, ok: 3 };
      const findings = (d.findings || []).slice()
        .sort((a, b) => (rank[a.severity] ?? 4) - (rank[b.severity] ?? 4))
        .map((f) => ({ text: `${f.severity}: ${f.message}` }));
      list($("#evidence"), findings.length ? findings : d.evidence);
      list($("#suggestions"), (d.suggestions || []).map((s) => (typeof s === "string" ? s
        : { text: `${s.flags} (${s.summary}): ${s.why}` })));
    }

    function init() {
      fill($("#activation"), META.activations, state.act);
      fill($("#init"), META.inits, state.init);
      fill($("#preprocess"), META.preprocessings, state.pre);
      $("#depth").max = String(META.limits.max_depth);
      $("#width").max = String(META.limits.max_width);
      $("#depth").value = state.depth;
      $("#width").value = state.width;
      $("#weight-scale").value = state.ws;
      outputs();
      const later = debounce(refresh, 120);
      for (const id of ids) {
        $(`#${id}`).addEventListener("input", () => { outputs(); later(); });
      }
    }

    return { init, refresh };
  })();

  // ================================================================ the training view

  const training = (() => {
    let next = 0;
    let points = [];
    let timer = null;
    let run = null;

    function body() {
      return {
        depth: Number($("#train-depth").value),
        width: Number($("#train-width").value),
        activation: $("#train-activation").value,
        init: $("#train-init").value,
        loss: $("#train-loss").value,
        lr: $("#train-lr").value.trim(),
        epochs: $("#train-epochs").value.trim(),
        examples: $("#train-examples").value.trim(),
      };
    }

    async function start() {
      showError($("#train-error"), null);
      try {
        const s = await api("/api/train", body());
        points = [];
        next = 0;
        run = s.run;
        render(s);
        schedule();
      } catch (err) {
        showError($("#train-error"), err);
      }
    }

    async function stop() {
      try { render(await api("/api/train/stop", {})); } catch (err) {
        showError($("#train-error"), err);
      }
      schedule();
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(poll, 400);
    }

    async function poll() {
      let s;
      try { s = await api(`/api/train?since=${next}`); } catch (err) {
        showError($("#train-error"), err);
        return;
      }
      if (s.run !== run) { run = s.run; points = []; next = 0; if (s.run) return poll(); }
      points.push(...s.points);
      next = s.next;
      render(s);
      if (["starting", "running", "stopping"].includes(s.state)) schedule();
    }

    function render(s) {
      const active = ["starting", "running", "stopping"].includes(s.state);
      $("#train-start").disabled = active;
      $("#train-stop").disabled = !active || s.state === "stopping";
      const panel = $("#panel-training");
      panel.dataset.state = s.state;
      panel.dataset.points = String(points.length);
      let text = s.state;
      if (s.total_batches) {
        text += `: batch ${s.batches} of ${s.total_batches} · ${(s.seconds || 0).toFixed(1)} s`;
      }
      if (s.reason) text += ` (${s.reason})`;
      if (s.error) text += ` — ${s.error}`;
      $("#train-status").textContent = s.state === "idle" ? "idle: press Start" : text;
      const hidden = s.settings ? s.settings.sizes.length - 2 : 0;
      const series = [];
      for (let l = 0; l < hidden; l++) {
        series.push({
          name: `hidden layer ${l + 1}`,
          color: PALETTE[(l * PALETTE.length / Math.max(hidden, 1)) | 0],
          points: points.map((p) => [p.epoch, p.speeds[l]]),
        });
      }
      logLines($("#train-chart"), series, { xLabel: "epoch",
        xMax: s.settings ? s.settings.epochs : 1,
        empty: s.state === "idle" ? "press Start to train" : "waiting for the first batches" });
      const tbody = $("#epoch-table tbody");
      tbody.textContent = "";
      for (const e of s.epochs || []) {
        tbody.append(el("tr", {},
          el("td", { class: "num", text: String(e.epoch) }),
          el("td", { class: "num", text: fmt(e.cost) }),
          el("td", { class: "num", text: fmt(e.test_cost) }),
          el("td", { class: "num", text: `${(100 * e.test_accuracy).toFixed(1)}%` }),
          el("td", { class: "num", text: e.seconds.toFixed(1) })));
      }
    }

    function init() {
      const fill = (sel, options, value) => {
        const s = $(sel);
        s.textContent = "";
        for (const o of options) s.append(el("option", { value: o, text: o }));
        s.value = value;
      };
      fill("#train-activation", META.activations, "sigmoid");
      fill("#train-init", META.inits, "nielsen");
      fill("#train-loss", META.losses, "bce");
      $("#train-depth").max = String(META.limits.max_train_depth);
      for (const id of ["train-depth", "train-width"]) {
        $(`#${id}`).addEventListener("input", () => {
          $(`#${id}-out`).textContent = $(`#${id}`).value;
        });
      }
      $("#train-start").addEventListener("click", start);
      $("#train-stop").addEventListener("click", stop);
    }

    return { init, poll };
  })();

  // ================================================================ start

  async function main() {
    readHash();
    try {
      META = await api("/api/meta");
    } catch (err) {
      document.body.prepend(el("div", { class: "error", text: `cannot reach the server: ${err.message}` }));
      return;
    }
    $("#version").textContent = `v${META.version}`;
    for (const b of document.querySelectorAll(".tabs button")) {
      b.addEventListener("click", () => showTab(b.dataset.tab));
    }
    vanishing.init();
    training.init();
    const first = circuit.init();
    showTab(state.tab);
    await first;
    document.body.dataset.ready = "1";
  }

  window.addEventListener("hashchange", () => {
    const before = state.tab;
    readHash();
    if (state.tab !== before) showTab(state.tab);
  });

  main();
})();
