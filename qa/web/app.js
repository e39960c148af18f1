// Chat page for the question-answering service. Plain JavaScript as native ES
// modules, no build step: index.html loads this entry module, which imports the
// rest from /static/. Its job: wire each part of the page once, then start up.
//
// The modules, each with one job (imports flow one way, from the bottom up):
//   dom.js        the page's elements, h(), text with highlights
//   state.js      the mutable state the modules share
//   citations.js  citation hashes and document URLs
//   api.js        fetch wrapper, errors, health check, stored API key
//   metadata.js   date/source and page/section nodes
//   answer.js     the answer card and its passages
//   chat.js       asking: the question box, busy state, conversation
//   docview.js    a document's text view and page view
//   document.js   the document panel and the document list
//   upload.js     the add-document dialog and drag and drop
//   scope.js      the chosen collection and the paths under it
//   collections.js the collection picker and its key
//   feedback.js   the thumbs up and down on each answer
//
// Safety rule for every module: text that comes from the service (questions,
// answers, titles, document text, metadata, error messages) is only ever put
// into the page with textContent or text nodes, never parsed as HTML.

import { ui } from "./dom.js";
import { parseHash } from "./citations.js";
import { checkHealth } from "./api.js";
import { autosize, wireChat } from "./chat.js";
import { showFromHash, wireDocumentPanel } from "./document.js";
import { wireUpload } from "./upload.js";
import { wireCollections } from "./collections.js";

// Each listener is added here once: module code runs once per page. The picker
// first: following a citation to another collection switches before the panel loads.
wireCollections();
wireChat();
wireDocumentPanel();
wireUpload();

// ---------------------------------------------------------------------- start

checkHealth();
showFromHash(true);
autosize();
if (!parseHash(location.hash)) ui.question.focus();
