// The circuit picture: the server's Graphviz SVG, indexed so the backward pass can be replayed
// on it wire by wire. Used by the circuit tab, practice mode and the offline lessons.

import { el, fill, fmt, svgEl, t } from "./util.js";

/** Gradients are the red labels of the picture (the colour chainrule.viz gives them). */
export const GRAD_FILL = "#cf222e";
export const SYMBOLS = {
  add: "+", sub: "−", mul: "×", div: "÷", neg: "−x", pow: "^", pow_const: "^", exp: "exp",
  log: "log", sigmoid: "σ", tanh: "tanh", relu: "relu", maximum: "max", minimum: "min",
  abs: "|x|", sqrt: "√",
};

/** Draw `answer.svg` into `box`; returns the index of its gates and wires (or null). */
export function drawCircuit(box, answer) {
  box.textContent = "";
  if (!answer.svg) {
    box.append(el("div", { class: "placeholder",
      text: fill(t("no picture: {reason}"),
        { reason: answer.svg_error || t("the renderer is missing") }) }));
    return null;
  }
  // The SVG comes from this server's Graphviz layout of the circuit (labels escaped there).
  const doc = new DOMParser().parseFromString(answer.svg, "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.nodeName !== "svg") return null;
  const widthPt = parseFloat(svg.getAttribute("width") || "400");
  svg.removeAttribute("height");
  svg.setAttribute("width", String(Math.round(widthPt * 1.45)));
  svg.setAttribute("aria-label", fill(t("circuit of {expression}"),
    { expression: answer.expression }));
  box.append(document.importNode(svg, true));
  return indexCircuit(box.querySelector("svg"), answer);
}

function indexCircuit(svg, answer) {
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
  return { svg, nodes, wires, paths, gradText, sigmaText, outDegree };
}

/**
 * Show the backward pass after `step` of its steps: wires not reached yet show "?". Step
 * `highlight` (1-based; 0 for none) has its gate, wire and input highlighted, and a fan-out
 * input gets "+=" (the step-through highlights the step just taken, practice the one asked).
 */
export function paintCircuit(ix, data, step, highlight) {
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
  if (!highlight || highlight > steps.length) return;
  const s = steps[highlight - 1];
  if (ix.nodes[s.gate]) ix.nodes[s.gate].classList.add("current-gate");
  if (ix.nodes[s.input]) ix.nodes[s.input].classList.add("current-input");
  if (ix.wires[s.edge]) ix.wires[s.edge].classList.add("current-wire");
  for (const g of ix.paths[s.edge] || []) g.classList.add("current-wire");
  if ((ix.outDegree[s.input] || 0) > 1 && ix.nodes[s.input]) badge(ix.nodes[s.input], "+=");
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
