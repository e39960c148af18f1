// The collection picker. Its job: on a server with collections, list the ones
// this tab's key may read (GET /collections), let the reader choose one and
// give a key for protected ones (kept in this tab's session storage, like the
// upload key: it is the same key), and keep the page in the chosen collection:
// a citation link names its collection, and following one switches to it. Page
// images and original files of a collection go through fetch with the key,
// since an <img> or a download link cannot send one. On a server without
// collections the picker stays hidden and nothing changes.
//
// Safety rule: text that comes from the service is only ever put into the page
// with textContent or text nodes, never parsed as HTML.

import { h } from "./dom.js";
import { documentCache } from "./state.js";
import { api, storedKey, storeKey, setServiceState } from "./api.js";
import { scope, isCollectionPath } from "./scope.js";

const CHOSEN_STORAGE = "qa.collection";
const $ = (id) => document.getElementById(id);
const picker = {
  root: $("collections"),
  select: $("collection-select"),
  form: $("collection-key-form"),
  key: $("collection-key"),
  forget: $("collection-forget"),
  note: $("collection-note"),
};
let listed = [];

function hashCollection(hash = location.hash) {
  return new URLSearchParams(hash.replace(/^#/, "")).get("c");
}

/** Switches to the collection a citation's hash names (before the panel loads it). */
function follow(hash) {
  const name = hashCollection(hash);
  if (name && name !== scope.collection && listed.some((c) => c.name === name)) choose(name);
}

function remembered() {
  try {
    return window.sessionStorage.getItem(CHOSEN_STORAGE);
  } catch {
    return null;
  }
}

function choose(name, { closePanel = false } = {}) {
  if (scope.collection === name) return;
  const panel = $("doc-panel");
  // What the panel shows belongs to the collection left behind.
  if (closePanel && scope.collection && panel && !panel.hidden) $("close-panel").click();
  scope.collection = name;
  documentCache.clear(); // ids are per collection: another one's document is not this one's
  try {
    window.sessionStorage.setItem(CHOSEN_STORAGE, name);
  } catch {
    // Storage is off: the choice lasts as long as this page.
  }
  if (picker.select.value !== name) picker.select.value = name;
  showCounts();
  document.dispatchEvent(new CustomEvent("qa:collection", { detail: { name } }));
}

function showCounts() {
  const entry = listed.find((c) => c.name === scope.collection);
  if (!entry) return;
  const n = Number(entry.documents);
  setServiceState("ok", Number.isFinite(n) ? `${n} document${n === 1 ? "" : "s"}` : "Ready");
}

function render() {
  picker.select.replaceChildren(...listed.map((c) =>
    h("option", { value: c.name }, c.name + (c.access === "write" ? " (can add)" : ""))));
  picker.select.disabled = listed.length === 0;
  picker.forget.hidden = !storedKey();
  picker.note.textContent = listed.length
    ? ""
    : "No collection is open to this tab: enter a key.";
}

/** Lists the readable collections; false when the server has none (no picker). */
async function refresh() {
  let reply;
  try {
    reply = await api("/collections", { headers: keyHeader() });
  } catch {
    return false; // no collections here (404), or none to list yet: no picker
  }
  listed = Array.isArray(reply.collections) ? reply.collections : [];
  picker.root.hidden = false;
  render();
  const names = listed.map((c) => c.name);
  const wanted = [hashCollection(), scope.collection, remembered()].find((n) => names.includes(n));
  if (wanted || names.length) choose(wanted || names[0]);
  return true;
}

function keyHeader() {
  const key = storedKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Loads `url` (a page image under a collection) into `image` with the key. */
export async function loadImage(image, url) {
  if (!isCollectionPath(url) || !storedKey()) {
    image.src = url;
    return;
  }
  try {
    const response = await fetch(url, { headers: keyHeader() });
    if (!response.ok) throw new Error(String(response.status));
    image.src = URL.createObjectURL(await response.blob());
  } catch {
    image.dispatchEvent(new Event("error")); // the page explains, asking the route again
  }
}

async function downloadWithKey(link) {
  const response = await fetch(link.getAttribute("href"), { headers: keyHeader() });
  if (!response.ok) {
    picker.note.textContent = `The original file could not be fetched (HTTP ${response.status}).`;
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const temporary = h("a", { href: url, download: link.getAttribute("download") || "" });
  document.body.append(temporary);
  temporary.click();
  temporary.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Wires the picker; app.js calls it once, before the document panel's listeners. */
export function wireCollections() {
  // A citation link names its collection: follow it there before the panel loads.
  const fromHash = hashCollection();
  if (fromHash) scope.collection = fromHash;
  // Added before the document panel's listeners, so these run first.
  window.addEventListener("hashchange", () => follow(location.hash));
  window.addEventListener("popstate", () => follow(location.hash));
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[data-citation]") : null;
    if (link) follow(link.getAttribute("href") || "");
  });
  picker.select.addEventListener("change", () => choose(picker.select.value, { closePanel: true }));
  picker.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = picker.key.value.trim();
    if (!key) return;
    storeKey(key);
    picker.key.value = "";
    refresh();
  });
  picker.forget.addEventListener("click", () => {
    storeKey(null);
    refresh();
  });
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.original-link") : null;
    if (!link || !isCollectionPath(link.getAttribute("href") || "") || !storedKey()) return;
    event.preventDefault();
    downloadWithKey(link);
  });
  return refresh().then((has) => {
    if (!has) scope.collection = null;
    return has;
  });
}
