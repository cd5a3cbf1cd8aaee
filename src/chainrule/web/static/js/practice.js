// Practice mode: the gradients are hidden and the learner finds them, one wire at a time, in
// the order the backward pass runs. Questions and hints come with the circuit from the server
// (chainrule.practice), so the page, the lessons and `chainrule circuit --quiz` agree.

import { paintCircuit } from "./graph.js";
import { state, writeHash } from "./state.js";
import { $, fill, fmt, t, typedNumber } from "./util.js";

let data = null;     // the circuit answer being practised on
let index = null;    // its drawn picture
let known = 0;       // questions answered (or revealed) so far
let misses = 0;      // wrong answers to the current question
let hooks = { leave: () => {}, exercise: null };

export function practicing() {
  return state.practice === "1";
}

function questions() {
  return (data && data.practice && data.practice.questions) || [];
}

/** Start over on a freshly drawn circuit (called by the circuit tab after each answer). */
export function practiceOn(answer, svgIndex) {
  data = answer;
  index = svgIndex;
  known = 0;
  misses = 0;
  feedback("", "");
  render();
}

function feedback(text, kind) {
  const box = $("#practice-feedback");
  box.textContent = text;
  box.className = `practice-feedback ${kind}`;
  $("#practice").dataset.result = kind;
  const input = $("#practice-answer");
  input.classList.toggle("right", kind === "right");
  input.classList.toggle("wrong", kind === "wrong");
}

function render() {
  const panel = $("#panel-circuit");
  const on = practicing() && data !== null;
  $("#practice-toggle").checked = practicing();
  panel.classList.toggle("practicing", on);
  $("#practice").hidden = !on;
  if (!on) return;
  const qs = questions();
  const done = known >= qs.length;
  panel.classList.toggle("practice-done", done);
  paintCircuit(index, data, known, done ? 0 : known + 1);
  const box = $("#practice");
  box.dataset.question = String(known);
  box.dataset.done = done ? "1" : "0";
  const input = $("#practice-answer");
  input.disabled = done;
  $("#practice-check").disabled = done;
  $("#practice-prompt").textContent = done
    ? (qs.length ? fill(t("Done: you found all {n} gradients of the backward pass."),
      { n: qs.length })
      : t("This expression has no gates, so there is nothing to backpropagate."))
    : fill(t("Question {k} of {n}: {prompt}"), { k: known + 1, n: qs.length,
      prompt: qs[known].prompt });
  $("#practice-progress").textContent = qs.length
    ? fill(t("{k} of {n} wires done · the highlighted gate sends its gradient back along the "
      + "highlighted wire"), { k: known, n: qs.length }) : "";
}

/** Draw the questions again (after a change of language), keeping the progress. */
export function redrawPractice() {
  render();
}

function close(given, answer) {
  const p = data.practice;
  return Number.isFinite(given)
    && Math.abs(given - answer) <= p.rel_tolerance * Math.abs(answer) + p.abs_tolerance;
}

function check() {
  const qs = questions();
  if (known >= qs.length) return;
  const q = qs[known];
  const input = $("#practice-answer");
  const given = typedNumber(input.value);
  if (given === null) {
    feedback(fill(t("Type a number, for example {a} or {b}."), { a: fmt(-4), b: fmt(0.25) }),
      "invalid");
    return;
  }
  if (close(given, q.answer)) {
    known += 1;
    misses = 0;
    input.value = "";
    feedback(fill(t("Right: {input} receives {answer} along this wire ({upstream} × {local})."),
      { input: q.input_name, answer: fmt(q.answer), upstream: fmt(q.upstream),
        local: fmt(q.local_grad) }), "right");
    render();
    return;
  }
  misses += 1;
  const hint = q.hints[Math.min(misses, q.hints.length) - 1];
  if (misses >= q.hints.length) {  // the last hint is the answer: show it and move on
    known += 1;
    misses = 0;
    input.value = "";
    feedback(fill(t("Not quite. {hint}"), { hint }), "wrong");
    render();
    return;
  }
  feedback(fill(t("Not quite: {hint}"), { hint }), "wrong");
}

/**
 * Wire up the switch and the answer box. `leave()` redraws the ordinary view when practice is
 * switched off; `exercise(seed)` loads a random exercise.
 */
export function initPractice(callbacks) {
  hooks = { ...hooks, ...callbacks };
  $("#practice-toggle").checked = practicing();
  $("#practice-toggle").addEventListener("change", (e) => {
    // "0", not "": a link opened with ?exercise=1 must stay off after a reload.
    state.practice = e.target.checked ? "1" : "0";
    writeHash();
    if (practicing()) {
      known = 0;
      misses = 0;
      feedback("", "");
      render();
    } else {
      render();
      hooks.leave();
    }
  });
  $("#practice-form").addEventListener("submit", (e) => {
    e.preventDefault();
    check();
    // Keep the answer box ready for the next wire (only after an answer: never take the
    // focus from the expression while it is being typed).
    if (!$("#practice-answer").disabled) $("#practice-answer").focus({ preventScroll: true });
  });
  $("#practice-new").addEventListener("click", () => {
    if (hooks.exercise) hooks.exercise(Math.floor(Math.random() * 100000));
  });
}
