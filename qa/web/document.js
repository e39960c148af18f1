// The document panel. Its job: open and close the side panel, load a document
// (once: later citations use the cache) and show it from the location hash,
// list the documents in the index, and wire the panel's links, keys and buttons.
// What the panel's body shows of a document is docview.js's.
//
// Safety rule: text that comes from the service (questions, answers, titles,
// document text, metadata, error messages) is only ever put into the page with
// textContent or text nodes, never parsed as HTML.

import { ui, h } from "./dom.js";
import { shared, documentCache } from "./state.js";
import { VIEW_TEXT, citationHash, parseHash, documentUrl } from "./citations.js";
import { api } from "./api.js";
import { metadataNodes } from "./metadata.js";
import { showTextView, pagesOf, showPageView, stepPage } from "./docview.js";

const FORMAT_NAMES = { pdf: "PDF", html: "Web page", docx: "Word document" };

function openPanel() {
  if (ui.panel.hidden) {
    const active = document.activeElement;
    if (active && active !== document.body && !ui.panel.contains(active)) shared.returnFocusTo = active;
  }
  ui.panel.hidden = false;
  document.body.classList.add("panel-open");
  ui.browse.setAttribute("aria-expanded", String(shared.panelKey === "documents"));
}

function closePanel() {
  if (ui.panel.hidden) return;
  shared.panelRequest += 1;
  shared.panelKey = null;
  ui.panel.hidden = true;
  document.body.classList.remove("panel-open");
  ui.browse.setAttribute("aria-expanded", "false");
  if (parseHash(location.hash)) {
    history.replaceState(null, "", location.pathname + location.search);
  }
  const target = shared.returnFocusTo && shared.returnFocusTo.isConnected ? shared.returnFocusTo : ui.question;
  shared.returnFocusTo = null;
  target.focus({ preventScroll: false });
}

function showPanelLoading(kicker) {
  ui.docKicker.textContent = kicker;
  ui.docTitle.textContent = "Loading…";
  ui.docMeta.replaceChildren();
  ui.docLegend.hidden = true;
  ui.docTools.hidden = true;
  ui.docTools.replaceChildren();
  ui.copyLink.hidden = true;
  shared.pageView = null;
  ui.docBody.replaceChildren();
  ui.docBody.setAttribute("aria-busy", "true");
}

function showPanelError(error) {
  ui.docTitle.textContent = error.status === 404 ? "Document not found" : "Could not open the document";
  ui.docBody.removeAttribute("aria-busy");
  ui.docBody.replaceChildren(h("div", { className: "error-card", role: "alert" },
    h("p", { className: "error-message" }, error.message)));
}

async function loadDocument(docId) {
  if (documentCache.has(docId)) return documentCache.get(docId);
  const doc = await api(documentUrl(docId));
  documentCache.set(docId, doc);
  return doc;
}

async function showDocument(target) {
  const request = ++shared.panelRequest;
  shared.panelKey = location.hash;
  openPanel();
  const cited = Boolean(target.passage || target.answer);
  showPanelLoading(cited ? "Cited document" : "Document");
  let doc;
  try {
    doc = await loadDocument(target.docId);
  } catch (error) {
    if (request === shared.panelRequest) showPanelError(error);
    return;
  }
  if (request !== shared.panelRequest) return;

  ui.docTitle.textContent = doc.title || doc.doc_id;
  ui.docMeta.replaceChildren(...documentMetaNodes(doc));
  ui.copyLink.hidden = !cited;
  ui.docBody.removeAttribute("aria-busy");
  const pages = pagesOf(doc);
  if (pages.length && target.view !== VIEW_TEXT) {
    showPageView(doc, target, pages);
  } else {
    showTextView(doc, target, pages);
  }
  ui.docTitle.focus({ preventScroll: true });
}

