"""`.md` and `.txt`: UTF-8 text with optional YAML front matter, kept byte for byte.

The body after the front matter is the document text exactly (no normalisation), so
documents indexed before other formats existed keep their text, hash and offsets.
Markdown's ATX (`## Title`) and setext (a line underlined with `===` or `---`) headings
outside code fences are its sections, their titles without MkDocs attribute lists
(`{ #anchor }`) or inline markup; a Markdown file whose front matter names no title takes
the first heading's.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import yaml

from qa.ingest.formats import Extracted, Limits
from qa.text import HTML_TAG
from qa.types import Section

MAX_METADATA_DEPTH = 8
MAX_FRONT_MATTER_EVENTS = 10_000
# Front matter: a first line of exactly '---', YAML, then a line of '---' (or '...').
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*\r?$", re.M)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.M)
# A paragraph line underlined by === (level 1) or --- (level 2), after a blank line or a
# heading: a "---" under a list item or a table is not a heading.
_SETEXT = re.compile(
    r"(?:\A|\n[ \t]*\n)( {0,3}(?![-*+>#|] |\d+[.)] )[^\s|][^\n]*?)[ \t]*\r?\n"
    r" {0,3}(=+|-+)[ \t]*\r?$",
    re.M,
)
# Markup inside a heading's text that is not its title: `{ #anchor }` attribute lists,
# inline code ticks, emphasis, links' targets, HTML tags.
_ATTRS = re.compile(r"\s*\{\s*[:#.][^}]*\}\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(HTML_TAG)


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


def heading_title(raw: str) -> str:
    """A heading's words without the markup around them: "Run it `fastapi dev` { #run }"
    is "Run it fastapi dev"."""
    text = _TAG.sub("", _LINK.sub(r"\1", _ATTRS.sub("", raw)))
    return " ".join(text.replace("`", "").replace("**", "").split())


def markdown_sections(text: str) -> tuple[Section, ...]:
    """ATX and setext headings outside fenced code blocks, at the offset of their line
    (so a passage that opens with "## Title" sits under it), titled without markup
    (`heading_title`)."""
    fences = [m.start() for m in _FENCE.finditer(text)]

    def outside(at: int) -> bool:
        return bisect.bisect_left(fences, at) % 2 == 0

    found = [
        (m.start(), len(m.group(1)), m.group(2)) for m in _ATX.finditer(text) if outside(m.start())
    ]
    for m in _SETEXT.finditer(text):
        start = m.start(1) + len(m.group(1)) - len(m.group(1).lstrip())
        if outside(start) and not _ATX.match(m.group(1).strip()):
            found.append((start, 1 if m.group(2)[0] == "=" else 2, m.group(1).strip()))
    sections = [
        Section(a, level, t) for a, level, raw in sorted(found) if (t := heading_title(raw))
    ]
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
    # The page's own name: front matter's title wins (the caller reads it from metadata),
    # else the first heading, which names a Markdown page better than its file name.
    title = None if metadata.get("title") or not sections else sections[0].title
    return Extracted(format=fmt, text=body, title=title, metadata=metadata, sections=sections)


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    del limits  # the size check is the caller's; text needs no other bound
    return parse_text(decode(data), fmt=fmt)
