// The answer card. Its job: render one reply of the service (the answer sentence
// with its short answer and citation markers, a withheld best guess, or "No
// answer") and the passages it cites, and add it to the conversation. It renders
// only: asking and the busy state are chat.js's.
//
// Safety rule: text that comes from the service (questions, answers, titles,
// document text, metadata, error messages) is only ever put into the page with
// textContent or text nodes, never parsed as HTML.

import { ui, h, codePointsToUnits, unitRange, appendHighlighted } from "./dom.js";
import { shared } from "./state.js";
import { citationHash } from "./citations.js";
import { metadataNodes, whereNodes, whereLabel } from "./metadata.js";
import { appendMarkdown, isMarkdown } from "./markdown.js";

const LONG_PASSAGE_CHARS = 360;

function citationLink(className, hash, label, text) {
  return h("a", { className, href: hash, "aria-label": label, "data-citation": "" }, text);
}

/** Which passages contain the answer sentence (same document, overlapping offsets). */
function passagesCitedByAnswer(answer, passages) {
  if (!answer) return [];
  const overlapping = passages
    .map((passage, index) => ({ passage, index }))
    .filter(({ passage }) =>
      passage.doc_id === answer.doc_id &&
      passage.start < answer.end && answer.start < passage.end);
  const containing = overlapping.filter(({ passage }) =>
    passage.start <= answer.start && answer.end <= passage.end);
  return (containing.length ? containing : overlapping).map(({ index }) => index);
}

function answerRangeFor(answer, docId) {
  return answer && answer.doc_id === docId ? [answer.start, answer.end] : null;
}

/** A confidence in [0, 1] as a whole percentage, "64%"; null when it is not a number. */
function confidencePercent(value) {
  const confidence = Number(value);
  if (value === null || value === undefined || !Number.isFinite(confidence)) return null;
  return `${Math.round(Math.max(0, Math.min(1, confidence)) * 100)}%`;
}

/**
 * The numbered markers after an answer sentence: one per passage it came from,
 * each opening that passage with the sentence highlighted. `guess` marks a withheld
 * best guess, in the links and in their accessible names.
 */
function answerMarkers(answer, passages, citedIndexes, guess) {
  const name = guess ? "the best guess" : "the answer";
  const markers = citedIndexes.map((index) => {
    const passage = passages[index];
    const hash = citationHash(
      passage.doc_id, [passage.start, passage.end], [answer.start, answer.end], guess);
    return citationLink(
      "cite answer-cite", hash,
      `Citation ${index + 1}: open ${passage.title || passage.doc_id}` +
        `${whereLabel(answer)} at ${name}`,
      String(index + 1));
  });
  if (!markers.length) {
    // The answer came from a passage that is not listed: still link to its document.
    markers.push(citationLink(
      "cite answer-cite",
      citationHash(answer.doc_id, null, [answer.start, answer.end], guess),
      `Open the document at ${name}`, "source"));
  }
  return markers;
}

/**
 * An answer as the page shows it: the sentence with its short answer in bold and
 * its citations, then where it is from and its confidence. Shared by a given
 * answer and a withheld one, so both read and link alike.
 */
function answerBody(answer, passages, citedIndexes, guess = false) {
  const source = passages[citedIndexes[0]];
  const where = whereNodes(answer);
  const confidence = confidencePercent(answer.confidence);
  const markers = answerMarkers(answer, passages, citedIndexes, guess);
  return [
    h(
      "p",
      { className: "answer-text" },
      sentenceWithShort(answer),
      " ",
      h("span", { className: "answer-cites" }, markers),
    ),
    h(
      "p",
      { className: "answer-note" },
      source ? `From “${source.title || source.doc_id}”` : `From ${answer.doc_id}`,
      where.length ? h("span", { className: "answer-where" }, ", ", where) : null,
      confidence ? h("span", { className: "confidence" }, ` · confidence ${confidence}`) : null,
    ),
  ];
}

/**
 * The answer the service withheld as not confident enough, when the reply carries
 * one: collapsed, and labelled as a guess with its confidence, never as an answer.
 */
function renderWithheld(result) {
  const held = result.withheld;
  if (!held || typeof held !== "object" || typeof held.text !== "string" || !held.text) {
    return null;
  }
  const cited = passagesCitedByAnswer(held, result.passages);
  const confidence = confidencePercent(result.confidence ?? held.confidence);
  return h(
    "details",
    { className: "withheld" },
    h("summary", { className: "withheld-summary" },
      "Best guess, not confident enough" + (confidence ? ` (confidence ${confidence})` : "")),
    h("div", { className: "withheld-body" },
      answerBody(held, result.passages, cited, true)),
  );
}

function renderAnswer(result, citedIndexes, replyId) {
  const answer = result.answer;
  if (!result.answerable || !answer) {
    return h(
      "div",
      { className: "answer-card abstain" },
      h("p", { className: "answer-label" }, "No answer"),
      h("p", { className: "answer-text abstain-text" }, "The documents don't answer this."),
      result.passages.length
        ? h("p", { className: "answer-note" },
          "The closest passages are listed below, but none of them answers the question.")
        : h("p", { className: "answer-note" }, "No passages matched the question either."),
      renderWithheld(result),
    );
  }
  return h(
    "div",
    { className: "answer-card" },
    h("p", { className: "answer-label", id: `${replyId}-label` }, "Answer"),
    answerBody(answer, result.passages, citedIndexes),
  );
}

