// Small helpers every part of the explorer uses: words, numbers, elements, the JSON API.

import { formatNumber, parseNumber, ready, t } from "../i18n.js";

// Every sentence for people goes through t() with a literal English text (the catalog's key,
// found by `scripts/catalog.py extract`); values go in through {name} placeholders, so a
// translation may put them in another order.
export { formatNumber, parseNumber, ready, t };

/** `template` with each {name} replaced by `values[name]`. */
export function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}

/** Like fill(), as a list of texts and elements to append (a value may be an element). */
export function fillNodes(template, values) {
  const out = [];
  let last = 0;
  template.replace(/\{(\w+)\}/g, (m, name, at) => {
    out.push(template.slice(last, at));
    out.push(name in values ? (values[name] instanceof Node ? values[name] : String(values[name]))
      : m);
    last = at + m.length;
    return m;
  });
  out.push(template.slice(last));
  return out.filter((part) => part !== "");
}

export const $ = (sel) => document.querySelector(sel);
export const SVGNS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#cf222e", "#bc4c00", "#9a6700", "#1a7f37", "#0969da", "#8250df",
  "#bf3989", "#57606a"];

/** What the server says about itself (GET /api/meta), filled in once at start. */
export const META = {};

/**
 * A number in at most four significant digits, like Python's "%.4g" (and the CLI), with the
 * page language's decimal symbol (-0,25 in pt-BR).
 */
export function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "?";
  if (x === 0) return "0";
  const plain = { useGrouping: false, maximumFractionDigits: 20 };
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 4) {
    let [mant, e] = x.toExponential(3).split("e");
    mant = mant.replace(/\.?0+$/, "");
    const sign = e[0] === "-" ? "-" : "+";
    const digits = e.replace(/^[+-]/, "").padStart(2, "0");
    return `${formatNumber(Number(mant), plain)}e${sign}${digits}`;
  }
  return formatNumber(Number(x.toPrecision(4)), plain);
}

/** `x` with `digits` decimals, in the page language (toFixed with a decimal comma in pt-BR). */
export function fixed(x, digits) {
  return formatNumber(x, { useGrouping: false, minimumFractionDigits: digits,
    maximumFractionDigits: digits });
}

/** Text a person typed as one finite number (`1,5` in pt-BR), or null. */
export function typedNumber(text) {
  const x = parseNumber(String(text).trim().replace("−", "-"));
  return Number.isFinite(x) ? x : null;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

export function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export class ApiError extends Error {
  constructor(status, data) {
    super((data && data.error) || fill(t("the server answered HTTP {status}"), { status }));
    this.status = status;
    this.data = data || {};
  }
}

/** An offline lesson's embedded answers (`chainrule export`), or null on the live page. */
export const LESSON = readLesson();

function readLesson() {
  const node = document.getElementById("lesson-data");
  if (!node) return null;
  return JSON.parse(node.textContent);
}

/** Whether `path` can be answered: always by the server, in a lesson when it was embedded. */
export function answerable(path) {
  return !LESSON || Object.prototype.hasOwnProperty.call(LESSON.answers, path);
}

export async function api(path, body) {
  if (LESSON) {
    // A lesson has no server: its inputs are fixed, so each endpoint has its one answer.
    const key = path.split("?")[0];
    if (!answerable(key)) {
      throw new ApiError(404, { error: fill(t("this offline lesson has no answer for {path}"),
        { path: key }),
        kind: "offline" });
    }
    return JSON.parse(JSON.stringify(LESSON.answers[key]));
  }
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

export function showError(box, err) {
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = err.message || String(err);
}

/** A <select>'s options, keeping `value` chosen when it is one of them. */
export function fillSelect(select, options, value) {
  select.textContent = "";
  for (const o of options) select.append(el("option", { value: o, text: o }));
  if (options.includes(value)) select.value = value;
}

/**
 * Mark results that no longer match their inputs: dimmed, with a note saying why. `box` holds
 * the results; its `data-stale` is "1" while they are out of date.
 */
export function markStale(box, stale, note) {
  box.classList.toggle("stale", stale);
  box.dataset.stale = stale ? "1" : "0";
  let tag = box.querySelector(":scope > .stale-note");
  if (!tag) {
    tag = el("p", { class: "stale-note", role: "status" });
    box.prepend(tag);
  }
  tag.textContent = stale ? note : "";
  tag.hidden = !stale;
}
