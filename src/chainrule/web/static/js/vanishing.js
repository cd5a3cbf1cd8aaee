// The vanishing tab: per-layer gradient norms of a fresh network, the chain network's
// factors, and the diagnosis of the same settings.

import { logBars } from "./charts.js";
import { drawCircuit } from "./graph.js";
import { state, writeHash } from "./state.js";
import { $, answerable, api, debounce, el, fill, fillNodes, fillSelect, fixed, fmt, markStale, META,
  showError, t } from "./util.js";

const EVIDENCE_SHOWN = 4;
let seq = 0;
let shownKey = null;  // the settings the results on screen were computed from
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
  $("#weight-scale-out").textContent = fmt(Number($("#weight-scale").value));
}

function checkStale() {
  markStale($("#vanishing-results"),
    shownKey !== null && JSON.stringify(settings()) !== shownKey,
    t("Out of date: the charts and the diagnosis below are for the previous settings; "
      + "they are being recomputed."));
}

export async function refreshVanishing() {
  outputs();
  for (const id of ids) state[keys[id]] = $(`#${id}`).value;
  writeHash();
  const mine = ++seq;
  const body = settings();
  const panel = $("#panel-vanishing");
  panel.dataset.ready = "0";
  const parts = [["/api/vanishing", (d) => norms(d, body), "#norms-card"],
    ["/api/chain", chain, "#chain-card"], ["/api/diagnose", diagnosis, "#diagnosis"]];
  const jobs = [];
  for (const [path, draw, card] of parts) {
    $(card).hidden = !answerable(path);  // an offline lesson may hold only some of them
    if (answerable(path)) jobs.push(api(path, body).then((d) => mine === seq && draw(d)));
  }
  const layer = Number(state.path);
  $("#path-card").hidden = !(layer >= 1 && layer <= body.depth && answerable("/api/path"));
  if (!$("#path-card").hidden) {
    jobs.push(api("/api/path", { ...body, layer }).then((d) => mine === seq && pathCircuit(d)));
  }
  const results = await Promise.allSettled(jobs);
  if (mine !== seq) return;
  const failed = results.find((r) => r.status === "rejected");
  showError($("#vanishing-error"), failed ? failed.reason : null);
  if (!failed) shownKey = JSON.stringify(body);
  checkStale();
  panel.dataset.ready = "1";
}

/** Show (or, with 0, hide) the path back to hidden layer `layer`, and keep it in the URL. */
function choosePath(layer) {
  state.path = layer ? String(layer) : "";
  writeHash();
  refreshVanishing();
}

function pathCircuit(d) {
  const p = d.path;
  $("#path-layer").textContent = String(p.layer);
  drawCircuit($("#path-svg"), d);
  const box = $("#path-summary");
  box.textContent = "";
  box.append(...fillNodes(t("On the first training image, unit {unit} of hidden layer {layer} "
    + "has ∂C/∂z = {gradient}, a sum over every path back from the output. The path drawn "
    + "(units {units}) carries {product}: s = φ'(z) of its unit in each layer, w = the weight "
    + "it crosses, d = the output unit's error ∂C/∂z. Each bracket (w·s) is one of Nielsen's "
    + "factors; the gradient on each wire is the product of all the others."), {
    unit: p.units[0], layer: p.layer, units: p.units.join(" → "),
    gradient: el("strong", { text: fmt(p.gradient) }),
    product: el("strong", { id: "path-product", text: fmt(p.product) }),
  }));
  const card = $("#path-card");
  card.dataset.layer = String(p.layer);
  card.dataset.product = String(p.product);
  for (const bar of $("#norms-chart").querySelectorAll("rect.bar")) {
    bar.classList.toggle("chosen", Number(bar.dataset.index) + 1 === p.layer);
  }
}

