// chainrule explorer: the page's entry point. Plain ES modules, no libraries, no build step,
// no network but this server. In an offline lesson (chainrule export) the same code runs from
// one inline script and the answers come from the file itself.

import { initCircuit, redrawCircuit } from "./circuit.js";
import { readHash, setDefaults, state, writeHash } from "./state.js";
import { initTraining, pollTraining, redrawTraining } from "./training.js";
import { $, api, el, fill, LESSON, META, ready, t } from "./util.js";
import { initVanishing, refreshVanishing } from "./vanishing.js";

const PANELS = ["circuit", "vanishing", "training"];
/** The inputs a lesson fixes; the rest of the URL (step, practice) stays the reader's. */
const LESSON_KEYS = ["expr", "at", "depth", "width", "act", "init", "ws", "pre"];

function showTab(name) {
  if (!PANELS.includes(name)) name = "circuit";
  if (LESSON) name = LESSON.kind === "circuit" ? "circuit" : "vanishing";
  state.tab = name;
  for (const p of PANELS) {
    $(`#panel-${p}`).hidden = p !== name;
    $(`#tab-${p}`).setAttribute("aria-selected", String(p === name));
  }
  writeHash();
  if (name === "vanishing") refreshVanishing();
  if (name === "training") pollTraining();
}

/** An offline lesson shows one tab, with its inputs fixed, and says what it is. */
function startLesson() {
  for (const key of LESSON_KEYS) {
    if (LESSON.state[key] !== undefined) state[key] = String(LESSON.state[key]);
  }
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (LESSON.state.practice && !hash.has("practice")) state.practice = LESSON.state.practice;
  document.body.classList.add("lesson");
  document.body.dataset.lesson = LESSON.kind;
  const tab = LESSON.kind === "circuit" ? "circuit" : "vanishing";
  for (const p of PANELS) $(`#tab-${p}`).hidden = p !== tab;
  const what = LESSON.kind === "circuit"
    ? t("Step through the backward pass, or switch on Practice to find the gradients yourself.")
    : t("The charts and the diagnosis are the ones the explorer drew for these settings.");
  $("main").prepend(el("div", { class: "lesson-banner", id: "lesson-banner" },
    el("strong", { text: LESSON.title }), " ",
    fill(t("— an offline lesson made with chainrule {version}; its inputs are fixed."),
      { version: META.version }), ` ${what} `, t("To change them, run chainrule serve.")));
}

function fixInputs() {
  for (const node of document.querySelectorAll(
    "#circuit-form input, #vanishing-form input, #vanishing-form select")) {
    if (node.tagName === "SELECT" || node.type === "range") node.disabled = true;
    else node.readOnly = true;
  }
}

/** Everything drawn from the server's answers, again in the language just chosen. */
async function relanguage() {
  if (document.body.dataset.ready !== "1") return;
  try {
    // The examples' descriptions and every sentence of an answer are the server's words.
    Object.assign(META, await api("/api/meta"));
  } catch (err) {
    return;
  }
  redrawTraining();
  const jobs = [redrawCircuit()];
  if (state.tab === "vanishing") jobs.push(refreshVanishing());
  await Promise.allSettled(jobs);
  document.body.dataset.lang = document.documentElement.lang;
}

async function main() {
  readHash();
  await ready;  // draw once, in the reader's language
  try {
    Object.assign(META, await api("/api/meta"));
  } catch (err) {
    document.body.prepend(el("div", { class: "error",
      text: fill(t("cannot reach the server: {problem}"), { problem: err.message }) }));
    return;
  }
  const t = META.training || {};
  setDefaults({ "t-depth": t.depth, "t-width": t.width, "t-act": t.activation,
    "t-init": t.init, "t-loss": t.loss, "t-lr": t.lr, "t-epochs": t.epochs,
    "t-examples": t.examples });
  readHash();
  if (LESSON) startLesson();
  $("#version").textContent = `v${META.version}`;
  for (const b of document.querySelectorAll(".tabs button")) {
    b.addEventListener("click", () => showTab(b.dataset.tab));
  }
  initVanishing();
  if (!LESSON) initTraining();
  const first = initCircuit();
  showTab(state.tab);
  await first;
  if (LESSON) fixInputs();
  document.body.dataset.ready = "1";
  document.body.dataset.lang = document.documentElement.lang;
  document.addEventListener("chainrule:language", relanguage);
}

window.addEventListener("hashchange", () => {
  const before = state.tab;
  readHash();
  if (state.tab !== before) showTab(state.tab);
});

main();
