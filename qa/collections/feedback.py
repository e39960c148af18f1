"""Feedback on answers: a thumbs up or down per answered request, kept durably beside the
index it was about (`<index>/feedback.sqlite3`).

SQLite in WAL mode with `synchronous=FULL`: every accepted entry is on disk when the
request returns, and survives a SIGKILL or a power cut; several worker processes may write
at once. The question is not written when /ask answers (that would cost a disk sync per
question): the server remembers the last questions it answered, by request id, in memory
only, and stores the question with the feedback when it arrives. Feedback whose request
this process does not remember (another worker's, or from before a restart) takes the
`question` the client sends along, if any.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qa.errors import IndexWriteError

FILE_NAME = "feedback.sqlite3"
#: Questions remembered per collection for their feedback (at most ~2,000 characters each).
REMEMBERED = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    comment TEXT,
    question TEXT,
    at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class FeedbackEntry:
    request_id: str
    helpful: bool
    comment: str | None
    question: str | None
    at: float  # seconds since the epoch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FeedbackStore:
    """One collection's feedback. Thread-safe; blocking (call it off the event loop)."""

    def __init__(self, index_dir: Path) -> None:
        self.path = index_dir / FILE_NAME
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._asked: OrderedDict[str, str] = OrderedDict()

    def remember(self, request_id: str, question: str) -> None:
        """The question a request answered, for feedback that may follow (memory only)."""
        with self._lock:
            self._asked[request_id] = question
            self._asked.move_to_end(request_id)
            while len(self._asked) > REMEMBERED:
                self._asked.popitem(last=False)

    def add(
        self,
        request_id: str,
        *,
        helpful: bool,
        comment: str | None = None,
        question: str | None = None,
    ) -> FeedbackEntry:
        with self._lock:
            entry = FeedbackEntry(
                request_id=request_id,
                helpful=helpful,
                comment=comment,
                question=self._asked.get(request_id, question),
                at=round(time.time(), 3),
            )
            db = self._connect()
            try:
                with db:  # one transaction, committed (and synced) before we return
                    db.execute(
                        "INSERT INTO feedback (request_id, helpful, comment, question, at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (request_id, int(helpful), comment, entry.question, entry.at),
                    )
            except sqlite3.Error as exc:
                raise IndexWriteError(
                    f"could not store the feedback in {self.path}: {exc}: check that the "
                    "index folder is writable and has space"
                ) from None
        return entry

    def entries(self, *, helpful: bool | None = None, limit: int = 1000) -> list[FeedbackEntry]:
        """The latest entries first; only the helpful or unhelpful ones when asked."""
        if not self.path.exists():
            return []
        where, params = ("", ()) if helpful is None else ("WHERE helpful = ?", (int(helpful),))
        with self._lock:
            rows = (
                self._connect()
                .execute(
                    "SELECT request_id, helpful, comment, question, at FROM feedback "
                    f"{where} ORDER BY id DESC LIMIT ?",
                    (*params, limit),
                )
                .fetchall()
            )
        return [FeedbackEntry(r[0], bool(r[1]), r[2], r[3], r[4]) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.execute("PRAGMA busy_timeout=5000")
                db.execute(_SCHEMA)
            except sqlite3.Error as exc:
                raise IndexWriteError(
                    f"cannot open the feedback store {self.path}: {exc}: check that the "
                    "index folder exists and is writable"
                ) from None
            self._db = db
        return self._db
