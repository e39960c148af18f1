// The collection the page works in. Its job: remember which collection of a
// server with collections is chosen, and put the service's per-corpus paths
// (/ask, /documents..., /feedback) under /collections/<name>/. On a server
// without collections nothing is chosen and every path stays as it is. Pure
// string work: it imports nothing.

export const scope = { collection: null };

const SCOPED = /^\/(ask|documents|feedback)(\/|\?|$)/;

/** `path` under the chosen collection (a path already under one stays as it is). */
export function scopedPath(path, collection = scope.collection) {
  if (!collection || !SCOPED.test(path)) return path;
  return `/collections/${encodeURIComponent(collection)}${path}`;
}

/** Whether a request to `path` goes to a collection (and so carries the tab's key). */
export function isCollectionPath(path) {
  return path.startsWith("/collections/");
}
