// The circuit tab: an expression, its inputs, the picture, the step-through of the backward
// pass, and the gradients checked against central differences.

import { drawCircuit, paintCircuit, SYMBOLS } from "./graph.js";
import { initPractice, practiceOn, practicing, redrawPractice } from "./practice.js";
import { parseAt, state, writeHash } from "./state.js";
import { $, api, debounce, el, fill, fillNodes, fmt, formatNumber, markStale, META, t,
  typedNumber } from "./util.js";

let data = null;          // the last /api/circuit answer
let seq = 0;              // requests answered out of order are dropped
let values = {};          // variable -> text in its input
let svgIndex = null;      // elements of the drawn circuit
let step = 0;
let replaying = false;    // false: the finished pass as loaded, nothing highlighted
let shownKey = "";        // the inputs the results on screen were computed from
let parsedText = null;    // the expression whose variables the inputs below belong to

const exprInput = () => $("#expr");

function setVars(names) {
  const box = $("#vars");
  const old = values;
  values = {};
  box.textContent = "";
  for (const name of names) {
    values[name] = old[name] !== undefined ? old[name] : "1";
    const input = el("input", {
      id: `var-${name}`, "data-var": name, inputmode: "decimal", spellcheck: "false",
      "aria-label": fill(t("value of {name}"), { name }),
    });
    input.value = values[name];
    input.addEventListener("input", () => {
      values[name] = input.value.trim();
      input.classList.toggle("invalid", !isNumber(values[name]));
      checkStale();
      scheduleRun();
    });
    box.append(el("label", {}, `${name} =`, input));
  }
}

/** The inputs as typed: results computed from other inputs are out of date. */
function inputsKey() {
  const at = Object.entries(values).map(([k, v]) => `${k}:${v.trim()}`).join(",");
  return `${exprInput().value.trim()}|${at}`;
}

function checkStale() {
  markStale($("#circuit-results"), data !== null && inputsKey() !== shownKey,
    t("Out of date: the results below are for the previous inputs. They update as soon as "
      + "the expression and every value are valid."));
}

/** A value as typed in the page's language ("1,5" in pt-BR). */
function isNumber(text) {
  return typedNumber(text) !== null;
}

function exprError(err) {
  const box = $("#expr-error");
  if (!err) {
    box.hidden = true;
    exprInput().classList.remove("invalid");
    return;
  }
  box.hidden = false;
  const d = err.data || {};
  $("#expr-caret").textContent = d.caret || "";
  $("#expr-caret").hidden = !d.caret;
  $("#expr-message").textContent = err.message;
  exprInput().classList.toggle("invalid", d.kind === "parse" || d.kind === "limit");
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
  practiceOn(null, null);
  checkStale();
}

function busy(on) {
  $("#panel-circuit").dataset.ready = on ? "0" : "1";
}

async function parseAndRun(keepStep) {
  const text = exprInput().value;
  const mine = ++seq;
  busy(true);
  state.expr = text;
  writeHash();
  try {
    const parsed = await api("/api/parse", { expression: text });
    if (mine !== seq) return;
    exprError(null);
    parsedText = text;
    setVars(parsed.variables);
    await run(keepStep);
  } catch (err) {
    if (mine !== seq) return;
    parsedText = null;
    exprError(err);
    $("#about").textContent = "";
    clearDrawing(t("fix the expression to see its circuit"));
    busy(false);
  }
}

async function run(keepStep) {
  // A value typed while a new expression is still being read belongs to the old variables:
  // read the expression first (it keeps the values typed for names it still has).
  if (exprInput().value !== parsedText) return parseAndRun(keepStep);
  const at = {};
  for (const [name, text] of Object.entries(values)) {
    if (!isNumber(text)) {  // the input is marked; wait for a number
      busy(false);
      return;
    }
    at[name] = typedNumber(text);
  }
  const mine = ++seq;
  const key = inputsKey();
  busy(true);
  // The address keeps plain numbers: a decimal comma would split the list.
  state.at = Object.entries(at).map(([k, v]) => `${k}:${v}`).join(",");
  writeHash();
  try {
    const answer = await api("/api/circuit", { expression: exprInput().value, at });
    if (mine !== seq) return;
    exprError(null);
    shownKey = key;
    show(answer, keepStep);
  } catch (err) {
    if (mine !== seq) return;
    exprError(err);
    clearDrawing(err.data && err.data.kind === "evaluation"
      ? t("this expression cannot be evaluated at these values") : err.message);
    busy(false);
  }
}

