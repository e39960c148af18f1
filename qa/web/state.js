// The page's mutable state, in one place. Its job: hold every variable the page
// changes over its life (the old single script's top-level `let`s), so that each
// module reads and writes the same copy. An imported binding cannot be assigned
// by the importer, so the values live on one exported object
// (`shared.busy = true`). Imports nothing.

export const shared = {
  busy: false,
  replyCount: 0,
  panelKey: null, // what the panel shows now: a location hash, or "documents"
  panelRequest: 0, // increases with every load, so a slow old load cannot win
  returnFocusTo: null,
  pageView: null, // the paged document on show: {doc, target, pages, page, highlight}
  pageZoomed: false, // the page at its own size (scrolls sideways): for small screens
  memoryKey: null, // used when this browser refuses session storage
  stagedFile: null,
  uploading: false,
};

export const documentCache = new Map();
