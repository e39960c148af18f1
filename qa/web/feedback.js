// Feedback on answers. Its job: the thumbs up and down under each reply, which
// post {request_id, helpful, question} to the reply's own collection's
// /feedback (the collection chosen when it was asked, whatever is chosen now).
//
// Safety rule: text that comes from the service is only ever put into the page
// with textContent or text nodes, never parsed as HTML.

import { h } from "./dom.js";
import { api } from "./api.js";
import { scopedPath } from "./scope.js";

function thumb(helpful) {
  return h("button", {
    type: "button",
    className: "feedback-button",
    "aria-pressed": "false",
    "aria-label": helpful ? "This answer helped" : "This answer did not help",
    title: helpful ? "Helpful" : "Not helpful",
    "data-helpful": String(helpful),
  }, helpful ? "👍" : "👎");
}

/** Adds the thumbs to a reply's node; a reply without a request id gets none. */
export function addFeedback(node, result) {
  const requestId = result && typeof result.request_id === "string" ? result.request_id : "";
  if (!node || !requestId) return;
  const path = scopedPath("/feedback");
  const up = thumb(true);
  const down = thumb(false);
  const status = h("span", { className: "feedback-status", role: "status" });
  const send = async (helpful) => {
    up.disabled = down.disabled = true;
    status.textContent = "Sending…";
    try {
      await api(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ request_id: requestId, helpful, question: result.question }),
      });
      (helpful ? up : down).setAttribute("aria-pressed", "true");
      status.textContent = "Thank you: your feedback was saved.";
    } catch (error) {
      up.disabled = down.disabled = false;
      status.textContent = `Feedback not saved: ${error.message}`;
    }
  };
  up.addEventListener("click", () => send(true));
  down.addEventListener("click", () => send(false));
  node.append(h(
    "div",
    { className: "feedback", role: "group", "aria-label": "Was this answer helpful?" },
    h("span", { className: "feedback-label" }, "Helpful?"),
    up,
    down,
    status,
  ));
}
