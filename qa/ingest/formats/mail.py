"""Mail (.eml) through the standard library's `email` package (policy.default).

- The subject is the title; `from`, `to`, `cc` and `date` are the metadata.
- The text opens with the subject, then one line of who wrote to whom and when
  ("From: ... · To: ... · Date: ..."), so a question about the sender finds the mail;
  then the body: the text/plain part, else the text/html part through the HTML reader's
  rules (its headings become sections).
- Attachments whose names end in a suffix qa reads are returned as `attachments`,
  (name, bytes), to be read as documents of their own (qa.ingest.attachments); their
  names are listed in the metadata `attachments`. The names are reduced to a plain file
  name (no folders), so `../../x.docx` is `x.docx`.
"""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from pathlib import PurePosixPath
from typing import Any

from qa.ingest.formats import Extracted, Limits, format_of
from qa.ingest.formats.html import parse_html
from qa.ingest.formats.normalize import normalize
from qa.types import Section

SEPARATOR = " · "
MAX_ATTACHMENTS = 100
_FIELDS = (("from", "From"), ("to", "To"), ("cc", "Cc"), ("date", "Date"))
_UNSAFE = re.compile(r"[\x00-\x1f\x7f#]")
_SPACE = re.compile(r"\s+")


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    if not isinstance(message, EmailMessage):  # policy.default always makes one
        raise ValueError("it is not a mail message")
    return message


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header the parser cannot fold
        return ""
    return _SPACE.sub(" ", normalize(str(value))).strip() if value is not None else ""


def attachment_name(part: Any) -> str:
    """A plain file name for an attachment part: no folders, no control characters."""
    raw = part.get_filename() or ""
    name = PurePosixPath(_UNSAFE.sub("", str(raw)).replace("\\", "/")).name.strip()
    return "" if name in (".", "..") or name.startswith(".") else name


def readable_attachments(message: EmailMessage) -> list[tuple[str, bytes]]:
    """(name, bytes) of each attachment of a format qa reads, names made unique."""
    out: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for part in message.iter_attachments():
        name = attachment_name(part)
        if not name or format_of(name) is None:
            continue
        stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
        unique, n = name, 1
        while unique.lower() in seen:
            n += 1
            unique = f"{stem}-{n}{suffix}"
        seen.add(unique.lower())
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append((unique, payload))
        if len(out) >= MAX_ATTACHMENTS:
            break
    return out


def _body(message: EmailMessage) -> tuple[str, list[Section]]:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return "", []
    if part.get_content_type() == "text/html":
        raw = part.get_payload(decode=True)
        _, writer = parse_html(raw if isinstance(raw, bytes) else b"")
        return writer.text(), list(writer.sections)
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):  # an unknown or lying charset
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else ""
    return normalize(str(content)).strip(), []


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    del limits  # the size bound is the caller's; each attachment is bounded on its own
    message = parse(data)
    subject = _header(message, "subject")
    metadata: dict[str, Any] = {key: v for key, name in _FIELDS if (v := _header(message, name))}
    head = SEPARATOR.join(f"{name}: {metadata[key]}" for key, name in _FIELDS if key in metadata)
    body, body_sections = _body(message)
    parts = [p for p in (subject, head) if p]
    offset = sum(len(p) + 2 for p in parts)
    sections = [Section(s.start + offset, s.level, s.title) for s in body_sections]
    attachments = readable_attachments(message)
    if attachments:
        metadata["attachments"] = [name for name, _ in attachments]
    if not body.strip() and not attachments:
        raise ValueError("it has no text body and no attachment qa reads")
    return Extracted(
        format=fmt,
        text="\n\n".join([*parts, body] if body else parts),
        title=subject or None,
        metadata=metadata,
        sections=tuple(sections),
        attachments=tuple(attachments),
    )
