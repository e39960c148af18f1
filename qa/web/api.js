// Talking to the service. Its job: the fetch wrapper api() and its ApiError,
// describing an error's details, the health check shown in the top bar, and the
// API key for uploads kept in this tab.
//
// Safety rule: text that comes from the service (questions, answers, titles,
// document text, metadata, error messages) is only ever put into the page with
// textContent or text nodes, never parsed as HTML.

import { ui } from "./dom.js";
import { shared } from "./state.js";
import { scopedPath, isCollectionPath } from "./scope.js";

// The API key for uploads lives in this tab's session storage only: never
// localStorage, never a cookie, so it goes when the tab does.
const KEY_STORAGE = "qa.apiKey";

// ------------------------------------------------------------------------ API

export class ApiError extends Error {
  constructor(message, { status = 0, code = null, details = [] } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }
}

export async function api(path, init) {
  let response;
  // Under a collection (scope.js), with the tab's key: a protected one needs it.
  path = scopedPath(path);
  const key = isCollectionPath(path) ? storedKey() : null;
  const auth = key ? { Authorization: `Bearer ${key}` } : {};
  try {
    response = await fetch(path, {
      ...init,
      headers: { Accept: "application/json", ...auth, ...(init && init.headers) },
    });
  } catch {
    throw new ApiError(
      "The question-answering service cannot be reached. Check that it is running " +
        "(qa serve) and try again.",
      { code: "unreachable" },
    );
  }
  let body = null;
  try {
    const raw = await response.text();
    body = raw ? JSON.parse(raw) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    let message = body && typeof body.message === "string" && body.message.trim();
    let details = body && body.details;
    if (!message && body && typeof body.detail === "string") message = body.detail;
    if (!message && body && Array.isArray(body.detail)) {
      message = "The request was not valid.";
      details = body.detail;
    }
    if (!message) {
      message = `The service answered with an error (HTTP ${response.status}` +
        (response.statusText ? ` ${response.statusText}` : "") + ").";
    }
    throw new ApiError(message, {
      status: response.status,
      code: body && typeof body.error === "string" ? body.error : null,
      details,
    });
  }
  if (body === null || typeof body !== "object") {
    throw new ApiError("The service sent a reply this page cannot read.", {
      status: response.status,
      code: "bad_response",
    });
  }
  return body;
}

export function describeDetail(detail) {
  if (typeof detail === "string") return detail;
  if (detail && typeof detail === "object") {
    const message = detail.msg || detail.message || "";
    let where = detail.loc || detail.field || "";
    if (Array.isArray(where)) where = where.filter((part) => part !== "body").join(".");
    if (message) return where ? `${where}: ${message}` : String(message);
  }
  try {
    return JSON.stringify(detail);
  } catch {
    return String(detail);
  }
}

// --------------------------------------------------------------- service state

export function setServiceState(state, text) {
  ui.status.dataset.state = state;
  ui.statusText.textContent = text;
}

export async function checkHealth() {
  try {
    const health = await api("/health");
    const n = Number(health.documents);
    const label = Number.isFinite(n) ? `${n} document${n === 1 ? "" : "s"}` : "Ready";
    setServiceState("ok", label);
    ui.status.title = health.model ? `Model: ${health.model}` : "";
    // A service that says writes are off gets no Add button; one that says nothing
    // keeps it, and its 403 explains.
    ui.add.hidden = health.writes === false;
  } catch (error) {
    setServiceState("down", error.code === "unreachable" ? "Offline" : "Unavailable");
    ui.status.title = error.message;
  }
}

// ------------------------------------------------------------------- API key

export function storedKey() {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE) || null;
  } catch {
    return shared.memoryKey;
  }
}

export function storeKey(key) {
  shared.memoryKey = key;
  try {
    if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
    else window.sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage is off (a private mode): the key lasts as long as this page.
  }
}
