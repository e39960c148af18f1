"""Real files of each format, made in the test: PDFs through pdfium itself, Word files
through python-docx, and the hostile ones (encrypted, scanned, zip bombs) by hand."""

from __future__ import annotations

import ctypes
import io
import zipfile

LINE_HEIGHT = 14.0


def _add_line(
    pdf: object, page: object, font: object, text: str, y: float, size: float = 11.0
) -> None:
    import pypdfium2.raw as raw

    obj = raw.FPDFPageObj_CreateTextObj(pdf.raw, font, size)  # type: ignore[attr-defined]
    encoded = (text + "\x00").encode("utf-16-le")
    buffer = ctypes.create_string_buffer(encoded, len(encoded))
    raw.FPDFText_SetText(obj, ctypes.cast(buffer, ctypes.POINTER(raw.FPDF_WCHAR)))
    raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 50, y)
    raw.FPDFPage_InsertObject(page.raw, obj)  # type: ignore[attr-defined]


def make_pdf(pages: list[list[str | tuple[str, float]]], *, title: str | None = None) -> bytes:
    """A PDF whose page i shows the lines pages[i] (Helvetica 11 pt, or (text, size) for
    another size; an empty list is a page with no text at all, as a scan has)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument.new()
    font = raw.FPDFText_LoadStandardFont(pdf.raw, b"Helvetica")
    for lines in pages:
        page = pdf.new_page(612, 792)
        y = 740.0
        for line in lines:
            text, size = (line, 11.0) if isinstance(line, str) else line
            _add_line(pdf, page, font, text, y, size)
            y -= max(LINE_HEIGHT, size * 1.3)
        if not lines:  # a filled box stands for the scanned image
            rect = raw.FPDFPageObj_CreateNewRect(50, 50, 500, 600)
            raw.FPDFPath_SetDrawMode(rect, raw.FPDF_FILLMODE_WINDING, 0)
            raw.FPDFPage_InsertObject(page.raw, rect)
        raw.FPDFPage_GenerateContent(page.raw)
        page.close()
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    data = out.getvalue()
    if title is not None:
        data = _with_info(data, title)
    return data


def _with_info(data: bytes, title: str) -> bytes:
    """Append an incremental update that gives the PDF an information dictionary."""
    import re

    size = int(re.findall(rb"/Size (\d+)", data)[-1])
    root = re.findall(rb"/Root (\d+ \d+ R)", data)[-1]
    startxref = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    offset = len(data)
    obj = f"{size} 0 obj\n<< /Title ({title}) >>\nendobj\n".encode()
    xref = f"xref\n{size} 1\n{offset:010d} 00000 n \n".encode()
    trailer = (
        f"trailer\n<< /Size {size + 1} /Root {root.decode()} /Info {size} 0 R "
        f"/Prev {startxref} >>\nstartxref\n{offset + len(obj)}\n%%EOF\n"
    ).encode()
    return data + obj + xref + trailer


def make_encrypted_pdf() -> bytes:
    """A PDF under the standard security handler whose user password is not empty: the
    /U entry does not match the empty password, as for any protected file."""
    base = make_pdf([["Secret text on page one."]])
    import re

    size = int(re.findall(rb"/Size (\d+)", base)[-1])
    root = re.findall(rb"/Root (\d+ \d+ R)", base)[-1]
    startxref = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
    offset = len(base)
    enc = (
        f"{size} 0 obj\n<< /Filter /Standard /V 1 /R 2 /Length 40 /P -4 "
        f"/O <{'ab' * 32}> /U <{'cd' * 32}> >>\nendobj\n"
    ).encode()
    xref = f"xref\n{size} 1\n{offset:010d} 00000 n \n".encode()
    trailer = (
        f"trailer\n<< /Size {size + 1} /Root {root.decode()} /Encrypt {size} 0 R "
        f"/ID [<{'01' * 16}> <{'01' * 16}>] /Prev {startxref} >>\n"
        f"startxref\n{offset + len(enc)}\n%%EOF\n"
    ).encode()
    return base + enc + xref + trailer


def make_docx(blocks: list[tuple[str, int | None]], *, title: str = "") -> bytes:
    """A Word file of (text, heading level or None) paragraphs."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for text, level in blocks:
        if level is None:
            document.add_paragraph(text)
        else:
            document.add_heading(text, level=level)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip_bomb(inflated: int) -> bytes:
    """A .docx-shaped zip whose document.xml inflates to `inflated` bytes of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(inflated // len(block)):
                member.write(block)
    return out.getvalue()
