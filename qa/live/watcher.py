"""Every worker process serves the live index version, memory-mapped.

`qa serve --workers N` runs N processes, each with its own model and QAService. A write
(POST or DELETE /documents, or a `qa index` run beside the server) saves a new version
and swaps the index folder's CURRENT pointer; the process that handled a POST also swaps
its own live index at once. Every other process notices here: a background task reads
the pointer (a few bytes) every RELOAD_INTERVAL_S seconds and, when it names a version
other than the one served, loads that version off the event loop, checks it against
the same expectation as at start-up, and swaps it in with `QAService.swap_index`. A
version that fails to load is logged once and the previous index keeps answering.

Indexes are loaded memory-mapped (`Index.load(..., mmap=True)`): the vectors and the
BM25 matrices are shared page cache, one copy for all workers rather than one each.
Where the start-up load was not mapped, the task re-loads that version mapped once
(`adopt`). The worker that handled a write serves the index it built in memory, a
private copy, until the next write elsewhere: at most one such copy at a time.
A worker keeps using a version's mapped files after a later save has pruned its
folder (Linux keeps unlinked files alive while they are mapped) until it swaps.
Documents and the chunk table are still per-process Python objects, as is the model.

The HTTP edge runs `watch` for the app's lifetime (`qa.api.app`); nothing here imports
the web stack.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from qa.errors import QAError
from qa.search.index import CURRENT, LOCK, Expectation, Index, read_manifest, same_version
from qa.service import QAService

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 0.5


def pointer(index_dir: Path) -> str | None:
    """The version folder CURRENT names, or None while there is none to read."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def writing_here(index_dir: Path) -> bool:
    """Whether this process holds the index's write lock now. `write_lock` records the
    holder's pid in the lock file; reading it takes no lock, so writers never wait."""
    try:
        holder = (index_dir / LOCK).read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return holder == f"pid {os.getpid()}"


def mapped_versions(index_dir: Path) -> set[str] | None:
    """Version folders whose vectors this process memory-maps (from /proc/self/maps);
    None where that cannot be read (not Linux)."""
    try:
        lines = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    root = str(index_dir.resolve()) + os.sep
    found = set()
    for line in lines.splitlines():
        fields = line.split(maxsplit=5)  # address perms offset dev inode [path]
        if len(fields) < 6:
            continue
        path = fields[5].strip().removesuffix(" (deleted)")
        if path.startswith(root) and path.endswith(f"{os.sep}vectors.faiss"):
            found.add(path[len(root) :].split(os.sep, 1)[0])
    return found


class IndexWatcher:
    """Keeps one service on the version CURRENT names. `poll` is blocking work: call it
    from a thread (the server's task does), never on the event loop."""

    def __init__(self, service: QAService, *, index_dir: Path, expect: Expectation) -> None:
        self.service = service
        self.index_dir = index_dir
        self.expect = expect
        self.seen: str | None = None  # the last pointer acted on (loaded, kept or refused)
        self.reloads = 0

    def poll(self) -> bool:
        """One look at the pointer; True when a new version was swapped in."""
        name = pointer(self.index_dir)
        if name is None or name == self.seen:
            return False
        try:
            disk = read_manifest(self.index_dir)
        except QAError as exc:
            return self._refuse(name, exc)
        if same_version(disk, self.service.index.manifest):
            self.seen = name  # e.g. the write was handled here and swapped already
            return False
        if writing_here(self.index_dir):
            # This process is saving and will swap its own new index in a moment (the
            # writer swaps before it lets go of the lock): look again next time.
            return False
        return self._load(name)

    def adopt(self) -> bool:
        """Re-load the serving version memory-mapped where the start-up load was not
        (so that the workers share the vectors); a no-op where it was, or off Linux."""
        mapped = mapped_versions(self.index_dir)
        if mapped is None or mapped:
            return False
        name = pointer(self.index_dir)
        return name is not None and self._load(name)

    def _load(self, name: str) -> bool:
        self.seen = name
        before = self.service.index
        try:
            new = Index.load(self.index_dir, self.expect, mmap=True)
        except Exception as exc:  # a damaged version must never stop the server
            return self._refuse(name, exc)
        if self.service.index is not before:
            # A write handled here swapped its own index in while this one loaded: it is
            # as new or newer. Look again next time rather than put an older one back.
            self.seen = None
            return False
        self.service.swap_index(new)
        self.reloads += 1
        log.info(
            "now serving index version %s (%d documents, %d chunks, memory-mapped)",
            name,
            len(new.documents),
            len(new.chunks),
        )
        return True

    def _refuse(self, name: str, exc: Exception) -> bool:
        self.seen = name  # one line per version: no second try until CURRENT changes
        reason = exc.message if isinstance(exc, QAError) else f"{type(exc).__name__}: {exc}"
        log.error(
            "index version %s in %s was not loaded, still serving the previous one: %s",
            name,
            self.index_dir,
            reason,
        )
        return False


async def watch(watcher: IndexWatcher, *, interval: float = RELOAD_INTERVAL_S) -> None:
    """Poll until cancelled. Loads run on the loop's default executor, not the thread
    pool that requests use, so a busy server still reloads."""
    last_error = ""
    step = watcher.adopt
    while True:
        try:
            await asyncio.to_thread(step)
        except Exception as exc:  # a bug here must not end reloading for good
            if str(exc) != last_error:
                log.exception("checking the index for a new version failed")
            last_error = str(exc)
        step = watcher.poll
        await asyncio.sleep(interval)
