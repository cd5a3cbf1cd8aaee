// chainrule explorer: the page's entry point. Plain ES modules, no libraries, no build step,
// no network but this server.

import { initCircuit } from "./circuit.js";
import { readHash, setDefaults, state, writeHash } from "./state.js";
import { initTraining, pollTraining } from "./training.js";
import { $, api, el, META } from "./util.js";
import { initVanishing, refreshVanishing } from "./vanishing.js";

const PANELS = ["circuit", "vanishing", "training"];

function showTab(name) {
  if (!PANELS.includes(name)) name = "circuit";
  state.tab = name;
  for (const p of PANELS) {
    $(`#panel-${p}`).hidden = p !== name;
    $(`#tab-${p}`).setAttribute("aria-selected", String(p === name));
  }
  writeHash();
  if (name === "vanishing") refreshVanishing();
  if (name === "training") pollTraining();
}

async function main() {
  readHash();
  try {
    Object.assign(META, await api("/api/meta"));
  } catch (err) {
    document.body.prepend(el("div", { class: "error",
      text: `cannot reach the server: ${err.message}` }));
    return;
  }
  const t = META.training || {};
  setDefaults({ "t-depth": t.depth, "t-width": t.width, "t-act": t.activation,
    "t-init": t.init, "t-loss": t.loss, "t-lr": t.lr, "t-epochs": t.epochs,
    "t-examples": t.examples });
  readHash();
  $("#version").textContent = `v${META.version}`;
  for (const b of document.querySelectorAll(".tabs button")) {
    b.addEventListener("click", () => showTab(b.dataset.tab));
  }
  initVanishing();
  initTraining();
  const first = initCircuit();
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
