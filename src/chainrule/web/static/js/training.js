// The training tab: one run on the server, its speed of learning per hidden layer, live.

import { logLines } from "./charts.js";
import { state, writeHash } from "./state.js";
import { $, api, el, fillSelect, fmt, markStale, META, PALETTE, showError } from "./util.js";

let next = 0;
let points = [];
let timer = null;
let run = null;
let shownSettings = null;  // the settings of the run whose results are on screen

/** The form's controls and their keys in the URL (and in the run's settings). */
const FIELDS = [
  ["train-depth", "t-depth", "depth"], ["train-width", "t-width", "width"],
  ["train-activation", "t-act", "activation"], ["train-init", "t-init", "init"],
  ["train-loss", "t-loss", "loss"], ["train-lr", "t-lr", "lr"],
  ["train-epochs", "t-epochs", "epochs"], ["train-examples", "t-examples", "examples"],
];

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
  timer = setTimeout(pollTraining, 400);
}

export async function pollTraining() {
  let s;
  try { s = await api(`/api/train?since=${next}`); } catch (err) {
    showError($("#train-error"), err);
    return;
  }
  if (s.run !== run) { run = s.run; points = []; next = 0; if (s.run) return pollTraining(); }
  points.push(...s.points);
  next = s.next;
  render(s);
  if (["starting", "running", "stopping"].includes(s.state)) schedule();
}

/** The run the form asks for, in the words of the server's settings. */
function asked() {
  const b = body();
  return { sizes: [784, ...Array(b.depth).fill(b.width), 10], activation: b.activation,
    init: b.init, loss: b.loss, lr: Number(b.lr), epochs: Number(b.epochs),
    limit: Number(b.examples) };
}

function sameRun(a, b) {
  if (!a || !b) return true;
  return JSON.stringify(a.sizes) === JSON.stringify(b.sizes) && a.activation === b.activation
    && a.init === b.init && a.loss === b.loss && Number(a.lr) === Number(b.lr)
    && Number(a.epochs) === Number(b.epochs) && Number(a.limit) === Number(b.limit);
}

/** Results of a run with other settings than the form's are marked, not silently kept. */
function checkStale() {
  const stale = points.length > 0 && !sameRun(shownSettings, asked());
  markStale($("#train-results"), stale,
    "These results are from a run with other settings than the ones above: press Start to "
    + "train with these.");
}

function render(s) {
  shownSettings = s.settings || null;
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
  const chart = $("#train-chart");
  // A phone gets a narrower drawing, so that its labels stay readable once scaled down.
  chart.setAttribute("viewBox", chart.clientWidth && chart.clientWidth < 600
    ? "0 0 560 380" : "0 0 900 320");
  logLines(chart, series, { xLabel: "epoch",
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
  checkStale();
}

export function initTraining() {
  fillSelect($("#train-activation"), META.activations, state["t-act"]);
  fillSelect($("#train-init"), META.inits, state["t-init"]);
  fillSelect($("#train-loss"), META.losses, state["t-loss"]);
  $("#train-depth").max = String(META.limits.max_train_depth);
  $("#train-width").max = String(META.limits.max_width);
  for (const [id, key] of FIELDS) {
    const input = $(`#${id}`);
    if (input.tagName !== "SELECT") input.value = state[key];
    const out = $(`#${id}-out`);
    if (out) out.textContent = input.value;
    input.addEventListener("input", () => {
      if (out) out.textContent = input.value;
      state[key] = input.value.trim();
      writeHash();
      checkStale();
    });
    state[key] = input.value.trim();
  }
  $("#train-start").addEventListener("click", start);
  $("#train-stop").addEventListener("click", stop);
}
