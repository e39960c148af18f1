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
    docBody: $("doc-body"),
    copyLink: $("copy-link"),
    closePanel: $("close-panel"),
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

  /** The shareable fragment for a citation: #doc=<id>&start=..&end=..&as=..&ae=..[&page=..] */
  function citationHash(docId, passage, answer, page) {
    const params = new URLSearchParams();
    params.set("doc", docId);
    if (page) params.set("page", String(page));
    if (passage) {
      params.set("start", String(passage[0]));
      params.set("end", String(passage[1]));
    }
    if (answer) {
      params.set("as", String(answer[0]));
      params.set("ae", String(answer[1]));
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
    return {
      docId,
      passage: readOffsetPair(params, "start", "end"),
      answer: readOffsetPair(params, "as", "ae"),
      page: /^[1-9]\d{0,5}$/.test(params.get("page") || "") ? Number(params.get("page")) : null,
    };
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
      );
    }

    const markers = citedIndexes.map((index) => {
      const passage = result.passages[index];
      const hash = citationHash(
        passage.doc_id, [passage.start, passage.end], [answer.start, answer.end], passage.page);
      return citationLink(
        "cite answer-cite", hash,
        `Citation ${index + 1}: open ${passage.title || passage.doc_id} at the answer`,
        String(index + 1));
    });
    if (!markers.length) {
      // The answer came from a passage that is not listed: still link to its document.
      markers.push(citationLink(
        "cite answer-cite",
        citationHash(answer.doc_id, null, [answer.start, answer.end]),
        "Open the document at the answer", "source"));
    }

    const confidence = Number(answer.confidence);
    const source = result.passages[citedIndexes[0]];
    return h(
      "div",
      { className: "answer-card" },
      h("p", { className: "answer-label", id: `${replyId}-label` }, "Answer"),
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
        answer.page ? `, p. ${answer.page}` : "",
        answer.section ? ` · ${answer.section}` : "",
        Number.isFinite(confidence)
          ? h("span", { className: "confidence" },
            ` · confidence ${Math.round(Math.max(0, Math.min(1, confidence)) * 100)}%`)
          : null,
      ),
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
    const pageHash = passage.page
      ? citationHash(passage.doc_id, [passage.start, passage.end], answerRange, passage.page)
      : null;

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
    const scoreText = ["dense", "lexical", "fused"]
      .filter((key) => typeof scores[key] === "number")
      .map((key) => `${key} ${scores[key].toFixed(3)}`)
      .join(", ");

    const meta = metadataNodes(passage.metadata);
    return h(
      "li",
      {
        className: "passage" + (isCited ? " is-cited" : ""),
        "data-doc-id": passage.doc_id,
        title: scoreText ? `Scores: ${scoreText}` : null,
      },
      citationLink("cite passage-cite", hash, `Citation ${number}: open ${title}`, String(number)),
      h(
        "div",
        { className: "passage-body" },
        h(
          "p",
          { className: "passage-title" },
          h("a", { href: hash, className: "passage-link", "data-citation": "" }, title),
          isCited ? h("span", { className: "badge" }, "Answer source") : null,
        ),
        passage.page || passage.section
          ? h(
            "p",
            { className: "passage-where" },
            pageHash
              ? h("a", {
                href: pageHash,
                className: "page-cite",
                "data-citation": "",
                "aria-label": `Open page ${passage.page} of ${title} with the passage highlighted`,
              }, `p. ${passage.page}`)
              : null,
            passage.section ? h("span", { className: "passage-section" }, passage.section) : null,
          )
          : null,
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
    ui.copyLink.hidden = true;
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
    ui.docMeta.replaceChildren(...metadataNodes(doc.metadata));
    ui.docLegend.hidden = !cited;
    ui.copyLink.hidden = !cited;
    ui.docBody.removeAttribute("aria-busy");

    const text = h("div", { className: "doc-text" });
    const first = appendHighlighted(
      text, String(doc.text || ""), target.passage, target.answer, "hl-passage", "hl-answer");
    const pageView = target.page && Array.isArray(doc.pages) ? renderPageView(doc, target) : null;
    ui.docBody.replaceChildren(...(pageView ? [pageView] : []), text);
    if (pageView) {
      ui.docBody.scrollTop = 0;
      ui.docTitle.focus({ preventScroll: true });
      return;
    }
    ui.docBody.scrollTop = 0;
    // The cited passage decides the scroll: the answer may come earlier in the document.
    const passageMark = text.querySelector(".hl-passage") || first;
    if (passageMark) scrollToHighlight(passageMark, text.querySelector(".hl-answer"));
    ui.docTitle.focus({ preventScroll: true });
  }

  /** The rendered page with the cited passage highlighted, above the exact text. */
  function renderPageView(doc, target) {
    const span = target.passage || target.answer;
    const query = span ? `?start=${span[0]}&end=${span[1]}` : "";
    const src = `${documentUrl(doc.doc_id)}/pages/${target.page}.png${query}`;
    const caption = h("figcaption", {}, `Page ${target.page} of ${doc.pages.length}` +
      (span ? ", the cited passage highlighted" : ""));
    const image = h("img", {
      className: "page-image",
      src,
      alt: `Page ${target.page} of ${doc.title || doc.doc_id}` +
        (span ? ", with the cited passage highlighted" : ""),
    });
    image.addEventListener("error", () => {
      caption.textContent = `Page ${target.page} could not be drawn; the exact text is below.`;
      image.remove();
    });
    return h("figure", { className: "page-view" }, image, caption);
  }

  // ----------------------------------------------------------------- uploads

  const KEY_STORAGE = "qa-api-key"; // this tab's session only: never localStorage

  function uploadForm() {
    const status = h("p", { className: "upload-status", role: "status" });
    const key = h("input", {
      type: "password", id: "upload-key", autocomplete: "off",
      value: sessionStorage.getItem(KEY_STORAGE) || "",
    });
    const file = h("input", {
      type: "file", id: "upload-file", accept: ".pdf,.html,.htm,.docx,.md,.txt",
    });
    const zone = h("label", { className: "drop-zone", for: "upload-file" },
      "Drop a PDF, web page, Word or text file here, or pick one: ", file);
    let dropped = null;
    zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("is-over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("is-over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("is-over");
      dropped = event.dataTransfer && event.dataTransfer.files[0];
      if (dropped) status.textContent = `Ready to add ${dropped.name}.`;
    });
    const form = h("form", { className: "upload-form", "aria-label": "Add a file" },
      h("h3", {}, "Add a file"),
      h("label", { for: "upload-key" }, "API key (kept in this tab only)"), key,
      zone,
      h("button", { type: "submit", className: "button button-primary" }, "Add file"),
      status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = dropped || (file.files && file.files[0]);
      if (!chosen) { status.textContent = "Choose a file first."; return; }
      sessionStorage.setItem(KEY_STORAGE, key.value);
      const body = new FormData();
      body.append("file", chosen, chosen.name);
      status.textContent = `Adding ${chosen.name}…`;
      try {
        const added = await api("/documents", {
          method: "POST", body, headers: { Authorization: `Bearer ${key.value}` },
        });
        documentCache.delete(added.doc_id);
        await showDocumentList();
        const again = ui.docBody.querySelector(".upload-status");
        if (again) again.textContent = `Added ${added.doc_id} (${added.chunks} passages).`;
      } catch (error) {
        status.textContent = error.message;
      }
    });
    return form;
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
    ), uploadForm());
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

  document.addEventListener("keydown", (event) => {
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

  // ---------------------------------------------------------------------- start

  checkHealth();
  showFromHash(true);
  autosize();
  if (!parseHash(location.hash)) ui.question.focus();
})();