/**
 * The answer sentence with its short answer (document offsets in code points,
 * inside the sentence) in bold; the plain sentence when there is none or its
 * offsets do not fit.
 */
function sentenceWithShort(answer) {
  const text = String(answer.text || "");
  const short = answer.short;
  if (!short || !Number.isFinite(short.start) || !Number.isFinite(short.end)) return text;
  const range = [short.start - answer.start, short.end - answer.start];
  const units = unitRange(text, range, codePointsToUnits(text, range));
  if (!units || units[0] < 0 || text.slice(units[0], units[1]) !== short.text) return text;
  return [
    text.slice(0, units[0]),
    h("strong", { className: "short-answer" }, text.slice(units[0], units[1])),
    text.slice(units[1]),
  ];
}

function renderPassage(passage, index, answer, isCited, replyId) {
  const number = index + 1;
  const title = passage.title || passage.doc_id;
  const answerRange = answerRangeFor(answer, passage.doc_id);
  const hash = citationHash(passage.doc_id, [passage.start, passage.end], answerRange);

  const textNode = h("p", {
    className: "passage-text",
    id: `${replyId}-p${number}-text`,
  });
  let inner = null;
  if (isCited && answerRange) {
    inner = [answerRange[0] - passage.start, answerRange[1] - passage.start];
  }
  const render = isMarkdown(null, passage.doc_id) ? appendMarkdown : appendHighlighted;
  render(textNode, String(passage.text || ""), null, inner, "", "answer-in-passage");

  const long = String(passage.text || "").length > LONG_PASSAGE_CHARS && !isCited;
  let toggle = null;
  if (long) {
    textNode.classList.add("clamped");
    toggle = h(
      "button",
      {
        type: "button",
        className: "link-button",
        "aria-expanded": "false",
        "aria-controls": textNode.id,
        onclick: () => {
          const expanded = textNode.classList.toggle("clamped") === false;
          toggle.setAttribute("aria-expanded", String(expanded));
          toggle.textContent = expanded ? "Show less" : "Show more";
        },
      },
      "Show more",
    );
  }

  const scores = passage.scores || {};
  const scoreText = ["dense", "lexical", "fused", "rerank"]
    .filter((key) => typeof scores[key] === "number")
    .map((key) => `${key} ${scores[key].toFixed(3)}`)
    .join(", ");

  const meta = metadataNodes(passage.metadata);
  const where = whereNodes(passage, { hash, title });
  return h(
    "li",
    {
      className: "passage" + (isCited ? " is-cited" : ""),
      "data-doc-id": passage.doc_id,
      title: scoreText ? `Scores: ${scoreText}` : null,
    },
    citationLink("cite passage-cite", hash,
      `Citation ${number}: open ${title}${whereLabel(passage)}`, String(number)),
    h(
      "div",
      { className: "passage-body" },
      h(
        "p",
        { className: "passage-title" },
        h("a", { href: hash, className: "passage-link", "data-citation": "" }, title),
        isCited ? h("span", { className: "badge" }, "Answer source") : null,
      ),
      where.length ? h("p", { className: "passage-where" }, where) : null,
      meta.length ? h("p", { className: "passage-meta" }, meta) : null,
      textNode,
      toggle,
      alsoIn(passage),
    ),
  );
}

/**
 * The other sources of the same text (the reply lists a passage once, `also_in`
 * names the rest): a link each, opening that source at its own cited span.
 */
function alsoIn(passage) {
  const others = Array.isArray(passage.also_in) ? passage.also_in : [];
  const valid = others.filter((c) =>
    c && typeof c.doc_id === "string" && Number.isInteger(c.start) && Number.isInteger(c.end));
  if (!valid.length) return null;
  return h(
    "div",
    { className: "also-in" },
    h("span", { className: "also-in-label" }, "Also in: "),
    h("ul", { className: "also-in-list" }, valid.map((c) => {
      const title = c.title || c.doc_id;
      const hash = citationHash(c.doc_id, [c.start, c.end], null);
      const where = whereNodes(c);
      return h(
        "li",
        { "data-doc-id": c.doc_id },
        h("a", {
          href: hash, className: "also-in-link", "data-citation": "",
          "aria-label": `Also in ${title}${whereLabel(c)}: open it at the same text`,
        }, title),
        where.length ? [" (", where, ")"] : null,
      );
    })),
  );
}

export function addReply(result) {
  shared.replyCount += 1;
  const replyId = `reply-${shared.replyCount}`;
  const passages = Array.isArray(result.passages) ? result.passages : [];
  const normalized = { ...result, passages };
  const cited = passagesCitedByAnswer(result.answerable ? result.answer : null, passages);
  const answer = result.answerable ? result.answer : null;

  const node = h(
    "article",
    {
      className: "message message-assistant reply" + (answer ? "" : " is-abstain"),
      "aria-labelledby": `${replyId}-heading`,
      id: replyId,
    },
    h("h2", { className: "visually-hidden", id: `${replyId}-heading` },
      answer ? "Answer" : "No answer found"),
    renderAnswer(normalized, cited, replyId),
    passages.length
      ? h(
        "section",
        { className: "passages-section", "aria-label": answer ? "Sources" : "Closest passages" },
        h("h3", { className: "passages-heading" }, answer ? "Sources" : "Closest passages"),
        h(
          "ol",
          { className: "passages" },
          passages.map((passage, index) =>
            renderPassage(passage, index, answer, cited.includes(index), replyId)),
        ),
      )
      : null,
  );
  ui.conversation.append(node);
  return node;
}
