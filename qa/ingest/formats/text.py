"""`.md` and `.txt`: UTF-8 text with optional YAML front matter, kept byte for byte.

The body after the front matter is the document text exactly (no normalisation), so
documents indexed before other formats existed keep their text, hash and offsets.
Markdown's ATX headings (`## Title`) outside code fences are its sections.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import yaml

from qa.ingest.formats import Extracted, Limits
from qa.types import Section

MAX_METADATA_DEPTH = 8
MAX_FRONT_MATTER_EVENTS = 10_000
# Front matter: a first line of exactly '---', YAML, then a line of '---' (or '...').
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*\r?$", re.M)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.M)


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """Return (metadata, body). The body is the rest of the file, byte for byte."""
    match = FRONT_MATTER.match(raw)
    if not match:
        return {}, raw
    check_front_matter_shape(match.group(1) or "")
    try:
        loaded = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML front matter: {exc}") from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ValueError("front matter must be a YAML mapping (key: value lines)")
    return {str(k): _plain(v) for k, v in loaded.items()}, raw[match.end() :]


def check_front_matter_shape(yaml_text: str) -> None:
    """Refuse YAML that would expand or nest without bound before it is loaded: aliases
    can make a few bytes stand for gigabytes of metadata, and deep nesting overflows
    the loader's stack. Raises ValueError."""
    depth = 0
    try:
        for count, event in enumerate(yaml.parse(yaml_text, Loader=yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent):
                raise ValueError("front matter must not use YAML aliases (*name)")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if depth > MAX_METADATA_DEPTH + 1 or count > MAX_FRONT_MATTER_EVENTS:
                raise ValueError("front matter is too large or too deeply nested")
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML front matter: {exc}") from exc


def _plain(value: Any) -> Any:
    """YAML turns 2020-01-08 into a date; keep metadata JSON-friendly."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def markdown_sections(text: str) -> tuple[Section, ...]:
    """ATX headings outside fenced code blocks, at the offset of their title text."""
    fences = [m.start() for m in _FENCE.finditer(text)]
    sections: list[Section] = []
    for match in _ATX.finditer(text):
        inside_fence = bisect.bisect_left(fences, match.start()) % 2 == 1
        if not inside_fence:
            sections.append(Section(match.start(2), len(match.group(1)), match.group(2)))
    return tuple(sections)


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not valid UTF-8 (byte {exc.start})") from exc


def parse_text(raw: str, *, fmt: str) -> Extracted:
    """Decoded file content to its body, metadata and (Markdown) headings."""
    metadata, body = split_front_matter(raw)
    sections = markdown_sections(body) if fmt == "markdown" else ()
    return Extracted(format=fmt, text=body, metadata=metadata, sections=sections)


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    del limits  # the size check is the caller's; text needs no other bound
    return parse_text(decode(data), fmt=fmt)
