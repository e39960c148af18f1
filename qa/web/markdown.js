// Markdown as prose. Its job: show a Markdown document's text (or a passage of it)
// as it reads: the lines of one paragraph flow, headings, lists, quotes, code
// (inline and fenced), emphasis and links render; and mark the cited characters
// exactly, as dom.js's appendHighlighted does for plain text.
//
// How: the source is cut into segments that cover every character in order, each
// with the elements it renders in (a paragraph's text, a heading, <code>, <em>,
// <a>, a line break kept, or Markdown syntax that is hidden). Every segment is a
// text node of the source's own characters, so each rendered character keeps its
// offset: the highlight cuts segments at [start, end) and the marks hold exactly
// the cited characters (the hidden syntax among them too, so a mark's textContent
// is the cited slice of the text, while the reader sees prose).
//
// Safety rule: document text only ever becomes text nodes; no HTML in a document is
// parsed (it shows as the characters it is), and a link is made only for http(s)
// and relative addresses, opened with rel="noopener noreferrer".

import { h, codePointsToUnits, unitRange } from "./dom.js";

/** Whether a document (its format, or else its id's extension) is Markdown. */
export function isMarkdown(format, docId) {
  if (typeof format === "string" && format) return format === "markdown";
  return /\.(md|markdown)$/i.test(String(docId || ""));
}

// ------------------------------------------------------------------- styles

const SYNTAX = { tag: "span", cls: "md-syntax" };
const BREAK = { tag: "span", cls: "md-break" };
const PRE = { tag: "code", cls: "md-pre" };
const CODE = { tag: "code", cls: "md-code" };
const EM = { tag: "em", cls: "" };
const STRONG = { tag: "strong", cls: "" };
const QUOTE = { tag: "span", cls: "md-quote" };
const BULLET = { tag: "span", cls: "md-bullet" };
const IMAGE = { tag: "span", cls: "md-image" };
const heading = (level) => ({ tag: "span", cls: `md-h md-h${level}` });

