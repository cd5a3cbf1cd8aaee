// The training tab: one run on the server, its speed of learning per hidden layer, live.

import { logLines } from "./charts.js";
import { $, api, el, fillSelect, fmt, META, PALETTE, showError } from "./util.js";

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

export function initTraining() {
  fillSelect($("#train-activation"), META.activations, "sigmoid");
  fillSelect($("#train-init"), META.inits, "nielsen");
  fillSelect($("#train-loss"), META.losses, "bce");
  $("#train-depth").max = String(META.limits.max_train_depth);
  for (const id of ["train-depth", "train-width"]) {
    $(`#${id}`).addEventListener("input", () => {
      $(`#${id}-out`).textContent = $(`#${id}`).value;
    });
  }
  $("#train-start").addEventListener("click", start);
  $("#train-stop").addEventListener("click", stop);
}
