"""Real office files made with the real libraries: slides with python-pptx, workbooks with
openpyxl, EPUBs as the EPUB 3 spec lays them out (a zip with mimetype, container.xml, an
OPF and XHTML chapters), mail with the standard library; and the hostile ones by hand.
The eval's script (eval/make_office_docs.py) builds its documents with these too."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from email.message import EmailMessage
from html import escape

Slide = dict[str, object]


def make_pptx(slides: Sequence[Slide], *, title: str = "") -> bytes:
    """A deck; each slide a dict with `title`, `boxes` (list of (left, top, text) in
    inches, text lines split at newlines), `table` (rows of cells, optional), `notes`,
    and `group` (list of (left, top, text) put inside one group shape)."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = title
    for spec in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
        if spec.get("title") is not None:
            slide.shapes.title.text = str(spec["title"])
        else:
            slide.shapes.title._element.getparent().remove(slide.shapes.title._element)
        for left, top, text in spec.get("boxes", []):  # type: ignore[attr-defined]
            box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(4), Inches(1))
            box.text_frame.text = text
        if spec.get("group"):
            group = slide.shapes.add_group_shape()
            for left, top, text in spec["group"]:  # type: ignore[attr-defined]
                box = group.shapes.add_textbox(Inches(left), Inches(top), Inches(3), Inches(1))
                box.text_frame.text = text
        rows = spec.get("table")
        if rows:
            cols = len(rows[0])  # type: ignore[index]
            shape = slide.shapes.add_table(
                len(rows),
                cols,
                Inches(0.5),
                Inches(5),
                Inches(9),
                Inches(1),  # type: ignore[arg-type]
            )
            for r, row in enumerate(rows):  # type: ignore[attr-defined]
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if spec.get("notes"):
            slide.notes_slide.notes_text_frame.text = str(spec["notes"])
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def make_xlsx(sheets: dict[str, list[list[object]]], *, title: str = "") -> bytes:
    """A workbook with one sheet per entry, rows as given (the first row the header)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    book.properties.title = title or None
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" '
    'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
    '<rootfile full-path="{opf}" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)


def _opf(title: str, author: str, date: str, names: Sequence[str]) -> str:
    items = "".join(
        f'<item id="c{i}" href="{n}" media-type="application/xhtml+xml"/>'
        for i, n in enumerate(names)
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(names)))
    meta = f"<dc:title>{escape(title)}</dc:title>"
    meta += f"<dc:creator>{escape(author)}</dc:creator>" if author else ""
    meta += f"<dc:date>{escape(date)}</dc:date>" if date else ""
    return (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:identifier id="id">qa-test</dc:identifier>{meta}</metadata>'
        f"<manifest>{items}</manifest><spine>{spine}</spine></package>"
    )


def xhtml(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
        f"<head><title>{escape(title)}</title></head><body>{body}</body></html>"
    )


def make_epub(
    chapters: Sequence[tuple[str, str]],
    *,
    title: str,
    author: str = "",
    date: str = "",
    spine: Sequence[int] | None = None,
    extra: dict[str, bytes] | None = None,
    hrefs: Sequence[str] | None = None,
) -> bytes:
    """An EPUB of (file name, XHTML) chapters under OEBPS/, read in `spine` order (indexes
    into `chapters`; default their order). `extra` adds raw members (hostile ones too);
    `hrefs` replaces the names the package gives the spine's chapters."""
    order = list(range(len(chapters))) if spine is None else list(spine)
    names = list(hrefs) if hrefs is not None else [chapters[i][0] for i in order]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", _CONTAINER.format(opf="OEBPS/content.opf"))
        archive.writestr("OEBPS/content.opf", _opf(title, author, date, names))
        for name, body in chapters:
            archive.writestr(f"OEBPS/{name}", body)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def make_eml(
    *,
    subject: str,
    body: str,
    sender: str = "Ada Lovelace <ada@example.org>",
    to: str = "Team <team@example.org>",
    date: str = "Thu, 03 Dec 2026 10:00:00 +0000",
    html: str | None = None,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """A message with a text body (and an HTML alternative), and attachments."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = date
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(message)


def make_climbing_zip(kind: str) -> bytes:
    """A .docx or .epub whose archive names a member `../../evil.txt`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        if kind == "epub":
            archive.writestr("mimetype", "application/epub+zip")
            archive.writestr("META-INF/container.xml", _CONTAINER.format(opf="content.opf"))
            archive.writestr("content.opf", _opf("Climb", "", "", ["../../evil.xhtml"]))
        else:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("word/document.xml", "<document/>")
        archive.writestr("../../evil.txt", "written outside the folder")
    return out.getvalue()
