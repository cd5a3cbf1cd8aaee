// The training tab: one run on the server, its speed of learning per hidden layer, live.

import { logLines } from "./charts.js";
import { state, writeHash } from "./state.js";
import { $, api, el, fill, fillSelect, fixed, fmt, markStale, META, PALETTE, showError, t,
  typedNumber } from "./util.js";

let next = 0;
let points = [];
let timer = null;
let run = null;
let shownSettings = null;  // the settings of the run whose results are on screen
let lastStatus = null;     // the last answer drawn, drawn again in another language

/** The form's controls and their keys in the URL (and in the run's settings). */
const FIELDS = [
  ["train-depth", "t-depth", "depth"], ["train-width", "t-width", "width"],
  ["train-activation", "t-act", "activation"], ["train-init", "t-init", "init"],
  ["train-loss", "t-loss", "loss"], ["train-lr", "t-lr", "lr"],
  ["train-epochs", "t-epochs", "epochs"], ["train-examples", "t-examples", "examples"],
];

/** A number typed in the page's language, sent as a number (as typed when it is not one, so
 * the server's message names it). */
function typed(id) {
  const text = $(`#${id}`).value.trim();
  const x = typedNumber(text);
  return x === null ? text : x;
}

function body() {
  return {
    depth: Number($("#train-depth").value),
    width: Number($("#train-width").value),
    activation: $("#train-activation").value,
    init: $("#train-init").value,
    loss: $("#train-loss").value,
    lr: typed("train-lr"),
    epochs: typed("train-epochs"),
    examples: typed("train-examples"),
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
    t("These results are from a run with other settings than the ones above: press Start to "
      + "train with these."));
}

/** A run's state (an identifier) in words. */
function stateWord(state) {
  const words = { idle: t("idle"), starting: t("starting"), running: t("running"),
    stopping: t("stopping"), stopped: t("stopped"), done: t("done"), failed: t("failed") };
  return words[state] || state;
}

/** Draw the last answer again (after a change of language). */
export function redrawTraining() {
  if (lastStatus) render(lastStatus);
}

function render(s) {
  lastStatus = s;
  shownSettings = s.settings || null;
  const active = ["starting", "running", "stopping"].includes(s.state);
  $("#train-start").disabled = active;
  $("#train-stop").disabled = !active || s.state === "stopping";
  const panel = $("#panel-training");
  panel.dataset.state = s.state;
  panel.dataset.points = String(points.length);
  // The state is an identifier (panel's data-state); people read it translated.
  let text = stateWord(s.state);
  if (s.total_batches) {
    text += fill(t(": batch {k} of {n} · {seconds} s"), { k: s.batches, n: s.total_batches,
      seconds: fixed(s.seconds || 0, 1) });
  }
  if (s.reason) text += ` (${s.reason === "time limit" ? t("time limit") : s.reason})`;
  if (s.error) text += ` — ${s.error}`;
  $("#train-status").textContent = s.state === "idle" ? t("idle: press Start") : text;
  const hidden = s.settings ? s.settings.sizes.length - 2 : 0;
  const series = [];
  for (let l = 0; l < hidden; l++) {
    series.push({
      name: fill(t("hidden layer {layer}"), { layer: l + 1 }),
      color: PALETTE[(l * PALETTE.length / Math.max(hidden, 1)) | 0],
      points: points.map((p) => [p.epoch, p.speeds[l]]),
    });
  }
  const chart = $("#train-chart");
  // A phone gets a narrower drawing, so that its labels stay readable once scaled down.
  chart.setAttribute("viewBox", chart.clientWidth && chart.clientWidth < 600
    ? "0 0 560 380" : "0 0 900 320");
  logLines(chart, series, { xLabel: t("epoch"),
    xMax: s.settings ? s.settings.epochs : 1,
    empty: s.state === "idle" ? t("press Start to train") : t("waiting for the first batches") });
  const tbody = $("#epoch-table tbody");
  tbody.textContent = "";
  for (const e of s.epochs || []) {
    tbody.append(el("tr", {},
      el("td", { class: "num", text: String(e.epoch) }),
      el("td", { class: "num", text: fmt(e.cost) }),
      el("td", { class: "num", text: fmt(e.test_cost) }),
      el("td", { class: "num", text: `${fixed(100 * e.test_accuracy, 1)}%` }),
      el("td", { class: "num", text: fixed(e.seconds, 1) })));
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
