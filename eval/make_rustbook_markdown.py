"""The Rust book back in the shape of its mdBook Markdown sources, for eval/suite.json.

The issue's hidden documentation corpus is the Rust book's Markdown sources, and what
Debian ships (`make rust-book`, the `rustbook` corpus) is the HTML mdBook made of them.
The two differ in ways retrieval sees: in the sources a program listing is an include
directive (```` ```rust ```` then `{{#rustdoc_include ../listings/ch05-.../listing-05-13/
src/main.rs}}`), not the code; links are reference-style (`[Chapter 6][enums]<!-- ignore
-->`, with `[enums]: ch06-00-enums.html` at the end); file names and captions are raw
`<span>`s; lines are wrapped at 80 columns. This script writes each HTML page as such a
source, so the suite can measure both systems on that shape with the same questions
(`rustbook-md`). Short blocks (3 lines or fewer) stay inline, as the sources keep them.

    python eval/make_rustbook_markdown.py [.rust-book] [.rust-book-md]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lxml import html
from lxml.html import HtmlElement

INLINE_LINES = 3  # a code block of at most this many lines stays in the page
_FILES = {"rust": "src/main.rs", "toml": "Cargo.toml"}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class Page:
    """One page's conversion: its reference links and its listings' counter."""

    def __init__(self, listing_dir: str) -> None:
        self.listing_dir = listing_dir
        self.refs: dict[str, str] = {}
        self.unnumbered = 0

    def link(self, href: str, text: str) -> str:
        page, _, anchor = href.partition("#")
        label = anchor or re.sub(r"^(ch|appendix-)\d+(-\d+)?-", "", Path(page).stem) or "link"
        label = self.refs_label(label, href)
        ignore = "<!-- ignore -->" if page.endswith(".html") and "://" not in page else ""
        return f"[{text}][{label}]{ignore}"

    def refs_label(self, label: str, href: str) -> str:
        base, n = label, 1
        while self.refs.get(label, href) != href:
            n += 1
            label = f"{base}-{n}"
        self.refs[label] = href
        return label

    def inline(self, el: HtmlElement) -> str:
        out = [el.text or ""]
        for child in el:
            out.append(self.inline_element(child))
            out.append(child.tail or "")
        return "".join(out)

    def inline_element(self, el: HtmlElement) -> str:
        if not isinstance(el.tag, str):  # a comment: the sources' own `<!-- ignore -->`
            return ""
        tag, inner = el.tag, self.inline(el)
        if tag == "code":
            tick = "``" if "`" in inner else "`"
            return f"{tick}{inner}{tick}"
        if tag in ("em", "i"):
            return f"*{inner}*"
        if tag in ("strong", "b"):
            return f"**{inner}**"
        if tag == "a" and el.get("href") and "header" not in (el.get("class") or ""):
            return self.link(el.get("href", ""), inner)
        if tag == "span" and el.get("class") in ("filename", "caption"):
            return f'<span class="{el.get("class")}">{inner}</span>'
        if tag == "sup":
            return f"[^{inner.strip()}]"
        if tag == "br":
            return "\n"
        if tag == "img":
            return f'<img alt="{el.get("alt", "")}" src="{el.get("src", "")}" class="center" />'
        return inner

    def blocks(self, el: HtmlElement) -> list[str]:
        out: list[str] = []
        for child in el:
            out.extend(self.block(child))
        return out

    def block(self, el: HtmlElement) -> list[str]:
        tag = el.tag
        if not isinstance(tag, str):
            return []
        if re.fullmatch(r"h[1-6]", tag):
            return ["#" * int(tag[1]) + " " + " ".join(self.inline(el).split())]
        if tag == "p":
            text = self.inline(el).strip()
            return [text] if text else []
        if tag == "pre":
            return [self.code(el)]
        if tag == "blockquote":
            quoted = "\n\n".join(self.blocks(el)).split("\n")
            return ["\n".join(("> " + line).rstrip() for line in quoted)]
        if tag in ("ul", "ol"):
            items = []
            for number, li in enumerate(el.findall("li"), 1):
                mark = f"{number}. " if tag == "ol" else "* "
                body = "\n\n".join(self.blocks(li)) if li.find("p") is not None else ""
                text = (body or self.inline(li)).strip().replace("\n", "\n" + " " * len(mark))
                items.append(mark + text)
            return ["\n".join(items)]
        if tag == "table":
            return [self.table(el)]
        if tag == "img":
            return [self.inline_element(el)]
        if tag == "div" and "footnote-definition" in (el.get("class") or ""):
            note = el.find("sup")
            mark = "" if note is None else note.text_content().strip()
            if note is not None:
                note.drop_tree()
            return [f"[^{mark}]: " + " ".join(b for b in self.blocks(el))]
        if len(el):
            return self.blocks(el)
        return [el.text.strip()] if (el.text or "").strip() else []

    def code(self, pre: HtmlElement) -> str:
        code = pre.find(".//code")
        source = pre if code is None else code
        classes = (source.get("class") or "").split()
        lang = next((c[len("language-") :] for c in classes if c.startswith("language-")), "")
        text = source.text_content().rstrip("\n")
        if text.count("\n") + 1 <= INLINE_LINES:
            return f"```{lang}\n{text}\n```"
        caption = _next_caption(pre)
        number = re.search(r"Listing (\d+)-(\d+)", caption)
        if number:
            name = f"listing-{int(number.group(1)):02d}-{int(number.group(2)):02d}"
        else:
            self.unnumbered += 1
            name = f"no-listing-{self.unnumbered:02d}"
        directive = "rustdoc_include" if lang == "rust" else "include"
        target = _FILES.get(lang, "output.txt")
        path = f"../listings/{self.listing_dir}/{name}/{target}"
        return f"```{lang}\n{{{{#{directive} {path}}}}}\n```"

    def table(self, table: HtmlElement) -> str:
        rows = [
            [" ".join(self.inline(cell).split()) for cell in row.findall("./*")]
            for row in table.iter("tr")
        ]
        if not rows:
            return ""
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        return "\n".join(lines)


def _next_caption(pre: HtmlElement) -> str:
    """The listing caption right after a code block, if any ("Listing 5-13: ...")."""
    following = pre.getnext()
    if following is None:
        return ""
    span = following.find(".//span[@class='caption']")
    return "" if span is None else span.text_content()


def convert(path: Path, listing_dirs: dict[str, str]) -> str:
    root = html.fromstring(path.read_bytes())
    main = root.find(".//main")
    if main is None:
        raise ValueError(f"{path.name}: no <main> element")
    chapter = path.stem.split("-")[0]
    page = Page(listing_dirs.get(chapter, chapter))
    text = "\n\n".join(b for b in page.blocks(main) if b.strip())
    refs = "\n".join(f"[{label}]: {href}" for label, href in page.refs.items())
    return text + "\n" + (f"\n{refs}\n" if refs else "")


def chapter_titles(folder: Path) -> dict[str, str]:
    """Per chapter ("ch05"), its listings folder name, as the sources name it:
    the chapter and its first heading ("ch05-using-structs-to-structure-related-data")."""
    out = {}
    for path in sorted(folder.glob("ch*-00-*.html")):
        heading = html.fromstring(path.read_bytes()).find(".//main//h1")
        title = path.stem[5:] if heading is None else heading.text_content()
        out[path.stem[:4]] = f"{path.stem[:4]}-{slug(title)}"
    return out


def main(argv: list[str]) -> int:
    source = Path(argv[0] if argv else ".rust-book")
    target = Path(argv[1] if len(argv) > 1 else ".rust-book-md")
    pages = sorted(source.glob("*.html"))
    if not pages:
        print(f"no pages in {source}: run `make rust-book` first", file=sys.stderr)
        return 1
    target.mkdir(parents=True, exist_ok=True)
    dirs = chapter_titles(source)
    for path in pages:
        (target / f"{path.stem}.md").write_text(convert(path, dirs), encoding="utf-8")
    print(f"the Rust book as Markdown sources: {len(pages)} pages in {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
