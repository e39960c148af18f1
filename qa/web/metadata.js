// A document's metadata and a citation's whereabouts, as page nodes. Its job:
// the date and source line, and "p. 3 · Section" with its accessible wording,
// shared by the answer card's passages and the document panel.
//
// Safety rule: text that comes from the service (questions, answers, titles,
// document text, metadata, error messages) is only ever put into the page with
// textContent or text nodes, never parsed as HTML.

import { h } from "./dom.js";

function formatDate(value) {
  if (typeof value !== "string" && typeof value !== "number") return null;
  const text = String(value);
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return { text, iso: null };
  const date = new Date(Date.UTC(+match[1], +match[2] - 1, +match[3]));
  if (Number.isNaN(date.getTime())) return { text, iso: null };
  const pretty = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", timeZone: "UTC",
  }).format(date);
  return { text: pretty, iso: text };
}

function isWebUrl(value) {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** Date and source as a list of nodes, separated by a middle dot. */
export function metadataNodes(metadata) {
  const parts = [];
  const meta = metadata && typeof metadata === "object" ? metadata : {};
  const date = formatDate(meta.date);
  if (date) {
    parts.push(date.iso ? h("time", { datetime: date.iso }, date.text) : h("span", {}, date.text));
  }
  if (meta.source !== undefined && meta.source !== null && String(meta.source).trim()) {
    const source = String(meta.source);
    parts.push(
      isWebUrl(source)
        ? h("a", { href: source, target: "_blank", rel: "noopener noreferrer" }, source)
        : h("span", { className: "meta-source" }, source),
    );
  }
  const nodes = [];
  parts.forEach((part, index) => {
    if (index) nodes.push(h("span", { className: "meta-sep", "aria-hidden": "true" }, "·"));
    nodes.push(part);
  });
  return nodes;
}

/** The page (PDF) a cited span starts on, or null. */
function citedPage(span) {
  const page = span ? Number(span.page) : NaN;
  return Number.isInteger(page) && page > 0 ? page : null;
}

/** What a page is called where a span is cited: a slide deck's pages are its slides. */
function pageWords(span) {
  const slides = span && /\.pptx$/i.test(String(span.doc_id || ""));
  return slides ? { short: "slide", long: "slide" } : { short: "p.", long: "page" };
}

/** The heading a cited span sits under (HTML, Word, Markdown), or "". */
function citedSection(span) {
  return span && typeof span.section === "string" ? span.section.trim() : "";
}

/**
 * Where a cited span is: "p. 3" and its section heading, separated by a dot.
 * With `link` ({hash, title}) the page reads as a link that opens the page view.
 */
export function whereNodes(span, link) {
  const page = citedPage(span);
  const section = citedSection(span);
  const words = pageWords(span);
  const nodes = [];
  if (page && link) {
    nodes.push(h("a", {
      className: "cite-page", href: link.hash, "data-citation": "",
      "aria-label": `Open ${words.long} ${page} of ${link.title} with the passage highlighted`,
    }, `${words.short} ${page}`));
  } else if (page) {
    nodes.push(h("span", { className: "cite-page" }, `${words.short} ${page}`));
  }
  if (page && section) nodes.push(h("span", { className: "meta-sep", "aria-hidden": "true" }, "·"));
  if (section) nodes.push(h("span", { className: "cite-section" }, section));
  return nodes;
}

/** The same, for an accessible name: ", page 3, section “Match”". */
export function whereLabel(span) {
  const page = citedPage(span);
  const section = citedSection(span);
  return (page ? `, ${pageWords(span).long} ${page}` : "") + (section ? `, section “${section}”` : "");
}