const scheduleRun = debounce(() => run(), 200);
const scheduleParse = debounce(() => parseAndRun(), 250);

function show(answer, keepStep) {
  data = answer;
  $("#output").textContent = fmt(answer.output);
  $("#about").textContent = answer.about || aboutFor(answer.expression);
  svgIndex = drawCircuit($("#circuit-svg"), answer);
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
  practiceOn(answer, svgIndex);
  checkStale();
  busy(false);
}

function aboutFor(expression) {
  if (!META.examples) return "";
  for (const ex of Object.values(META.examples)) {
    if (ex.expression.replace(/\s+/g, "") === expression.replace(/\s+/g, "")) return ex.about;
  }
  return "";
}

let playing = null;  // the timer of the animated backward pass

/** Play the backward pass wire by wire (from the start when it is over); again to pause. */
function togglePlay() {
  if (playing) { stopPlaying(); return; }
  if (!data || !data.steps.length) return;
  if (step >= data.steps.length) setStep(0);
  $("#step-play").textContent = t("❚❚ Pause");
  $("#step-play").setAttribute("aria-pressed", "true");
  playing = setInterval(() => {
    if (!data || step >= data.steps.length) { stopPlaying(); return; }
    setStep(step + 1, false, true);
  }, 1100);
}

function stopPlaying() {
  clearInterval(playing);
  playing = null;
  $("#step-play").textContent = t("▶ Play");
  $("#step-play").setAttribute("aria-pressed", "false");
}

function setStep(k, quiet, fromPlay) {
  if (!data) return;
  if (playing && !fromPlay) stopPlaying();
  replaying = !quiet;
  const n = data.steps.length;
  step = Math.max(0, Math.min(n, k));
  $("#step-slider").value = String(step);
  $("#step-count").textContent = `${step} / ${n}`;
  state.step = step === n ? "" : String(step);
  writeHash();
  paintCircuit(svgIndex, data, step, replaying ? step : 0);
  stepText();
}

function stepText() {
  const box = $("#step-text");
  box.textContent = "";
  const steps = data.steps;
  const n = steps.length;
  if (n === 0) {
    box.append(t("This expression has no gates to backpropagate through."));
    return;
  }
  if (!replaying && step === n) {
    box.append(fill(n === 1 ? t("The backward pass took 1 step, one per wire.")
      : t("The backward pass took {n} steps, one per wire."), { n }), " ",
    t("Press Step (or drag the slider) to replay it."));
    return;
  }
  if (step === 0) {
    box.append(t("Before the backward pass only the output's gradient is known: ∂f/∂f = 1."),
      " ", t("Press Step to send it back one wire at a time."));
    return;
  }
  const s = steps[step - 1];
  const gate = data.names[s.gate];
  const symbol = SYMBOLS[s.op] || s.op;
  const fan = (svgIndex && svgIndex.outDegree[s.input]) || countOut(s.input);
  const input = s.input_name;
  box.append(...fillNodes(t("Step {step} of {n}: the {symbol} gate ({gate}) takes the upstream "
    + "gradient {upstream}, multiplies it by its local gradient ∂{gate}/∂{input} = {local} and "
    + "sends {contribution} back to {input}:"), {
    step, n, gate, input, symbol: el("span", { class: "op", text: symbol }),
    upstream: fmt(s.upstream), local: fmt(s.local_grad), contribution: fmt(s.contribution),
  }), " ");
  box.append(el("span", { class: "plus-eq", text: `${input}.grad += ${fmt(s.contribution)}` }));
  box.append(" ", fan > 1
    ? fill(t("— {input} feeds {fan} wires, so their gradients add up (now {total})."),
      { input, fan, total: fmt(s.total) })
    : fill(t("(now {total})."), { total: fmt(s.total) }));
  box.append(el("span", { class: "formula", id: "step-formula", text: formulaText(s, gate, input) }));
  // The gate's rule, in the words of the notes (the server's, in the page's language).
  const rule = (data.gates || []).find((g) => g.id === s.gate);
  if (rule && rule.rule) {
    box.append(el("span", { class: "step-rule", id: "step-rule",
      text: fill(t("{symbol} gate: {rule}"), { symbol, rule: rule.rule }) }));
  }
  if (step === n) box.append(" ", t("That was the last step: every wire carries its gradient."));
}

/** The local gradient's formula from the op catalogue with this gate's numbers, then the
 * chain rule's product: "∂(a·b)/∂a = b = -4 · ∂f/∂#2 += 1 × (-4) = -4". */