/** Metadata, then what the text was read from (PDF, 12 pages) with a link to the file. */
function documentMetaNodes(doc) {
  const nodes = metadataNodes(doc.metadata);
  const format = typeof doc.format === "string" ? doc.format : "";
  if (!format || format === "markdown" || format === "text") return nodes;
  const pages = pagesOf(doc).length;
  const label = FORMAT_NAMES[format] || format.toUpperCase();
  if (nodes.length) nodes.push(h("span", { className: "meta-sep", "aria-hidden": "true" }, "·"));
  nodes.push(h("span", { className: "doc-format" },
    pages ? `${label}, ${pages} page${pages === 1 ? "" : "s"}` : label));
  nodes.push(h("span", { className: "meta-sep", "aria-hidden": "true" }, "·"));
  // A download, never a page of ours: an uploaded web page must not render in our origin.
  nodes.push(h("a", {
    href: documentUrl(doc.doc_id) + "/original",
    download: doc.doc_id.split("/").pop(),
    className: "original-link",
  }, "Original file"));
  return nodes;
}

async function showDocumentList() {
  const request = ++shared.panelRequest;
  shared.panelKey = "documents";
  openPanel();
  showPanelLoading("Library");
  let listing;
  try {
    listing = await api("/documents");
  } catch (error) {
    if (request === shared.panelRequest) showPanelError(error);
    return;
  }
  if (request !== shared.panelRequest) return;
  const docs = Array.isArray(listing.documents) ? listing.documents : [];
  ui.docTitle.textContent = "Documents";
  ui.docMeta.textContent = `${docs.length} document${docs.length === 1 ? "" : "s"} in the index`;
  ui.docBody.removeAttribute("aria-busy");
  ui.docBody.replaceChildren(h(
    "ul",
    { className: "doc-list" },
    docs.map((doc) => {
      const meta = metadataNodes(doc.metadata);
      return h(
        "li",
        {},
        h("a", { href: citationHash(doc.doc_id, null, null), "data-citation": "" },
          doc.title || doc.doc_id),
        meta.length ? h("p", { className: "passage-meta" }, meta) : null,
      );
    }),
  ));
  ui.docTitle.focus({ preventScroll: true });
}

/** Opens whatever the location hash names; `force` reopens (and rescrolls) the same view. */
export function showFromHash(force) {
  const target = parseHash(location.hash);
  if (!target) {
    if (shared.panelKey && shared.panelKey !== "documents") closePanel();
    return;
  }
  if (!force && shared.panelKey === location.hash && !ui.panel.hidden) return;
  showDocument(target);
}

/** Wires the panel's links, keys and buttons; app.js calls it once, at load. */
export function wireDocumentPanel() {
  // Citation links are real links (shareable, open in a new tab); a plain click
  // opens the document here without reloading.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-citation]");
    if (!link || event.defaultPrevented) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (!ui.panel.contains(link)) shared.returnFocusTo = link;
    const hash = link.getAttribute("href");
    if (location.hash !== hash) history.pushState(null, "", hash);
    showFromHash(true);
  });

  window.addEventListener("hashchange", () => showFromHash(false));
  window.addEventListener("popstate", () => showFromHash(false));

  ui.closePanel.addEventListener("click", closePanel);
  ui.browse.addEventListener("click", () => {
    if (!ui.panel.hidden && shared.panelKey === "documents") {
      closePanel();
      return;
    }
    if (parseHash(location.hash)) history.replaceState(null, "", location.pathname + location.search);
    showDocumentList();
  });

  // Arrow keys turn the pages while the page view has focus.
  ui.panel.addEventListener("keydown", (event) => {
    if (!shared.pageView || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.target.closest("input, textarea, select")) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      stepPage(event.key === "ArrowLeft" ? -1 : 1);
    }
  });

  document.addEventListener("keydown", (event) => {
    // The add dialog closes itself on Escape; the document behind it stays open.
    if (ui.addDialog.open) return;
    if (event.key === "Escape" && !ui.panel.hidden) {
      event.preventDefault();
      closePanel();
    }
  });

  ui.copyLink.addEventListener("click", async () => {
    const button = ui.copyLink;
    let label = "Link copied";
    try {
      await navigator.clipboard.writeText(location.href);
    } catch {
      label = "Copy the address bar";
    }
    button.textContent = label;
    setTimeout(() => {
      button.textContent = "Copy link";
    }, 2000);
  });
}
