// Chat page for the question-answering service. Plain JavaScript, no build step.
//
// Safety rule for this file: text that comes from the service (questions,
// answers, titles, document text, metadata, error messages) is only ever put
// into the page with textContent or text nodes, never parsed as HTML.
"use strict";

(() => {
  const MAX_QUESTION_CHARS = 2000;
  const COUNT_SHOWN_FROM = 1800;
  const LONG_PASSAGE_CHARS = 360;
  const VIEW_PAGE = "page";
  const VIEW_TEXT = "text";
  const FORMAT_NAMES = { pdf: "PDF", html: "Web page", docx: "Word document" };
  const UPLOAD_SUFFIXES = [".md", ".txt", ".pdf", ".html", ".htm", ".docx"];
  // The API key for uploads lives in this tab's session storage only: never
  // localStorage, never a cookie, so it goes when the tab does.
  const KEY_STORAGE = "qa.apiKey";

  const $ = (id) => document.getElementById(id);
  const ui = {
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

  let busy = false;
  let replyCount = 0;
  let panelKey = null; // what the panel shows now: a location hash, or "documents"
  let panelRequest = 0; // increases with every load, so a slow old load cannot win
  let returnFocusTo = null;
  const documentCache = new Map();

  // ---------------------------------------------------------------- DOM helpers

  /** Creates an element. Strings among the children become text nodes, never HTML. */
  function h(tag, props, ...children) {
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
  function codePointsToUnits(text, offsets) {
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
  function unitRange(text, range, map) {
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
  function appendHighlighted(container, text, outer, inner, outerClass, innerClass) {
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

  // ---------------------------------------------------------------- URL fragment

  /**
   * The shareable fragment for a citation: #doc=<id>&start=..&end=..&as=..&ae=..,
   * and &guess=1 when the sentence is a withheld best guess rather than an answer.
   */
  function citationHash(docId, passage, answer, guess = false) {
    const params = new URLSearchParams();
    params.set("doc", docId);
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

  function parseHash(hash) {
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
  function hashWithView(hash, view) {
    const params = new URLSearchParams(hash.replace(/^#/, ""));
    if (view) params.set("view", view);
    else params.delete("view");
    return "#" + params.toString();
  }

  function documentUrl(docId) {
    return "/documents/" + docId.split("/").map(encodeURIComponent).join("/");
  }

  // ------------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(message, { status = 0, code = null, details = [] } = {}) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = Array.isArray(details) ? details : [];
    }
  }

  async function api(path, init) {
    let response;
    try {
      response = await fetch(path, {
        ...init,
        headers: { Accept: "application/json", ...(init && init.headers) },
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

  function describeDetail(detail) {
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

  function setServiceState(state, text) {
    ui.status.dataset.state = state;
    ui.statusText.textContent = text;
  }

  async function checkHealth() {
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

  // ------------------------------------------------------------------ metadata

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
  function metadataNodes(metadata) {
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

  /** The heading a cited span sits under (HTML, Word, Markdown), or "". */
  function citedSection(span) {
    return span && typeof span.section === "string" ? span.section.trim() : "";
  }

  /**
   * Where a cited span is: "p. 3" and its section heading, separated by a dot.
   * With `link` ({hash, title}) the page reads as a link that opens the page view.
   */
  function whereNodes(span, link) {
    const page = citedPage(span);
    const section = citedSection(span);
    const nodes = [];
    if (page && link) {
      nodes.push(h("a", {
        className: "cite-page", href: link.hash, "data-citation": "",
        "aria-label": `Open page ${page} of ${link.title} with the passage highlighted`,
      }, `p. ${page}`));
    } else if (page) {
      nodes.push(h("span", { className: "cite-page" }, `p. ${page}`));
    }
    if (page && section) nodes.push(h("span", { className: "meta-sep", "aria-hidden": "true" }, "·"));
    if (section) nodes.push(h("span", { className: "cite-section" }, section));
    return nodes;
  }

  /** The same, for an accessible name: ", page 3, section “Match”". */
  function whereLabel(span) {
    const page = citedPage(span);
    const section = citedSection(span);
    return (page ? `, page ${page}` : "") + (section ? `, section “${section}”` : "");
  }

  // -------------------------------------------------------------- conversation

  /** Shows a new reply from its question down; a long question is shown only by its end. */
  function scrollConversationTo(questionNode, replyNode) {
    const box = ui.conversation;
    const origin = box.getBoundingClientRect().top - box.scrollTop;
    const questionTop = questionNode.getBoundingClientRect().top - origin - 12;
    const replyTop = replyNode
      ? replyNode.getBoundingClientRect().top - origin - 72
      : questionTop;
    const top = replyTop - questionTop > 120 ? replyTop : questionTop;
    box.scrollTop = Math.max(0, Math.min(top, box.scrollHeight - box.clientHeight));
  }

  function scrollConversationToEnd() {
    ui.conversation.scrollTop = ui.conversation.scrollHeight;
  }

  function addUserMessage(question) {
    if (ui.welcome && ui.welcome.isConnected) ui.welcome.remove();
    const node = h(
      "div",
      { className: "message message-user" },
      h("p", { className: "visually-hidden" }, "You asked:"),
      h("div", { className: "bubble" }, question),
    );
    ui.conversation.append(node);
    scrollConversationToEnd();
    return node;
  }

  function addPending() {
    const node = h(
      "div",
      { className: "message message-assistant pending", "aria-busy": "true" },
      h(
        "div",
        { className: "bubble bubble-pending" },
        h("span", { className: "typing", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
        "Searching the documents…",
      ),
    );
    ui.conversation.append(node);
    scrollConversationToEnd();
    return node;
  }

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
    appendHighlighted(textNode, String(passage.text || ""), null, inner, "", "answer-in-passage");

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
      ),
    );
  }

  function addReply(result) {
    replyCount += 1;
    const replyId = `reply-${replyCount}`;
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

  function addError(error, question) {
    let title = "Something went wrong";
    if (error.code === "unreachable") title = "The service is not reachable";
    else if (error.status >= 500) title = "The service could not answer";
    else if (error.status >= 400) title = "The question was not accepted";

    // Leave out details that only repeat the message (validation errors often do).
    const details = (error.details || [])
      .filter((detail) => {
        const core = detail && typeof detail === "object" ? detail.msg || detail.message : detail;
        const text = String(core || "").replace(/^Value error, /, "");
        return text && !error.message.includes(text);
      })
      .map(describeDetail)
      .filter(Boolean);
    const retryable = error.code === "unreachable" || error.status >= 500;
    const node = h(
      "div",
      { className: "message message-assistant" },
      h(
        "div",
        { className: "error-card", role: "alert" },
        h("p", { className: "error-title" }, title),
        h("p", { className: "error-message" }, error.message),
        details.length ? h("ul", { className: "error-details" }, details.map((d) => h("li", {}, d))) : null,
        retryable
          ? h("button", {
            type: "button",
            className: "button button-quiet retry-button",
            onclick: (event) => {
              if (busy) return;
              event.currentTarget.disabled = true;
              ask(question);
            },
          }, "Try again")
          : null,
      ),
    );
    ui.conversation.append(node);
    return node;
  }

  function setBusy(value) {
    busy = value;
    ui.form.setAttribute("aria-busy", String(value));
    document.body.classList.toggle("is-busy", value);
    ui.send.disabled = value;
    ui.send.querySelector(".send-label").textContent = value ? "Asking…" : "Ask";
  }

  async function ask(question) {
    if (busy) return;
    const k = Number(ui.k.value) || 5;
    const userNode = addUserMessage(question);
    const pending = addPending();
    let replyNode = null;
    setBusy(true);
    try {
      const result = await api("/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question, k }),
      });
      pending.remove();
      replyNode = addReply(result);
      if (ui.status.dataset.state !== "ok") checkHealth();
    } catch (error) {
      pending.remove();
      const apiError = error instanceof ApiError ? error : new ApiError(String(error.message || error));
      replyNode = addError(apiError, question);
      if (apiError.code === "unreachable") setServiceState("down", "Offline");
      // Give the question back so it can be fixed or sent again.
      if (!ui.question.value) {
        ui.question.value = question;
        autosize();
        updateCount();
      }
    } finally {
      setBusy(false);
      scrollConversationTo(userNode, replyNode);
    }
  }

  // ------------------------------------------------------------------ composer

  function autosize() {
    const box = ui.question;
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 200)}px`;
  }

  function updateCount() {
    const n = Array.from(ui.question.value.trim()).length;
    if (n >= COUNT_SHOWN_FROM) {
      ui.count.textContent = `${n} / ${MAX_QUESTION_CHARS}`;
      ui.count.classList.toggle("is-over", n > MAX_QUESTION_CHARS);
    } else {
      ui.count.textContent = "";
      ui.count.classList.remove("is-over");
    }
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    const question = ui.question.value.trim();
    if (!question) {
      ui.question.focus();
      return;
    }
    ui.question.value = "";
    autosize();
    updateCount();
    ask(question);
  });

  ui.question.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    ui.form.requestSubmit();
  });

  ui.question.addEventListener("input", () => {
    autosize();
    updateCount();
  });

  // ------------------------------------------------------------ document panel

  function openPanel() {
    if (ui.panel.hidden) {
      const active = document.activeElement;
      if (active && active !== document.body && !ui.panel.contains(active)) returnFocusTo = active;
    }
    ui.panel.hidden = false;
    document.body.classList.add("panel-open");
    ui.browse.setAttribute("aria-expanded", String(panelKey === "documents"));
  }

  function closePanel() {
    if (ui.panel.hidden) return;
    panelRequest += 1;
    panelKey = null;
    ui.panel.hidden = true;
    document.body.classList.remove("panel-open");
    ui.browse.setAttribute("aria-expanded", "false");
    if (parseHash(location.hash)) {
      history.replaceState(null, "", location.pathname + location.search);
    }
    const target = returnFocusTo && returnFocusTo.isConnected ? returnFocusTo : ui.question;
    returnFocusTo = null;
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
    pageView = null;
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

  async function showDocument(target) {
    const request = ++panelRequest;
    panelKey = location.hash;
    openPanel();
    const cited = Boolean(target.passage || target.answer);
    showPanelLoading(cited ? "Cited document" : "Document");
    let doc;
    try {
      doc = await loadDocument(target.docId);
    } catch (error) {
      if (request === panelRequest) showPanelError(error);
      return;
    }
    if (request !== panelRequest) return;

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

  /** The exact text, with the passage and answer marked; a view switch for paged documents. */
  function showTextView(doc, target, pages) {
    const cited = Boolean(target.passage || target.answer);
    ui.docLegend.hidden = !cited;
    ui.legendAnswer.textContent = target.guess ? "Best-guess sentence" : "Answer sentence";
    pageView = null;
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

  let pageView = null; // the paged document on show: {doc, target, pages, page, highlight}
  let pageZoomed = false; // the page at its own size (scrolls sideways): for small screens

  function pagesOf(doc) {
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

  function showPageView(doc, target, pages) {
    const highlight = target.passage ? "passage" : "answer";
    const state = { doc, target, pages, highlight, page: pages[0].page };
    const span = highlightSpan(state);
    if (span) state.page = pageAt(pages, span[0]);
    pageView = state;
    ui.docLegend.hidden = true;
    renderPage(state);
  }

  function setView(view) {
    const hash = hashWithView(location.hash, view === VIEW_TEXT ? VIEW_TEXT : null);
    if (parseHash(hash) && location.hash !== hash) history.replaceState(null, "", hash);
    panelKey = location.hash;
    const doc = pageView ? pageView.doc : documentCache.get((parseHash(location.hash) || {}).docId);
    if (!doc) return;
    const target = parseHash(location.hash) || { docId: doc.doc_id, passage: null, answer: null };
    if (view === VIEW_TEXT) showTextView(doc, { ...target, view }, pagesOf(doc));
    else showPageView(doc, target, pagesOf(doc));
  }

  function stepPage(delta) {
    const state = pageView;
    if (!state) return;
    const index = state.pages.findIndex((p) => p.page === state.page) + delta;
    if (index < 0 || index >= state.pages.length) return;
    state.page = state.pages[index].page;
    renderPage(state);
  }

  function setHighlight(which) {
    const state = pageView;
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
        "aria-pressed": String(pageZoomed),
        onclick: () => {
          pageZoomed = !pageZoomed;
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
      className: "page-frame" + (pageZoomed ? " is-zoomed" : ""), "aria-busy": "true",
    },
      h("p", { className: "page-loading" }, `Loading page ${state.page}…`));
    const image = h("img", {
      className: "page-image",
      src: url,
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

  async function showDocumentList() {
    const request = ++panelRequest;
    panelKey = "documents";
    openPanel();
    showPanelLoading("Library");
    let listing;
    try {
      listing = await api("/documents");
    } catch (error) {
      if (request === panelRequest) showPanelError(error);
      return;
    }
    if (request !== panelRequest) return;
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
  function showFromHash(force) {
    const target = parseHash(location.hash);
    if (!target) {
      if (panelKey && panelKey !== "documents") closePanel();
      return;
    }
    if (!force && panelKey === location.hash && !ui.panel.hidden) return;
    showDocument(target);
  }

  // Citation links are real links (shareable, open in a new tab); a plain click
  // opens the document here without reloading.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-citation]");
    if (!link || event.defaultPrevented) return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (!ui.panel.contains(link)) returnFocusTo = link;
    const hash = link.getAttribute("href");
    if (location.hash !== hash) history.pushState(null, "", hash);
    showFromHash(true);
  });

  window.addEventListener("hashchange", () => showFromHash(false));
  window.addEventListener("popstate", () => showFromHash(false));

  ui.closePanel.addEventListener("click", closePanel);
  ui.browse.addEventListener("click", () => {
    if (!ui.panel.hidden && panelKey === "documents") {
      closePanel();
      return;
    }
    if (parseHash(location.hash)) history.replaceState(null, "", location.pathname + location.search);
    showDocumentList();
  });

  // Arrow keys turn the pages while the page view has focus.
  ui.panel.addEventListener("keydown", (event) => {
    if (!pageView || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
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

  // ------------------------------------------------------------- adding files

  let memoryKey = null; // used when this browser refuses session storage
  let stagedFile = null;
  let uploading = false;

  function storedKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE) || null;
    } catch {
      return memoryKey;
    }
  }

  function storeKey(key) {
    memoryKey = key;
    try {
      if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
      else window.sessionStorage.removeItem(KEY_STORAGE);
    } catch {
      // Storage is off (a private mode): the key lasts as long as this page.
    }
  }

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
    stagedFile = null;
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
    stagedFile = file;
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
    uploading = value;
    ui.addForm.setAttribute("aria-busy", String(value));
    ui.addSubmit.disabled = value;
    ui.addSubmit.textContent = value ? "Adding…" : "Add";
  }

  async function upload() {
    if (uploading) return;
    const key = storedKey() || ui.keyInput.value.trim();
    if (!key) {
      setAddStatus("error", "The API key is missing",
        "Type the service's API key (QA_API_KEY): adding documents needs it.");
      ui.keyInput.focus();
      return;
    }
    if (!stagedFile) {
      setAddStatus("error", "No file chosen", "Drop a file here or choose one to add.");
      ui.chooseFile.focus();
      return;
    }
    const form = new FormData();
    form.append("file", stagedFile, stagedFile.name);
    setUploading(true);
    setAddStatus("progress", `Adding “${stagedFile.name}”…`, "");
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
      stagedFile = null;
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

  function draggingFiles(event) {
    return Boolean(event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files"));
  }

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

  // ---------------------------------------------------------------------- start

  checkHealth();
  showFromHash(true);
  autosize();
  if (!parseHash(location.hash)) ui.question.focus();
})();