function norms(d, body) {
  const values = d.norms || [];
  const svg = $("#norms-chart");
  logBars(svg, values, {
    xLabel: t("hidden layer (input side → output side)"),
    classOf: (v, i) => [i === 0 ? "first" : "", Number(state.path) === i + 1 ? "chosen" : ""]
      .join(" ").trim(),
  });
  if (answerable("/api/path")) {
    for (const bar of svg.querySelectorAll("rect.bar")) {
      const layer = Number(bar.dataset.index) + 1;
      bar.setAttribute("tabindex", "0");
      bar.setAttribute("role", "button");
      bar.setAttribute("aria-label", fill(t("hidden layer {layer}: show one backward path"),
        { layer }));
      bar.addEventListener("click", () => choosePath(layer));
      bar.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); choosePath(layer); }
      });
    }
  }
  const first = values[0], last = values[values.length - 1];
  svg.dataset.first = String(first);
  svg.dataset.last = String(last);
  svg.dataset.depth = String(values.length);
  svg.dataset.activation = body.activation;
  svg.dataset.init = body.init;
  const box = $("#norms-summary");
  box.textContent = "";
  const ratio = first > 0 && last > 0 ? first / last : null;
  box.append(...fillNodes(t("first hidden layer {first} · last {last}"), {
    first: el("strong", { id: "norm-first", text: fmt(first) }),
    last: el("strong", { id: "norm-last", text: fmt(last) }),
  }));
  if (ratio !== null) {
    const decades = Math.log10(ratio);
    const words = Math.abs(decades) < 1 ? t("about the same size")
      : decades < 0 ? fill(t("{n} orders of magnitude smaller"), { n: fixed(-decades, 1) })
        : fill(t("{n} orders of magnitude larger"), { n: fixed(decades, 1) });
    box.append(" · ", ...fillNodes(t("first / last = {ratio} ({words})"), {
      ratio: el("strong", { id: "norm-ratio", text: fmt(ratio) }), words,
    }));
  }
}

/** φ as the chain's text writes it: σ for the sigmoid, the activation's name otherwise. */
function phiName(activation) {
  return activation === "sigmoid" || !activation ? "σ" : activation;
}

function chain(d) {
  const layers = d.layers || [];
  const factors = layers.map((l) => Math.abs(l.factor));
  const phi = phiName(d.activation);
  const top = d.max_slope !== undefined ? d.max_slope : 0.25;
  const topText = top === 0.25 ? "1/4" : fmt(top);
  const svg = $("#chain-chart");
  logBars(svg, factors, {
    labels: layers.map((l) => l.layer),
    xLabel: t("layer of the chain"),
    ref: { value: top, text: fill(t("{top} = max {phi}'"), { top: topText, phi }) },
    classOf: (v) => (v < top ? "below" : ""),
  });
  svg.dataset.activation = d.activation || "sigmoid";
  svg.dataset.maxSlope = String(top);
  $("#chain-subtitle").textContent = fill(t("one neuron per layer with the network's "
    + "activation: |w·{phi}'(z)|, log scale"), { phi });
  const box = $("#chain-summary");
  box.textContent = "";
  const product = d.product !== undefined ? d.product
    : factors.reduce((a, b) => a * b, 1);
  const below = factors.filter((f) => f < top).length;
  box.append(el("span", { class: "swatch below" }), " ", ...fillNodes(t("{below} of {count} "
    + "factors are below {top}, the largest {phi}' ({swatch} above). The gradient of the first "
    + "bias passes through layers 2 … L, and their product is {product}."), {
    below, count: factors.length, top: topText, phi,
    swatch: el("span", { class: "swatch" }),
    product: el("strong", { id: "chain-product", text: fmt(Math.abs(product)) }),
  }));
}

export function diagnosis(d) {
  const verdict = $("#verdict");
  // The verdict is an identifier (it also picks the colour); people read it translated.
  verdict.textContent = d.verdict ? t(d.verdict) : "";
  verdict.dataset.verdict = d.verdict || "";
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
        el("summary", { text: fill(t("{n} more"), { n: texts.length - shown }) }));
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
    .map((f) => ({ text: `${t(f.severity)}: ${f.message}` }));
  list($("#evidence"), findings.length ? findings : d.evidence);
  list($("#suggestions"), (d.suggestions || []).map((s) => (typeof s === "string" ? s
    : { text: `${s.flags} (${s.summary}): ${s.why}` })));
}

export function initVanishing() {
  fillSelect($("#activation"), META.activations, state.act);
  fillSelect($("#init"), META.inits, state.init);
  fillSelect($("#preprocess"), META.preprocessings, state.pre);
  $("#depth").max = String(META.limits.max_depth);
  $("#width").max = String(META.limits.max_width);
  $("#depth").value = state.depth;
  $("#width").value = state.width;
  $("#weight-scale").value = state.ws;
  outputs();
  const later = debounce(refreshVanishing, 120);
  for (const id of ids) {
    $(`#${id}`).addEventListener("input", () => { outputs(); checkStale(); later(); });
  }
}
