"""Spreadsheets: `.xlsx` through openpyxl in read-only (streaming) mode, the only import
of it; `.csv` and `.tsv` through the csv module, decoded as they stream.

- A sheet is a section (level 1): the sheet's name for a workbook, the file's name for a
  CSV. The section starts at a paragraph holding that name.
- The first row with any value is the header. Every later row is one paragraph of the
  text that carries its header, `Header: value` pairs joined by ` · ` ("Operator: ..= ·
  Explanation: Right-inclusive range literal"); empty cells are left out, a column with
  no header is named by its letter ("Column C"). Rows are blank-line separated, so the
  sentence rules see each row as a unit of its own and a citation can name one row.
- White space inside a cell folds to one space, so a row stays one line.
- The text is written as the rows stream (no per-row objects are kept), so a large sheet
  costs about its text; a line longer than MAX_LINE_CHARS refuses the file.
- The title is the workbook's title property; a CSV has none (the file name is used).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from qa.ingest.formats import Extracted, Limits
from qa.ingest.formats.archive import open_zip
from qa.ingest.formats.normalize import normalize
from qa.types import Section

#: The extractor is told the file's name (a CSV's sheet is named after it).
TAKES_NAME = True
MAX_LINE_CHARS = 1 << 20
MAX_COLUMNS = 16_384
SEPARATOR = " · "
_SPACE = re.compile(r"\s+")


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ").removesuffix(" 00:00:00")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return _SPACE.sub(" ", normalize(str(value))).strip()


class _SheetWriter:
    """Writes sheets and rows into one text as they come, keeping only the offsets."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.length = 0
        self.sections: list[Section] = []
        self.rows = 0

    def _paragraph(self, text: str) -> int:
        if self.length:
            self.out.write("\n\n")
            self.length += 2
        start = self.length
        self.out.write(text)
        self.length += len(text)
        return start

    def sheet(self, name: str, rows: Iterable[Sequence[Any]]) -> None:
        header: list[str] | None = None
        for raw in rows:
            cells = [cell_text(v) for v in raw[:MAX_COLUMNS]]
            if not any(cells):
                continue
            if header is None:
                header = cells
                self.sections.append(Section(self._paragraph(name), 1, name))
                continue
            names = [
                (header[i] if i < len(header) and header[i] else f"Column {column_letter(i)}")
                for i in range(len(cells))
            ]
            pairs = [f"{n}: {c}" for n, c in zip(names, cells, strict=True) if c]
            self._paragraph(SEPARATOR.join(pairs))
            self.rows += 1
        if header is not None and not self.rows:
            # A sheet of one row: its cells are all there is to read.
            self._paragraph(SEPARATOR.join(c for c in header if c))

    def text(self) -> str:
        return self.out.getvalue()


def _capped_lines(stream: Iterable[str]) -> Iterator[str]:
    for number, line in enumerate(stream, 1):
        if len(line) > MAX_LINE_CHARS:
            raise ValueError(
                f"line {number:,} is {len(line):,} characters long, over the limit of "
                f"{MAX_LINE_CHARS:,} (not a table?)"
            )
        yield line


def _delimiter(head: bytes, fmt: str) -> str:
    if fmt == "tsv":
        return "\t"
    sample = head.decode("utf-8", errors="ignore")
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _csv(data: bytes, fmt: str, name: str) -> Extracted:
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(_capped_lines(stream), delimiter=_delimiter(data[:8192], fmt))
    writer = _SheetWriter()
    try:
        writer.sheet(name or "Sheet", reader)
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not valid UTF-8 (byte {exc.start}): save it as UTF-8") from exc
    except csv.Error as exc:
        raise ValueError(f"it is not a readable {fmt.upper()} table ({exc})") from exc
    return Extracted(format=fmt, text=writer.text(), sections=tuple(writer.sections))


def _xlsx(data: bytes, limits: Limits) -> Extracted:
    open_zip(data, limits, kind="an Excel file (.xlsx)", required="xl/workbook.xml").close()
    with warnings.catch_warnings():
        # openpyxl warns of every part it skips ("Data Validation extension is not
        # supported"): nothing a user can act on.
        warnings.simplefilter("ignore")
        return _read_book(data)


def _read_book(data: bytes) -> Extracted:
    import openpyxl

    try:
        book = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
    except Exception as exc:  # openpyxl raises many kinds on a damaged package
        raise ValueError(f"it is not a readable Excel file ({exc})") from exc
    writer = _SheetWriter()
    try:
        for sheet in book.worksheets:
            writer.sheet(str(sheet.title), sheet.iter_rows(values_only=True))
        title = (book.properties.title or "").strip() or None
        author = (book.properties.creator or "").strip()
    finally:
        book.close()
    return Extracted(
        format="xlsx",
        text=writer.text(),
        title=title,
        metadata={"author": author} if author else {},
        sections=tuple(writer.sections),
    )


def extract(data: bytes, *, limits: Limits, fmt: str, name: str = "") -> Extracted:
    if fmt == "xlsx":
        return _xlsx(data, limits)
    return _csv(data, fmt, name)
