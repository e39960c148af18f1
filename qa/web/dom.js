// DOM helpers. Its job: find the page's fixed elements once (the `ui` table),
// build new elements with h() (strings become text nodes), and place text with
// highlights at the service's code-point offsets. The bottom of the import
// graph: it imports nothing.
//
// Safety rule: text that comes from the service (questions, answers, titles,
// document text, metadata, error messages) is only ever put into the page with
// textContent or text nodes, never parsed as HTML.

const $ = (id) => document.getElementById(id);
export const ui = {
  conversation: $("conversation"),
  welcome: $("welcome"),
  form: $("ask-form"),
  question: $("question"),
  send: $("send-button"),
  k: $("k-select"),
  count: $("question-count"),
  status: $("service-status"),
  statusText: $("service-status-text"),
  browse: $("browse-button"),
  panel: $("doc-panel"),
  docKicker: $("doc-kicker"),
  docTitle: $("doc-title"),
  docMeta: $("doc-meta"),
  docLegend: $("doc-legend"),
  legendAnswer: $("legend-answer"),
  docBody: $("doc-body"),
  docTools: $("doc-tools"),
  copyLink: $("copy-link"),
  closePanel: $("close-panel"),
  add: $("add-button"),
  addDialog: $("add-dialog"),
  addForm: $("add-form"),
  keyRow: $("key-row"),
  keyInput: $("api-key"),
  keySaved: $("key-saved"),
  forgetKey: $("forget-key"),
  dropZone: $("drop-zone"),
  fileInput: $("file-input"),
  chooseFile: $("choose-file"),
  fileName: $("file-name"),
  addStatus: $("add-status"),
  addSubmit: $("add-submit"),
  addClose: $("add-close"),
};

// ---------------------------------------------------------------- DOM helpers

/** Creates an element. Strings among the children become text nodes, never HTML. */
export function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -------------------------------------------------------------------- offsets

/**
 * The service counts offsets in Unicode code points (Python string indices);
 * JavaScript strings count UTF-16 code units. Returns a Map from each given
 * code-point offset to the matching code-unit index (clamped to the text).
 */
export function codePointsToUnits(text, offsets) {
  const wanted = [...new Set(offsets.filter(Number.isFinite))].sort((a, b) => a - b);
  const result = new Map();
  let unit = 0;
  let point = 0;
  for (const target of wanted) {
    while (point < target && unit < text.length) {
      const code = text.charCodeAt(unit);
      const isPair =
        code >= 0xd800 && code <= 0xdbff && unit + 1 < text.length &&
        (text.charCodeAt(unit + 1) & 0xfc00) === 0xdc00;
      unit += isPair ? 2 : 1;
      point += 1;
    }
    result.set(target, unit);
  }
  return result;
}

/** Converts [start, end) in code points to code units; null when empty or invalid. */
export function unitRange(text, range, map) {
  if (!range) return null;
  const start = map.get(range[0]);
  const end = map.get(range[1]);
  if (start === undefined || end === undefined || end <= start) return null;
  return [start, end];
}

/**
 * Appends `text` to `container`, marking an outer range (the cited passage)
 * and an inner range (the answer sentence) given in code points. The outer
 * range becomes one <mark> with the inner one nested inside where they overlap,
 * so the outer mark's textContent is exactly the cited slice of the text.
 * Returns the first outer mark (or inner, when there is no outer one).
 */
export function appendHighlighted(container, text, outer, inner, outerClass, innerClass) {
  const map = codePointsToUnits(text, [outer, inner].filter(Boolean).flat());
  const o = unitRange(text, outer, map);
  const i = unitRange(text, inner, map);
  const cuts = new Set([0, text.length]);
  for (const r of [o, i]) if (r) r.forEach((x) => cuts.add(x));
  const points = [...cuts].sort((a, b) => a - b);

  let first = null;
  let group = null; // the open outer mark
  for (let n = 0; n + 1 < points.length; n++) {
    const start = points[n];
    const end = points[n + 1];
    if (end <= start) continue;
    const piece = text.slice(start, end);
    const inOuter = o && o[0] <= start && end <= o[1];
    const inInner = i && i[0] <= start && end <= i[1];
    if (inOuter && !group) {
      group = h("mark", { className: outerClass });
      container.append(group);
      first = first || group;
    } else if (!inOuter) {
      group = null;
    }
    const target = group || container;
    if (inInner) {
      const mark = h("mark", { className: innerClass }, piece);
      target.append(mark);
      first = first || mark;
    } else {
      target.append(document.createTextNode(piece));
    }
  }
  return first;
}
