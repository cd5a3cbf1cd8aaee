// Every tab's inputs live in the URL's fragment, so a link (or a reload) restores the view.
// Keys: tab; circuit expr, at, step, practice; vanishing depth, width, act, init, ws, pre,
// path;
// training t-depth, t-width, t-act, t-init, t-loss, t-lr, t-epochs, t-examples.

export const DEFAULTS = {
  tab: "circuit", expr: "(x + y) * z", at: "x:-2,y:5,z:-4", step: "", practice: "",
  depth: "5", width: "30", act: "sigmoid", init: "nielsen", ws: "1", pre: "scale", path: "",
  "t-depth": "", "t-width": "", "t-act": "", "t-init": "", "t-loss": "", "t-lr": "",
  "t-epochs": "", "t-examples": "",
};
export const state = { ...DEFAULTS };

/** Defaults known only once the server has answered (the training run's). */
export function setDefaults(values) {
  for (const [k, v] of Object.entries(values)) {
    if (state[k] === DEFAULTS[k]) state[k] = String(v);
    DEFAULTS[k] = String(v);
  }
}

export function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  // ?exercise=1 opens the circuit in practice mode (a link a teacher can hand out).
  const query = new URLSearchParams(location.search);
  for (const key of Object.keys(DEFAULTS)) {
    state[key] = params.has(key) ? params.get(key) : DEFAULTS[key];
  }
  if (query.get("exercise") === "1" && !params.has("practice")) state.practice = "1";
}

export function writeHash() {
  const params = new URLSearchParams();
  for (const key of Object.keys(DEFAULTS)) {
    if (state[key] !== "" || DEFAULTS[key] !== "") params.set(key, state[key]);
  }
  const hash = "#" + params.toString();
  if (hash !== location.hash) history.replaceState(null, "", hash);
}

/** "x:-2,y:5" → {x: "-2", y: "5"}. */
export function parseAt(text) {
  const at = {};
  for (const part of (text || "").split(",")) {
    const i = part.indexOf(":");
    if (i > 0) at[part.slice(0, i)] = part.slice(i + 1);
  }
  return at;
}