function formulaText(s, gate, input) {
  const local = fmt(s.local_grad);
  let text = s.formula || `∂${gate}/∂${input}`;
  if (!text.endsWith(` = ${local}`)) text += ` = ${local}`;
  const factor = (x) => (fmt(x).startsWith("-") ? `(${fmt(x)})` : fmt(x));
  return fill(t("local: {formula} · chain rule: ∂f/∂{input} += {upstream} × {local} = {result}"),
    { formula: text, input, upstream: fmt(s.upstream), local: factor(s.local_grad),
      result: fmt(s.contribution) });
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
    // The verdict word is an identifier (and a CSS class); people read it translated.
    const word = verdict.split(":")[0];
    const shown = verdict ? [t(word), ...verdict.split(":").slice(1)].join(":") : "";
    body.append(el("tr", {},
      el("td", { class: "num", text: name }),
      el("td", { class: "num value", id: `value-${name}`, text: fmt(answer.at[name]) }),
      el("td", { class: "num grad", id: `grad-${name}`, text: fmt(answer.gradients[name]) }),
      el("td", { class: "num", text: fmt(c.numerical) }),
      el("td", { class: "num", text: c.rel_error == null ? "—"
        : fmt(Number(c.rel_error.toExponential(1))) }),
      el("td", { class: `verdict-${word}`, "data-verdict": word, text: shown })));
  }
}

function fanoutText(answer) {
  const parts = answer.fanout.map((f) => {
    const sum = f.wires.map((w) => fmt(w.contribution)).join(" + ");
    return fill(t("{name} feeds {count} wires; their gradients add up: {sum} = {total}."),
      { name: f.name, count: f.wires.length, sum, total: fmt(f.sum) });
  });
  $("#fanout-text").textContent = parts.length
    ? fill(t("Fan-out: {parts}"), { parts: parts.join(" ") }) : "";
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
  exprInput().value = expression;
  values = {};
  for (const [k, v] of Object.entries(at)) values[k] = String(v);
  return parseAndRun(keepStep);
}

/** Ask again in the language just chosen (gate rules, descriptions) and redraw at this step. */
export function redrawCircuit() {
  relocalizeInputs();
  renderPlayButton();
  checkStale();
  if (!data || parsedText === null) return Promise.resolve();
  if (practicing()) {
    // Asking again would start the exercise over: keep the learner's progress.
    redrawPractice();
    stepText();
    gradTable(data);
    fanoutText(data);
    return Promise.resolve();
  }
  return run(replaying || step < data.steps.length ? String(step) : undefined);
}

/** The values typed, rewritten in the page's new language ("-0,5" ↔ "-0.5"), when they are
 * the ones the results on screen were computed from. */
function relocalizeInputs() {
  if (!data || inputsKey() !== shownKey) return;
  for (const name of Object.keys(values)) {
    if (data.at[name] === undefined) continue;
    values[name] = formatNumber(data.at[name], { useGrouping: false, maximumFractionDigits: 20 });
    const input = document.getElementById(`var-${name}`);
    if (input) input.value = values[name];
  }
  shownKey = inputsKey();
}

function renderPlayButton() {
  $("#step-play").textContent = playing ? t("❚❚ Pause") : t("▶ Play");
}

export function initCircuit() {
  exprInput().addEventListener("input", () => { checkStale(); scheduleParse(); });
  $("#circuit-form").addEventListener("submit", (e) => { e.preventDefault(); parseAndRun(); });
  $("#step-next").addEventListener("click", () => {
    if (!data) return;
    setStep(step >= data.steps.length ? 1 : step + 1);
  });
  $("#step-back").addEventListener("click", () => setStep(step - 1));
  $("#step-reset").addEventListener("click", () => setStep(0));
  $("#step-all").addEventListener("click", () => data && setStep(data.steps.length, true));
  $("#step-play").addEventListener("click", togglePlay);
  $("#step-slider").addEventListener("input", (e) => setStep(Number(e.target.value)));
  document.addEventListener("keydown", (e) => {
    if (state.tab !== "circuit" || practicing()
        || e.target.closest("input, select, textarea")) return;
    if (e.key === "ArrowRight") $("#step-next").click();
    if (e.key === "ArrowLeft") $("#step-back").click();
  });
  initPractice({
    leave: () => data && setStep(data.steps.length, true),
    exercise: async (seed) => {
      try {
        const answer = await api("/api/circuit", { exercise: seed });
        await load(answer.expression, answer.at);
      } catch (err) {
        exprError(err);
      }
    },
  });
  examples();
  return load(state.expr, parseAt(state.at), state.step);
}
