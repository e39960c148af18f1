// Citation addresses. Its job: turn a citation into the page's shareable
// location hash (#doc=..&start=..&end=..&as=..&ae=..&guess=1&view=..) and back,
// and name a document's URL on the service (under the chosen collection, and
// the hash names it: &c=<name>). Pure string work: it touches no element.

import { scope, scopedPath } from "./scope.js";

export const VIEW_PAGE = "page";
export const VIEW_TEXT = "text";

/**
 * The shareable fragment for a citation: #doc=<id>&start=..&end=..&as=..&ae=..,
 * and &guess=1 when the sentence is a withheld best guess rather than an answer.
 */
export function citationHash(docId, passage, answer, guess = false) {
  const params = new URLSearchParams();
  params.set("doc", docId);
  if (scope.collection) params.set("c", scope.collection);
  if (passage) {
    params.set("start", String(passage[0]));
    params.set("end", String(passage[1]));
  }
  if (answer) {
    params.set("as", String(answer[0]));
    params.set("ae", String(answer[1]));
    if (guess) params.set("guess", "1");
  }
  return "#" + params.toString();
}

function readOffsetPair(params, startKey, endKey) {
  const parse = (value) => (value !== null && /^\d+$/.test(value) ? Number(value) : null);
  const start = parse(params.get(startKey));
  const end = parse(params.get(endKey));
  return start !== null && end !== null && end > start ? [start, end] : null;
}

export function parseHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const docId = params.get("doc");
  if (!docId) return null;
  const view = params.get("view");
  return {
    docId,
    passage: readOffsetPair(params, "start", "end"),
    answer: readOffsetPair(params, "as", "ae"),
    guess: params.get("guess") === "1",
    view: view === VIEW_TEXT || view === VIEW_PAGE ? view : null,
  };
}

/** The same location hash with the document view set (null: the default view). */
export function hashWithView(hash, view) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  if (view) params.set("view", view);
  else params.delete("view");
  return "#" + params.toString();
}

export function documentUrl(docId) {
  return scopedPath("/documents/" + docId.split("/").map(encodeURIComponent).join("/"));
}
