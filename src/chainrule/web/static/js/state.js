// Every tab's inputs live in the URL's fragment, so a link (or a reload) restores the view.

export const DEFAULTS = {
  tab: "circuit", expr: "(x + y) * z", at: "x:-2,y:5,z:-4", step: "",
  depth: "5", width: "30", act: "sigmoid", init: "nielsen", ws: "1", pre: "scale",
};
export const state = { ...DEFAULTS };

export function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  for (const key of Object.keys(DEFAULTS)) {
    state[key] = params.has(key) ? params.get(key) : DEFAULTS[key];
  }
}

export function writeHash() {
  const params = new URLSearchParams();
  for (const key of Object.keys(DEFAULTS)) params.set(key, state[key]);
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
