// The explorer's words in the reader's language, from the same gettext catalogs as the command
// line (GET /api/i18n). English is the page's source text: every text node and readable
// attribute whose text is a catalog entry is shown translated, including what the page draws
// later (a MutationObserver). A language switch in the header is remembered in localStorage and
// in the chainrule_lang cookie, so the server answers in the same language.
//
// Language, first found: ?lang= in the address, the remembered choice, then the server's pick
// from the browser's Accept-Language header. An offline lesson (chainrule export) carries its
// language's words inline (<script id="lesson-i18n">) and fetches nothing.

const STORE = "chainrule.lang";
const COOKIE = "chainrule_lang";
const ATTRIBUTES = ["title", "placeholder", "aria-label"];

let messages = {};
const originals = new WeakMap(); // node -> its English text, so switching back restores it

const squash = (text) => text.replace(/\s+/g, " ").trim();

/** ``message`` in the page's language (the English text when the catalog lacks it). */
export function t(message, n) {
  const found = messages[message];
  if (Array.isArray(found)) {
    // pt-BR: one form for 0 and 1, another for more (the catalog's plural rule).
    return found[n === undefined || n <= 1 ? 0 : 1] || message;
  }
  return found || message;
}

/** A number for people: decimal comma in pt-BR. */
export function formatNumber(x, options) {
  return new Intl.NumberFormat(document.documentElement.lang || "en", options).format(x);
}

/** A number typed by a person: "1,5" is 1.5 in pt-BR; NaN when it is not one number. */
export function parseNumber(text) {
  let s = String(text).trim();
  if ((document.documentElement.lang || "en").startsWith("pt")) {
    if (/^[+-]?[1-9]\d{0,2}(\.\d{3})+$/.test(s)) return NaN; // 1.000: one or a thousand?
    if (/^[+-]?\d*,\d+([eE][+-]?\d+)?$/.test(s)) s = s.replace(",", ".");
  }
  // Only plain decimal numbers: Number() would also take "0x10", "Infinity" and "".
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : NaN;
}

let started;
/** Resolves once the page's first language is in place (also when the catalog is missing). */
export const ready = new Promise((resolve) => { started = resolve; });

/** The words an offline lesson carries, or null on the live page. */
function inlineWords() {
  const node = document.getElementById("lesson-i18n");
  return node ? JSON.parse(node.textContent) : null;
}

function translateText(node) {
  let english = originals.get(node);
  if (english === undefined) {
    english = node.nodeValue;
    originals.set(node, english);
  }
  const key = squash(english);
  if (!key) return;
  const shown = messages[key] ? t(key) : null;
  const lead = english.match(/^\s*/)[0];
  const tail = english.match(/\s*$/)[0];
  const next = shown ? lead + shown + tail : english;
  if (node.nodeValue !== next) node.nodeValue = next;
}

function translateAttributes(element) {
  for (const name of ATTRIBUTES) {
    const keyName = `data-i18n-${name}`;
    if (!element.hasAttribute(name) && !element.hasAttribute(keyName)) continue;
    if (!element.hasAttribute(keyName)) element.setAttribute(keyName, element.getAttribute(name));
    const english = element.getAttribute(keyName);
    const next = t(squash(english));
    if (element.getAttribute(name) !== next) element.setAttribute(name, next);
  }
}

function translateTree(root) {
  if (root.nodeType === Node.TEXT_NODE) {
    translateText(root);
    return;
  }
  if (root.nodeType !== Node.ELEMENT_NODE) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  for (let node = walker.currentNode; node; node = walker.nextNode()) {
    if (node.nodeType === Node.TEXT_NODE) {
      const parent = node.parentElement;
      if (parent && !["SCRIPT", "STYLE"].includes(parent.tagName)) translateText(node);
    } else {
      translateAttributes(node);
    }
  }
}

let applying = false;
const observer = new MutationObserver((records) => {
  if (applying) return;
  applying = true;
  try {
    for (const record of records) {
      if (record.type === "characterData") {
        originals.delete(record.target); // the page wrote new English: look it up afresh
        translateText(record.target);
      } else {
        record.addedNodes.forEach(translateTree);
      }
    }
  } finally {
    applying = false;
  }
});

async function load(tag) {
  const inline = inlineWords();
  if (inline) return inline;
  const query = tag ? `?lang=${encodeURIComponent(tag)}` : "";
  const response = await fetch(`/api/i18n${query}`, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`GET /api/i18n: ${response.status}`);
  return response.json();
}

function remember(tag) {
  try {
    localStorage.setItem(STORE, tag);
  } catch {
    // storage may be disabled; the cookie still carries the choice
  }
  document.cookie = `${COOKIE}=${encodeURIComponent(tag)}; path=/; max-age=31536000; SameSite=Strict`;
}

/** Show the page in ``tag`` ("en", "pt-BR"); returns the language the server chose. */
export async function setLanguage(tag, { save = true } = {}) {
  const data = await load(tag);
  messages = data.messages || {};
  document.documentElement.lang = data.tag;
  if (save) remember(data.tag);
  applying = true;
  try {
    translateTree(document.documentElement);
  } finally {
    applying = false;
  }
  const select = document.getElementById("lang-switch");
  if (select) select.value = data.tag;
  document.dispatchEvent(new CustomEvent("chainrule:language", { detail: data.tag }));
  return data;
}

function addSwitch(languages, current) {
  if (document.getElementById("lang-switch")) return;
  const header = document.querySelector("header") || document.body;
  const select = document.createElement("select");
  select.id = "lang-switch";
  select.setAttribute("aria-label", "Idioma / Language");
  for (const [tag, name] of Object.entries(languages)) {
    const option = document.createElement("option");
    option.value = tag;
    option.textContent = name;
    select.append(option);
  }
  select.value = current;
  select.addEventListener("change", () => setLanguage(select.value));
  header.append(select);
}

async function start() {
  try {
    await begin();
  } finally {
    started();
  }
}

async function begin() {
  if (inlineWords()) {
    // A lesson is written in one language: show it, offer no switch, remember nothing.
    await setLanguage("", { save: false });
  } else {
    const fromAddress = new URLSearchParams(location.search).get("lang");
    let stored = null;
    try {
      stored = localStorage.getItem(STORE);
    } catch {
      stored = null;
    }
    const data = await setLanguage(fromAddress || stored || "", { save: Boolean(fromAddress) });
    addSwitch(data.languages, data.tag);
  }
  observer.observe(document.body, { subtree: true, childList: true, characterData: true });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
