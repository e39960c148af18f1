// Adding a document. Its job: the add dialog (the API key field, choosing or
// dropping a file, the upload and what it says back) and a file dropped anywhere
// on the page.
//
// Safety rule: text that comes from the service (questions, answers, titles,
// document text, metadata, error messages) is only ever put into the page with
// textContent or text nodes, never parsed as HTML.

import { ui, h } from "./dom.js";
import { shared, documentCache } from "./state.js";
import { citationHash } from "./citations.js";
import { ApiError, api, checkHealth, storedKey, storeKey } from "./api.js";

const UPLOAD_SUFFIXES = [".md", ".txt", ".pdf", ".html", ".htm", ".docx"];

function showKeyState() {
  const saved = Boolean(storedKey());
  ui.keyRow.hidden = saved;
  ui.keySaved.hidden = !saved;
}

function setAddStatus(kind, title, message, extra) {
  const role = kind === "error" ? "alert" : "status";
  ui.addStatus.replaceChildren(h(
    "div",
    { className: kind === "error" ? "error-card" : "notice-card", role },
    h("p", { className: kind === "error" ? "error-title" : "notice-title" }, title),
    message ? h("p", { className: "error-message" }, message) : null,
    extra || null,
  ));
}

function stageFile(file) {
  shared.stagedFile = null;
  ui.fileName.textContent = "";
  ui.addStatus.replaceChildren();
  if (!file) return;
  const name = String(file.name || "");
  const lower = name.toLowerCase();
  if (!UPLOAD_SUFFIXES.some((suffix) => lower.endsWith(suffix))) {
    setAddStatus("error", "This kind of file cannot be added",
      `“${name}” is not one of ${UPLOAD_SUFFIXES.join(", ")}: choose a Markdown, text, PDF, ` +
        "web page (HTML) or Word (.docx) file.");
    return;
  }
  shared.stagedFile = file;
  ui.fileName.textContent = `${name} (${formatBytes(file.size)})`;
}

function formatBytes(size) {
  if (size < 1024) return `${size} bytes`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

function openAddDialog(file) {
  if (!ui.addDialog.open) {
    ui.addStatus.replaceChildren();
    ui.addDialog.showModal();
  }
  showKeyState();
  if (file) stageFile(file);
  (ui.keyRow.hidden ? ui.chooseFile : ui.keyInput).focus();
}

function setUploading(value) {
  shared.uploading = value;
  ui.addForm.setAttribute("aria-busy", String(value));
  ui.addSubmit.disabled = value;
  ui.addSubmit.textContent = value ? "Adding…" : "Add";
}

async function upload() {
  if (shared.uploading) return;
  const key = storedKey() || ui.keyInput.value.trim();
  if (!key) {
    setAddStatus("error", "The API key is missing",
      "Type the service's API key (QA_API_KEY): adding documents needs it.");
    ui.keyInput.focus();
    return;
  }
  if (!shared.stagedFile) {
    setAddStatus("error", "No file chosen", "Drop a file here or choose one to add.");
    ui.chooseFile.focus();
    return;
  }
  const form = new FormData();
  form.append("file", shared.stagedFile, shared.stagedFile.name);
  setUploading(true);
  setAddStatus("progress", `Adding “${shared.stagedFile.name}”…`, "");
  try {
    const result = await api("/documents", {
      method: "POST",
      headers: { Authorization: `Bearer ${key}` },
      body: form,
    });
    storeKey(key);
    ui.keyInput.value = "";
    showKeyState();
    documentCache.delete(result.doc_id);
    shared.stagedFile = null;
    ui.fileName.textContent = "";
    ui.fileInput.value = "";
    setAddStatus("done", addedTitle(result), "",
      h("p", { className: "notice-text" },
        "Ask about it now, or ",
        h("a", { href: citationHash(result.doc_id, null, null), "data-citation": "",
          onclick: () => ui.addDialog.close() }, "open it"),
        "."));
    checkHealth();
  } catch (error) {
    const apiError = error instanceof ApiError ? error : new ApiError(String(error.message || error));
    if (apiError.status === 401) {
      // A wrong or stale key: forget it, so the next try asks for it again.
      storeKey(null);
      showKeyState();
      ui.keyInput.select();
    } else if (apiError.status === 415 || apiError.status === 422) {
      // The key was checked before the file was read: it is good, keep it.
      storeKey(key);
      ui.keyInput.value = "";
      showKeyState();
    }
    setAddStatus("error", uploadErrorTitle(apiError), apiError.message);
  } finally {
    setUploading(false);
  }
}

function addedTitle(result) {
  const n = Number(result.chunks);
  const passages = Number.isFinite(n) ? ` (${n} passage${n === 1 ? "" : "s"})` : "";
  const name = result.title || result.doc_id;
  if (result.status === "unchanged") return `“${name}” is already in the index, unchanged.`;
  if (result.status === "replaced") return `Replaced “${name}”${passages}.`;
  return `Added “${name}”${passages}.`;
}

function uploadErrorTitle(error) {
  switch (error.status) {
    case 401: return "The API key was not accepted";
    case 403: return "Adding documents is turned off";
    case 413: return "The file is too large";
    case 415: return "This kind of file cannot be added";
    case 422: return "The file could not be read";
    default:
      if (error.code === "unreachable") return "The service is not reachable";
      return "The file was not added";
  }
}

function draggingFiles(event) {
  return Boolean(event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files"));
}

/** Wires the add dialog and the page's drag and drop; app.js calls it once, at load. */
export function wireUpload() {
  ui.add.addEventListener("click", () => openAddDialog(null));
  ui.addClose.addEventListener("click", () => ui.addDialog.close());
  ui.addDialog.addEventListener("close", () => ui.add.focus());
  ui.addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    upload();
  });
  ui.chooseFile.addEventListener("click", () => ui.fileInput.click());
  ui.fileInput.addEventListener("change", () => stageFile(ui.fileInput.files[0] || null));
  ui.forgetKey.addEventListener("click", () => {
    storeKey(null);
    showKeyState();
    ui.keyInput.focus();
  });

  // A file dropped anywhere on the page opens the dialog with it; the drop zone lights up.
  window.addEventListener("dragover", (event) => {
    if (!draggingFiles(event)) return;
    // Taken even when adding is off: a stray drop must not replace the conversation.
    event.preventDefault();
    event.dataTransfer.dropEffect = ui.add.hidden ? "none" : "copy";
    ui.dropZone.classList.toggle("is-over", ui.dropZone.contains(event.target));
  });
  window.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) ui.dropZone.classList.remove("is-over");
  });
  window.addEventListener("drop", (event) => {
    if (!draggingFiles(event)) return;
    event.preventDefault(); // never let the browser open the file in place of the page
    ui.dropZone.classList.remove("is-over");
    if (ui.add.hidden) return;
    const file = event.dataTransfer.files[0];
    if (file) openAddDialog(file);
  });
}