/** An address a document may link to: http(s), or relative to the page; else null. */
export function safeHref(raw) {
  const href = String(raw || "").trim();
  // Browsers drop control characters and white space from an address before they read
  // its scheme ("\x01javascript:"), so an address with any is refused outright.
  if (!href || /[\u0000-\u0020\u007f-\u009f<>"\\]/.test(href)) return null;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(href);
  if (scheme && !/^https?$/i.test(scheme[1])) return null;
  if (/^\/\//.test(href)) return null; // no protocol-relative hosts
  return href;
}

// ------------------------------------------------------------------- blocks

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const ATX = /^( {0,3}#{1,6})(?:[ \t]+|$)/;
const SETEXT = /^ {0,3}(?:=+|-+)[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|$)/;
const QUOTE_MARK = /^ {0,3}> ?/;
const TABLE_RULE = /^ {0,3}\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?[ \t]*$/;
const INDENTED = /^(?: {4}|\t)/;

/** The lines of `text` as [start, end) in code units, without their newlines. */
function linesOf(text) {
  const lines = [];
  let start = 0;
  while (start <= text.length) {
    const nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl;
    lines.push({ start, end, body: text.slice(start, end) });
    if (nl < 0) break;
    start = nl + 1;
  }
  return lines;
}

/** Each line's kind: blank, fence, code, heading, setext, rule, item, quote, table, para. */
function classify(lines) {
  let fence = null;
  let prev = "blank";
  for (const line of lines) {
    const body = line.body;
    if (fence) {
      const close = FENCE.exec(body);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length &&
          !body.slice(close[0].length).trim()) {
        line.kind = "fence";
        fence = null;
      } else {
        line.kind = "code";
      }
    } else if (!body.trim()) {
      line.kind = "blank";
    } else if (FENCE.test(body)) {
      line.kind = "fence";
      fence = FENCE.exec(body)[1];
    } else if (INDENTED.test(body) && (prev === "blank" || prev === "indented") &&
               prev !== "item") {
      line.kind = "indented";
    } else if (ATX.test(body)) {
      line.kind = "heading";
    } else if (SETEXT.test(body) && prev === "para") {
      line.kind = "setext";
    } else if (RULE.test(body)) {
      line.kind = "rule";
    } else if (ITEM.test(body)) {
      line.kind = "item";
    } else if (QUOTE_MARK.test(body)) {
      line.kind = "quote";
    } else if (/^ {0,3}\|/.test(body) || TABLE_RULE.test(body)) {
      line.kind = "table";
    } else if ((prev === "item" || prev === "more") && /^\s/.test(body)) {
      line.kind = "more"; // an item's continuation line
    } else {
      line.kind = "para";
    }
    // A blank line inside an indented code block keeps it open.
    prev = line.kind === "blank" && prev === "indented" ? "indented" : line.kind;
  }
  return lines;
}

/** Whether the newline between two lines flows as a space (one paragraph or item). */
function flows(a, b) {
  return (a.kind === "para" && b.kind === "para") ||
    ((a.kind === "item" || a.kind === "more") && b.kind === "more") ||
    (a.kind === "quote" && b.kind === "quote");
}

/** The first line at or after `n` that is not blank (lines.length when none is). */
function nextFilled(lines, n) {
  let m = n;
  while (m < lines.length && lines[m].kind === "blank") m += 1;
  return m;
}

/** Segments {a, b, styles} covering all of `text`, in order (see the header). */
export function segments(text) {
  const lines = classify(linesOf(text));
  const out = [];
  const push = (a, b, styles) => {
    if (b <= a) return;
    const last = out[out.length - 1];
    // Neighbours in the same elements become one text node (a code block, a paragraph).
    if (last && last.b === a && last.styles.length === styles.length &&
        last.styles.every((s, n) => s === styles[n])) last.b = b;
    else out.push({ a, b, styles });
  };
  let n = nextFilled(lines, 0);
  push(0, n < lines.length ? lines[n].start : text.length, [BREAK]); // leading blank lines
  while (n < lines.length) {
    const line = lines[n];
    blockLine(text, line, lines[n + 1], push);
    // The newline after the line, with any blank lines: a space inside a paragraph,
    // inside code the code's own, a kept line break otherwise (a paragraph gap).
    const m = nextFilled(lines, n + 1);
    const after = lines[m];
    const stop = after ? after.start : text.length;
    const code = (k) => k === "code" || k === "indented";
    if (after && after.kind === "setext") push(line.end, stop, [SYNTAX]);
    else if (after && flows(line, after) && m === n + 1) push(line.end, stop, []);
    else if (after && code(line.kind) && code(after.kind)) push(line.end, stop, [PRE]);
    else push(line.end, stop, [BREAK]);
    n = m;
  }
  return out;
}

function blockLine(text, line, next, push) {
  const { start, end, body } = line;
  const setext = next && next.kind === "setext";
  switch (line.kind) {
    case "fence":
    case "setext":
    case "rule":
      push(start, end, [SYNTAX]);
      return;
    case "code":
    case "indented":
      push(start, end, [PRE]);
      return;
    case "heading": {
      const marker = ATX.exec(body)[0].length;
      const closing = /[ \t]+#+[ \t]*$/.exec(body.slice(marker));
      const stop = closing ? end - closing[0].length : end;
      const level = ATX.exec(body)[1].trim().length;
      push(start, start + marker, [SYNTAX]);
      inline(text, start + marker, stop, [heading(level)], push);
      push(stop, end, [SYNTAX]);
      return;
    }
    case "item": {
      const m = ITEM.exec(body);
      const bullet = /[-*+]/.test(m[2]);
      push(start, start + m[1].length, [SYNTAX]);
      push(start + m[1].length, start + m[0].length, bullet ? [BULLET] : []);
      inline(text, start + m[0].length, end, [], push);
      return;
    }
    case "quote": {
      const mark = QUOTE_MARK.exec(body)[0].length;
      push(start, start + mark, [SYNTAX]);
      inline(text, start + mark, end, [QUOTE], push);
      return;
    }
    case "table":
      if (TABLE_RULE.test(body)) push(start, end, [SYNTAX]);
      else inline(text, start, end, [], push);
      return;
    default:
      inline(text, start, end, setext ? [heading(/^ {0,3}=/.test(next.body) ? 1 : 2)] : [], push);
  }
}

// ------------------------------------------------------------------- inline

const PUNCTUATION = /[!-/:-@[-`{-~]/;

/** The end of the closing `marker` run for an opener ending at `from`, or -1. */
function closingRun(text, from, end, marker) {
  let at = text.indexOf(marker, from);
  while (at >= 0 && at + marker.length <= end) {
    const before = text[at - 1];
    const after = text[at + marker.length];
    const runs = marker[0] === "`"
      ? before !== "`" && after !== "`"
      : at > from && !/\s/.test(before) &&
        (marker[0] !== "_" || !/[\p{L}\p{N}]/u.test(after || ""));
    if (runs) return at;
    at = text.indexOf(marker, at + 1);
  }
  return -1;
}

/** A link or image at `at` ("[label](href)" / "![alt](src)"): its parts, or null. */
function linkAt(text, at, end) {
  const open = text[at] === "!" ? at + 2 : at + 1;
  let depth = 1;
  let close = open;
  for (; close < end && depth; close++) {
    if (text[close] === "\\") close += 1;
    else if (text[close] === "[") depth += 1;
    else if (text[close] === "]") depth -= 1;
  }
  if (depth || text[close] !== "(") return null;
  const stop = text.indexOf(")", close);
  if (stop < 0 || stop >= end || text.slice(close, stop).includes("\n")) return null;
  const href = text.slice(close + 1, stop).trim().split(/\s+/)[0];
  return { open, labelEnd: close - 1, stop: stop + 1, href };
}

/** Inline Markdown of text[a, b), each part pushed with `styles` and its own. */
function inline(text, a, b, styles, push) {
  let plain = a;
  const flush = (to) => { push(plain, to, styles); };
  let i = a;
  while (i < b) {
    const c = text[i];
    let done = null;
    if (c === "\\" && i + 1 < b && PUNCTUATION.test(text[i + 1])) {
      flush(i);
      push(i, i + 1, [...styles, SYNTAX]);
      push(i + 1, i + 2, styles);
      done = i + 2;
    } else if (c === "`") {
      const run = /^`+/.exec(text.slice(i, b))[0];
      const close = closingRun(text, i + run.length, b, run);
      if (close >= 0) {
        flush(i);
        push(i, i + run.length, [...styles, SYNTAX]);
        push(i + run.length, close, [...styles, CODE]);
        push(close, close + run.length, [...styles, SYNTAX]);
        done = close + run.length;
      } else {
        done = i + run.length; // an unmatched run is text
        i = done;
        continue;
      }
    } else if (c === "[" || (c === "!" && text[i + 1] === "[")) {
      const link = linkAt(text, i, b);
      if (link) {
        flush(i);
        const href = c === "!" ? null : safeHref(link.href);
        push(i, link.open, [...styles, SYNTAX]);
        const own = c === "!" ? [IMAGE] : href ? [{ tag: "a", cls: "md-link", href }] : [];
        inline(text, link.open, link.labelEnd, [...styles, ...own], push);
        push(link.labelEnd, link.stop, [...styles, SYNTAX]);
        done = link.stop;
      }
    } else if (c === "<") {
      const auto = /^<(https?:\/\/[^\s<>]+)>/i.exec(text.slice(i, b));
      if (auto) {
        flush(i);
        push(i, i + 1, [...styles, SYNTAX]);
        push(i + 1, i + auto[0].length - 1,
          [...styles, { tag: "a", cls: "md-link", href: auto[1] }]);
        push(i + auto[0].length - 1, i + auto[0].length, [...styles, SYNTAX]);
        done = i + auto[0].length;
      }
    } else if ((c === "*" || c === "_") && !/\s/.test(text[i + 1] || " ")) {
      const wordy = c === "_" && /[\p{L}\p{N}]/u.test(text[i - 1] || "");
      const marker = text[i + 1] === c ? c + c : c;
      const close = wordy ? -1 : closingRun(text, i + marker.length, b, marker);
      if (close > i + marker.length) {
        flush(i);
        push(i, i + marker.length, [...styles, SYNTAX]);
        inline(text, i + marker.length, close, [...styles, marker.length === 2 ? STRONG : EM],
          push);
        push(close, close + marker.length, [...styles, SYNTAX]);
        done = close + marker.length;
      }
    }
    if (done === null) {
      i += 1;
    } else {
      i = done;
      plain = done;
    }
  }
  flush(b);
}

// ------------------------------------------------------------------- render

function styled(styles, textNode) {
  let node = textNode;
  for (let n = styles.length - 1; n >= 0; n--) {
    const s = styles[n];
    const props = { className: s.cls || null };
    if (s.tag === "a") Object.assign(props, { href: s.href, rel: "noopener noreferrer",
      target: "_blank" });
    if (s === BULLET || s === SYNTAX) props["aria-hidden"] = "true";
    node = h(s.tag, props, node);
  }
  return node;
}

/**
 * Appends Markdown `text` to `container` as prose, marking an outer and an inner
 * range given in code points, like appendHighlighted: one outer mark over the
 * whole outer range, the inner one nested in it, each holding exactly the cited
 * characters. Returns the first outer mark (or inner, when there is no outer one).
 */
export function appendMarkdown(container, text, outer, inner, outerClass, innerClass) {
  container.classList.add("md");
  const map = codePointsToUnits(text, [outer, inner].filter(Boolean).flat());
  const o = unitRange(text, outer, map);
  const i = unitRange(text, inner, map);
  const cuts = [o, i].filter(Boolean).flat();
  let first = null;
  let group = null; // the open outer mark
  let held = null; // the open inner mark
  for (const seg of segments(text)) {
    const points = [seg.a, ...cuts.filter((x) => seg.a < x && x < seg.b), seg.b]
      .sort((x, y) => x - y);
    for (let n = 0; n + 1 < points.length; n++) {
      const [a, b] = [points[n], points[n + 1]];
      const inOuter = o && o[0] <= a && b <= o[1];
      const inInner = i && i[0] <= a && b <= i[1];
      if (inOuter && !group) {
        group = h("mark", { className: outerClass });
        container.append(group);
        first = first || group;
      } else if (!inOuter) {
        group = null;
      }
      let target = group || container;
      if (inInner) {
        if (!held || held.parentNode !== target) {
          held = h("mark", { className: innerClass });
          target.append(held);
          first = first || held;
        }
        target = held;
      } else {
        held = null;
      }
      target.append(styled(seg.styles, document.createTextNode(text.slice(a, b))));
    }
  }
  return first;
}
