// The conversation. Its job: ask a question (the question box, its count and
// autosize, Enter to send), keep the busy state, show the question, the pending
// reply and a failed ask's error card with its "Try again", and scroll to the new
// reply. The error card lives here, not in answer.js, because its retry asks
// again: keeping it beside ask() keeps the imports one way.
//
// Safety rule: text that comes from the service (questions, answers, titles,
// document text, metadata, error messages) is only ever put into the page with
// textContent or text nodes, never parsed as HTML.

import { ui, h } from "./dom.js";
import { shared } from "./state.js";
import { ApiError, api, describeDetail, setServiceState, checkHealth } from "./api.js";
import { addReply } from "./answer.js";
import { addFeedback } from "./feedback.js";

const MAX_QUESTION_CHARS = 2000;
const COUNT_SHOWN_FROM = 1800;

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
            if (shared.busy) return;
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
  shared.busy = value;
  ui.form.setAttribute("aria-busy", String(value));
  document.body.classList.toggle("is-busy", value);
  ui.send.disabled = value;
  ui.send.querySelector(".send-label").textContent = value ? "Asking…" : "Ask";
}

async function ask(question) {
  if (shared.busy) return;
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
    addFeedback(replyNode, result);
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

export function autosize() {
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

/** Wires the question form; app.js calls it once, at load. */
export function wireChat() {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (shared.busy) return;
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
}
