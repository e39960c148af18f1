// The document panel's body, in its two views. Its job: the text view (the exact
// text with the passage and answer marked, scrolled into view) and the page view
// of a paged document (the page image, its pager, highlight and zoom controls),
// and the Page/Text switch between them. Both views live here because each one's
// toolbar switches to the other: apart, they would import each other.
//
// Safety rule: text that comes from the service (questions, answers, titles,
// document text, metadata, error messages) is only ever put into the page with
// textContent or text nodes, never parsed as HTML.

import { ui, h, appendHighlighted } from "./dom.js";
import { shared, documentCache } from "./state.js";
import { VIEW_PAGE, VIEW_TEXT, parseHash, hashWithView, documentUrl } from "./citations.js";
import { loadImage } from "./collections.js";
import { api } from "./api.js";

// ----------------------------------------------------------------- text view

/** Scrolls the document so the cited passage (or, when it is long, the answer) is in view. */
function scrollToHighlight(passageMark, answerMark) {
  const body = ui.docBody;
  const origin = body.getBoundingClientRect().top - body.scrollTop;
  const box = passageMark.getBoundingClientRect();
  const top = box.top - origin;
  const room = body.clientHeight;
  let wanted = top - Math.max(24, (room - box.height) / 3);
  if (box.height > room - 48) {
    // A tall passage: show its answer sentence, when the answer lies inside it;
    // otherwise its start (the answer may be elsewhere in the document).
    const answer = answerMark && answerMark.getBoundingClientRect();
    const inside = answer && answer.top >= box.top && answer.bottom <= box.bottom;
    wanted = inside ? answer.top - origin - room / 3 : top - 24;
  }
  body.scrollTop = Math.max(0, wanted);
}

/** The exact text, with the passage and answer marked; a view switch for paged documents. */
export function showTextView(doc, target, pages) {
  const cited = Boolean(target.passage || target.answer);
  ui.docLegend.hidden = !cited;
  ui.legendAnswer.textContent = target.guess ? "Best-guess sentence" : "Answer sentence";
  shared.pageView = null;
  renderTools(pages.length ? [viewSwitch(VIEW_TEXT)] : []);
  const text = h("div", { className: "doc-text" });
  const first = appendHighlighted(
    text, String(doc.text || ""), target.passage, target.answer, "hl-passage", "hl-answer");
  ui.docBody.replaceChildren(text);
  ui.docBody.scrollTop = 0;
  // The cited passage decides the scroll: the answer may come earlier in the document.
  const passageMark = text.querySelector(".hl-passage") || first;
  if (passageMark) scrollToHighlight(passageMark, text.querySelector(".hl-answer"));
}

// ----------------------------------------------------------------- page view

export function pagesOf(doc) {
  if (!doc || !Array.isArray(doc.pages)) return [];
  return doc.pages.filter((p) =>
    p && Number.isInteger(p.page) && Number.isInteger(p.start) && Number.isInteger(p.end));
}

/** The page an offset lies on; between two pages, the next one. */
function pageAt(pages, offset) {
  const found = pages.find((p) => offset < p.end);
  return (found || pages[pages.length - 1]).page;
}

function pageRange(state, number) {
  return state.pages.find((p) => p.page === number) || null;
}

/** The span the page image highlights now: the cited passage, or the answer sentence. */
function highlightSpan(state) {
  const { passage, answer } = state.target;
  return state.highlight === "answer" ? answer || passage : passage || answer;
}

function spanPages(state, span) {
  if (!span) return [];
  return state.pages.filter((p) => span[0] < p.end && p.start < span[1]).map((p) => p.page);
}

function pageImageUrl(state, number) {
  const span = highlightSpan(state);
  let url = `${documentUrl(state.doc.doc_id)}/pages/${number}.png`;
  // The route refuses a span that misses the page: other pages come plain.
  if (span && spanPages(state, span).includes(number)) url += `?start=${span[0]}&end=${span[1]}`;
  return url;
}

export function showPageView(doc, target, pages) {
  const highlight = target.passage ? "passage" : "answer";
  const state = { doc, target, pages, highlight, page: pages[0].page };
  const span = highlightSpan(state);
  if (span) state.page = pageAt(pages, span[0]);
  shared.pageView = state;
  ui.docLegend.hidden = true;
  renderPage(state);
}

function setView(view) {
  const hash = hashWithView(location.hash, view === VIEW_TEXT ? VIEW_TEXT : null);
  if (parseHash(hash) && location.hash !== hash) history.replaceState(null, "", hash);
  shared.panelKey = location.hash;
  const doc = shared.pageView ? shared.pageView.doc : documentCache.get((parseHash(location.hash) || {}).docId);
  if (!doc) return;
  const target = parseHash(location.hash) || { docId: doc.doc_id, passage: null, answer: null };
  if (view === VIEW_TEXT) showTextView(doc, { ...target, view }, pagesOf(doc));
  else showPageView(doc, target, pagesOf(doc));
}

export function stepPage(delta) {
  const state = shared.pageView;
  if (!state) return;
  const index = state.pages.findIndex((p) => p.page === state.page) + delta;
  if (index < 0 || index >= state.pages.length) return;
  state.page = state.pages[index].page;
  renderPage(state);
}

function setHighlight(which) {
  const state = shared.pageView;
  if (!state || state.highlight === which) return;
  state.highlight = which;
  const span = highlightSpan(state);
  if (span && !spanPages(state, span).includes(state.page)) state.page = pageAt(state.pages, span[0]);
  renderPage(state);
}

