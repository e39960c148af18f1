"""Make the office documents of the realdocs eval from ../shared/realdocs (#20).

Nobody here wrote their text: every file is made from chapters of *The Rust Programming
Language* (MIT or Apache-2.0, (c) the Rust Project Developers) as kept in
../shared/realdocs, by the real libraries (tests/officemaker.py):

- `ch10-02-traits.pptx`: the traits chapter (html/) as a deck: a slide per section, the
  heading its title, its paragraphs in a text box (long sections go on over more slides,
  titled "... (continued)"), each slide's last paragraph as its speaker notes;
- `ch03-02-data-types.xlsx`: the data types chapter's first table (html/) as the sheet
  "Integer Types", and a sheet "Chapters" with the title and opening sentence of the
  data types and closures chapters (html/);
- `integer-literals.csv`: the data types chapter's second table (html/) as CSV (not in
  the workbook too: one text in two files would compete for the first place);
- `rust-book.epub`: the match and Box chapters (html/) as an EPUB, Box first in the
  spine, each chapter's main article as its XHTML;
- `structs-mail.eml`: a mail whose body is the first paragraph of the structs chapter,
  with the chapter's Word file (docx/) attached.

    .venv/bin/python eval/make_office_docs.py OUT_FOLDER
    qa index --corpus OUT_FOLDER --index office-index
    qa eval eval/realdocs-questions.jsonl --index office-index   # see "per format"
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDOCS = REPO.parent / "shared" / "realdocs"
sys.path.insert(0, str(REPO))

from qa.ingest.formats.html import parse_html  # noqa: E402
from tests.officemaker import make_eml, make_epub, make_pptx, make_xlsx, xhtml  # noqa: E402

SLIDE_CHARS = 900


def _sections(path: Path) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) of a chapter, in order; text before the first h2 under h1."""
    _, writer = parse_html(path.read_bytes())
    starts = {s.start: s.title for s in writer.sections}
    out: list[tuple[str, list[str]]] = []
    offset = 0
    for block in writer.blocks:
        if offset in starts:
            out.append((starts[offset], []))
        elif out:
            out[-1][1].append(block)
        offset += len(block) + 2
    return out


def _opening(path: Path) -> list[object]:
    """A chapter's first heading and the first sentence of its first paragraph."""
    (heading, paragraphs), *_ = _sections(path)
    first = paragraphs[0]
    return [heading, first[: first.index(". ") + 1] if ". " in first else first]


def deck(path: Path) -> bytes:
    slides: list[dict[str, object]] = []
    for heading, paragraphs in _sections(path):
        if not paragraphs:
            continue
        *body, notes = paragraphs if len(paragraphs) > 1 else [*paragraphs, ""]
        pages: list[list[str]] = [[]]
        for p in body:
            if pages[-1] and sum(len(x) for x in pages[-1]) + len(p) > SLIDE_CHARS:
                pages.append([])
            pages[-1].append(p)
        for i, page in enumerate(pages):
            slides.append(
                {
                    "title": heading if i == 0 else f"{heading} (continued)",
                    "boxes": [(0.5, 1.5, "\n".join(page))] if page else [],
                    "notes": notes if i == len(pages) - 1 else "",
                }
            )
    return make_pptx(slides, title="Traits: Defining Shared Behavior")


def tables(path: Path) -> dict[str, list[list[object]]]:
    from selectolax.parser import HTMLParser

    tree = HTMLParser(path.read_bytes())
    sheets: dict[str, list[list[object]]] = {}
    names = iter(["Integer Types", "Integer Literals"])
    for table in tree.css("table"):
        rows = [[" ".join(c.text().split()) for c in tr.css("th, td")] for tr in table.css("tr")]
        sheets[next(names, f"Table {len(sheets) + 1}")] = [r for r in rows if r]  # type: ignore[misc]
    return sheets


def epub(chapters: list[Path]) -> bytes:
    items = []
    for path in chapters:
        from selectolax.parser import HTMLParser

        main = HTMLParser(path.read_bytes()).css_first("main")
        body = main.html if main is not None else ""
        items.append((f"{path.stem}.xhtml", xhtml(path.stem, body or "")))
    return make_epub(
        items,
        title="The Rust Programming Language (two chapters)",
        author="Steve Klabnik and Carol Nichols",
        date="2024",
        spine=[1, 0],
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: make_office_docs.py OUT_FOLDER", file=sys.stderr)
        return 2
    if not REALDOCS.is_dir():
        print(f"the real documents are not at {REALDOCS}", file=sys.stderr)
        return 1
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    html = REALDOCS / "html"
    (out / "ch10-02-traits.pptx").write_bytes(deck(html / "ch10-02-traits.html"))
    sheets = tables(html / "ch03-02-data-types.html")
    literals = sheets.pop("Integer Literals")
    sheets["Chapters"] = [["Chapter", "Title", "Opening"]] + [
        [name, *_opening(html / f"{name}.html")]
        for name in ("ch03-02-data-types", "ch13-01-closures")
    ]
    (out / "ch03-02-data-types.xlsx").write_bytes(make_xlsx(sheets, title="Rust integer types"))
    csv_text = "\n".join(",".join(f'"{c}"' for c in row) for row in literals) + "\n"
    (out / "integer-literals.csv").write_text(csv_text, encoding="utf-8")
    (out / "rust-book.epub").write_bytes(
        epub([html / "ch06-02-match.html", html / "ch15-01-box.html"])
    )
    structs = _sections(html / "ch05-01-defining-structs.html")
    docx = (REALDOCS / "docx" / "ch05-01-defining-structs.docx").read_bytes()
    mail = make_eml(
        subject="Reading for Thursday: structs",
        body=f"Hi all,\n\n{structs[0][1][0]}\n\nThe chapter is attached.\n",
        attachments=[("ch05-01-defining-structs.docx", docx)],
    )
    (out / "structs-mail.eml").write_bytes(mail)
    for path in sorted(out.iterdir()):
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
