"""HTML: the main article through selectolax (the only import of it), by explicit rules.

Rules, chosen over trafilatura by benchmarks/bench_extract.py's comparison on
../shared/realdocs/html/ (article recall and chrome leakage, see the README):
- the article is the first of `<main>`, `[role=main]`, `<article>`, else `<body>`;
- inside it, navigation and page chrome are dropped: script, style, nav, header,
  footer, aside, forms and controls, hidden elements, and navigation/search roles;
- every block element (p, li, h1-h6, pre, tr, ...) is one paragraph of the text, blank
  line separated; white space inside a block folds as a browser shows it, except in
  `<pre>`, which is kept as written (code keeps its lines);
- h1-h6 are the sections; the title is `<title>`, else the first heading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from qa.ingest.formats import Extracted, Limits
from qa.ingest.formats.normalize import normalize
from qa.types import Section

_DROP = (
    "script, style, noscript, template, nav, header, footer, aside, form, button, "
    "input, select, textarea, svg, iframe, object, embed, canvas, dialog, [hidden], "
    "[aria-hidden=true], [role=navigation], [role=search], [role=banner], "
    "[role=contentinfo], [role=dialog]"
)
_ROOTS = ("main", "[role=main]", "article", "body")
_BLOCKS = frozenset(
    "address blockquote dd details div dl dt figcaption figure h1 h2 h3 h4 h5 h6 hr li "
    "ol p pre section summary table tbody thead tfoot tr ul caption br".split()
)
_CELLS = frozenset({"td", "th"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACE = re.compile(r"\s+")
MAX_DEPTH = 512


class _Writer:
    """Collects blocks of text and the headings among them."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.length = 0
        self.inline: list[str] = []
        self.sections: list[Section] = []

    def flush(self, *, pre: bool = False, heading: int | None = None) -> None:
        raw = "".join(self.inline)
        self.inline = []
        text = raw.strip("\n") if pre else _SPACE.sub(" ", raw).strip()
        if not text.strip():
            return
        if self.blocks:
            self.length += 2  # the blank line that joins blocks
        if heading is not None:
            self.sections.append(Section(self.length, heading, text))
        self.blocks.append(text)
        self.length += len(text)

    def text(self) -> str:
        return "\n\n".join(self.blocks)


def _events(root: Any) -> Iterator[tuple[str, Any]]:
    """('open', node), ('text', str), ('close', node) in document order, without recursion
    (hostile pages nest deeper than Python's stack)."""
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            yield "close", node
            continue
        if node.tag == "-text":
            yield "text", node.text_content or ""
            continue
        yield "open", node
        stack.append((node, True))
        if len(stack) < MAX_DEPTH:
            children = list(node.iter(include_text=True))
            stack.extend((child, False) for child in reversed(children))


def _walk(root: Any) -> _Writer:
    writer = _Writer()
    pre = 0
    for kind, item in _events(root):
        if kind == "text":
            # Per text node: the rules only drop or replace characters inside a node.
            writer.inline.append(normalize(item))
            continue
        tag = item.tag
        if tag in _CELLS and kind == "close":
            writer.inline.append(" ")
        if tag in _BLOCKS:
            writer.flush(pre=pre > 0, heading=_HEADINGS.get(tag) if kind == "close" else None)
        if tag == "pre":
            pre += 1 if kind == "open" else -1
    writer.flush(pre=pre > 0)
    return writer


def _title(tree: Any, sections: list[Section]) -> str | None:
    node = tree.css_first("title")
    title = _SPACE.sub(" ", node.text()).strip() if node is not None else ""
    return title or (sections[0].title if sections else None)


def parse_html(data: bytes) -> tuple[str | None, _Writer]:
    from selectolax.parser import HTMLParser

    tree = HTMLParser(data, detect_encoding=True, use_meta_tags=True)
    root = next((n for sel in _ROOTS if (n := tree.css_first(sel)) is not None), None)
    if root is None:
        return None, _Writer()
    for node in root.css(_DROP):
        node.decompose()
    writer = _walk(root)
    return _title(tree, writer.sections), writer


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    del limits  # the size bound is the caller's; parsing is linear in it
    title, writer = parse_html(data)
    text = writer.text()
    if not text.strip():
        raise ValueError("it has no main text (only navigation, scripts or markup)")
    return Extracted(format=fmt, text=text, title=title, sections=tuple(writer.sections))