function toggleGroup(label, options, current, onPick, visibleLabel) {
  const group = h(
    "div",
    { className: "segmented", role: "group", "aria-label": label },
    options.map(([value, text]) => h("button", {
      type: "button",
      className: "segment",
      "aria-pressed": String(value === current),
      "data-action": `${label}:${value}`,
      onclick: () => onPick(value),
    }, text)),
  );
  if (!visibleLabel) return group;
  return h("div", { className: "tool-group" },
    h("span", { className: "tool-label", "aria-hidden": "true" }, visibleLabel), group);
}

function viewSwitch(current) {
  return toggleGroup("View", [[VIEW_PAGE, "Page"], [VIEW_TEXT, "Text"]], current, setView);
}

/** Replaces the toolbar, keeping keyboard focus on the control that had it. */
function renderTools(children) {
  const active = document.activeElement;
  const action = active && ui.docTools.contains(active) ? active.dataset.action : null;
  ui.docTools.replaceChildren(...children);
  ui.docTools.hidden = children.length === 0;
  if (!action) return;
  const again = ui.docTools.querySelector(`[data-action="${action}"]`);
  const usable = again && !again.disabled ? again
    : ui.docTools.querySelector("[data-action^='page:']:not(:disabled)");
  if (usable) usable.focus();
}

function renderPage(state) {
  const position = state.pages.findIndex((p) => p.page === state.page);
  const total = state.pages.length;
  const { passage, answer } = state.target;
  const both = passage && answer && (passage[0] !== answer[0] || passage[1] !== answer[1]);
  renderTools([
    viewSwitch(VIEW_PAGE),
    h(
      "div",
      { className: "pager", role: "group", "aria-label": "Pages" },
      h("button", {
        type: "button", className: "button button-quiet pager-button", "data-action": "page:prev",
        "aria-label": "Previous page", disabled: position <= 0, onclick: () => stepPage(-1),
      }, "‹ Prev"),
      h("span", { className: "pager-label", "aria-live": "polite" },
        `Page ${state.page} of ${total}`),
      h("button", {
        type: "button", className: "button button-quiet pager-button", "data-action": "page:next",
        "aria-label": "Next page", disabled: position >= total - 1, onclick: () => stepPage(1),
      }, "Next ›"),
    ),
    both
      ? toggleGroup("Highlight",
        [["passage", "Passage"], ["answer", state.target.guess ? "Best guess" : "Answer"]],
        state.highlight, setHighlight, "Highlight")
      : null,
    h("button", {
      type: "button", className: "button button-quiet pager-button", "data-action": "zoom",
      "aria-pressed": String(shared.pageZoomed),
      onclick: () => {
        shared.pageZoomed = !shared.pageZoomed;
        renderPage(state);
      },
    }, "Zoom"),
  ].filter(Boolean));
  ui.docBody.replaceChildren(pageFigure(state));
  ui.docBody.scrollTop = 0;
}

/** What the page shows, in words: the caption under the image and its alt text. */
function pageCaption(state) {
  const span = highlightSpan(state);
  const what = state.highlight === "answer" ? "answer sentence" : "cited passage";
  const on = spanPages(state, span);
  if (!span || !on.length) return { alt: "", text: "" };
  if (!on.includes(state.page)) {
    const where = on.length > 1 ? `pages ${on[0]}–${on[on.length - 1]}` : `page ${on[0]}`;
    return { alt: "", text: `The ${what} is on ${where}.` };
  }
  let text = `The ${what} is highlighted`;
  if (on.length > 1) text += `; it runs from page ${on[0]} to page ${on[on.length - 1]}`;
  return { alt: `, with the ${what} highlighted`, text: text + "." };
}

function pageFigure(state) {
  const url = pageImageUrl(state, state.page);
  const caption = pageCaption(state);
  const frame = h("div", {
    className: "page-frame" + (shared.pageZoomed ? " is-zoomed" : ""), "aria-busy": "true",
  },
    h("p", { className: "page-loading" }, `Loading page ${state.page}…`));
  const image = h("img", {
    className: "page-image",
    alt: `Page ${state.page} of “${state.doc.title || state.doc.doc_id}”${caption.alt}`,
    "data-page": String(state.page),
  });
  image.addEventListener("load", () => {
    frame.removeAttribute("aria-busy");
    frame.classList.add("is-loaded");
    const loading = frame.querySelector(".page-loading");
    if (loading) loading.remove();
  });
  image.addEventListener("error", () => explainPageFailure(frame, image, url, state.page));
  loadImage(image, url); // with the key, for a protected collection
  frame.append(image);
  return h(
    "figure",
    { className: "page-view" },
    frame,
    caption.text ? h("figcaption", { className: "page-caption" }, caption.text) : null,
  );
}

/** An image cannot say why it failed: ask the route again for its JSON message. */
async function explainPageFailure(frame, image, url, number) {
  image.remove();
  let message = "The page image could not be loaded.";
  try {
    await api(url);
  } catch (error) {
    if (error.code !== "bad_response") message = error.message;
  }
  frame.removeAttribute("aria-busy");
  frame.replaceChildren(h(
    "div",
    { className: "error-card", role: "alert" },
    h("p", { className: "error-title" }, `Page ${number} could not be shown`),
    h("p", { className: "error-message" }, message),
    h("p", { className: "error-hint" }, "The Text view shows the same passage, highlighted."),
  ));
}
