"""OCR through Tesseract's own command line (the only caller of it): a page image to its
words, each with its box, and the page's raw text in reading order.

Tesseract was chosen over RapidOCR by measurement (benchmarks/README.md): on pages of
../shared/realdocs rasterised at 150 dpi it read 0.985 of the words against RapidOCR's
0.82, about 9x faster. It is a Debian package (`tesseract-ocr`, one `tesseract-ocr-LANG`
per language), so nothing is downloaded at run time; a machine without it gets a reason
naming the package to install.

Tesseract runs single-threaded (OMP_THREAD_LIMIT=1): the extraction children spread
pages over the cores, and OpenMP threads inside each would only contend. With one thread
the same image gives the same words, which the page renderer relies on: it OCRs a page
again to find the boxes of a cited span and checks the text against the indexed one.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qa.ingest.formats.normalize import normalize

#: PDF pages without a text layer are rasterised at this resolution for OCR.
OCR_DPI = 150
#: A page image's longer side is scaled down to this many pixels before OCR (a photo of a
#: page from a phone camera reads as well at this size, in a fraction of the time).
MAX_OCR_SIDE = 4000
_LANGUAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
#: Called after each page is read, in the extraction child: each page restarts the
#: parent's clock, so a long scan gets the time limit per page, not per file.
_on_page: list[Callable[[], None]] = []
#: Pages read lately, by the hash of the image and the languages (the renderer's reuse).
CACHE_PAGES = 16
_cache: OrderedDict[bytes, OcrPage] = OrderedDict()


def on_page(callback: Callable[[], None]) -> None:
    _on_page[:] = [callback]


@dataclass(frozen=True)
class Word:
    """One recognised word: [start, end) in the page's raw text, its box in pixels of the
    image OCR read (left, top, right, bottom; y grows downwards)."""

    start: int
    end: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class OcrPage:
    raw: str
    words: tuple[Word, ...]
    size: tuple[int, int]  # width, height of the image OCR read


def package_of(language: str) -> str:
    """Debian's package for a Tesseract language ("chi_sim" -> "tesseract-ocr-chi-sim")."""
    return "tesseract-ocr-" + language.lower().replace("_", "-")


def parse_languages(value: str) -> tuple[str, ...]:
    """QA_OCR_LANGUAGES ("eng", "eng+deu" or "eng,deu") to Tesseract's language codes.
    Raises ValueError on a name that is not one."""
    names = tuple(n for n in re.split(r"[+,\s]+", value.strip()) if n)
    if not names:
        raise ValueError("name at least one language, e.g. 'eng'")
    for name in names:
        if not _LANGUAGE.match(name):
            raise ValueError(f"{name!r} is not a Tesseract language code (e.g. eng, deu, fra)")
    return names


@functools.cache
def _installed_languages(binary: str) -> frozenset[str]:
    out = subprocess.run(
        [binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
    )
    # The first line is a header ("List of available languages in ...").
    return frozenset(line.strip() for line in out.stdout.splitlines()[1:] if line.strip())


def check_engine(languages: tuple[str, ...]) -> str:
    """The tesseract binary, or ValueError with the one line that says what to install."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise ValueError(
            "reading it needs OCR, and Tesseract is not installed: install the Debian "
            f"packages tesseract-ocr and {' '.join(package_of(n) for n in languages)}"
        )
    missing = [n for n in languages if n not in _installed_languages(binary)]
    if missing:
        raise ValueError(
            f"the OCR language{'s' * (len(missing) > 1)} {', '.join(missing)} "
            f"(QA_OCR_LANGUAGES) {'are' if len(missing) > 1 else 'is'} not installed: install "
            f"the Debian package{'s' * (len(missing) > 1)} "
            f"{' '.join(package_of(n) for n in missing)}"
        )
    return binary


def prepare(image: Any) -> Any:
    """The greyscale image OCR reads (and the renderer scales boxes from)."""
    grey = image.convert("L")
    longer = max(grey.size)
    if longer > MAX_OCR_SIDE:
        scale = MAX_OCR_SIDE / longer
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))))
    return grey


def read_page(image: Any, *, languages: tuple[str, ...], timeout_s: float) -> OcrPage:
    """The words of one page image (a PIL image, already `prepare`d)."""
    binary = check_engine(languages)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    key = hashlib.sha256(buffer.getvalue() + "+".join(languages).encode()).digest()
    if key in _cache:  # the page renderer reads the page a passage cites again
        _cache.move_to_end(key)
        return _cache[key]
    page = _run(binary, buffer.getvalue(), languages, timeout_s, size=image.size)
    _cache[key] = page
    while len(_cache) > CACHE_PAGES:
        _cache.popitem(last=False)
    for callback in _on_page:
        callback()
    return page


def _run(
    binary: str, png: bytes, languages: tuple[str, ...], timeout_s: float, *, size: tuple[int, int]
) -> OcrPage:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    command = [binary, "stdin", "stdout", "-l", "+".join(languages), "--psm", "3", "tsv"]
    try:
        done = subprocess.run(command, input=png, capture_output=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise ValueError(f"OCR of a page took longer than {timeout_s:g} s") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise ValueError(f"OCR failed ({reason[0]})")
    return parse_tsv(done.stdout.decode("utf-8", "replace"), size=size)


def parse_tsv(tsv: str, *, size: tuple[int, int]) -> OcrPage:
    """Tesseract's TSV to page text: words of a line joined by a space, lines by a line
    break, paragraphs by a blank line; a line that ends in a hyphen before a lower-case
    word is marked as pdfium marks a broken word (U+FFFE), so the same rule joins it."""
    parts: list[str] = []
    words: list[Word] = []
    offset, line_key, par_key = 0, None, None
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        par, line = tuple(cols[1:4]), tuple(cols[1:5])
        text = cols[11].strip()
        separator = "" if not parts else " " if line == line_key else "\n"
        if parts and par != par_key:
            separator = "\n\n"
        if separator == "\n" and parts[-1].endswith("-") and text[:1].islower():
            parts[-1] = parts[-1][:-1] + "\ufffe"
        parts.append(separator + text if separator else text)
        offset += len(separator)
        left, top, width, height = (int(c) for c in cols[6:10])
        words.append(Word(offset, offset + len(text), (left, top, left + width, top + height)))
        offset += len(text)
        line_key, par_key = line, par
    return OcrPage("".join(parts), tuple(words), size)


def ocr_boxes(
    ocr: OcrPage, page_text: str, span: tuple[int, int], hyphenated: frozenset[str]
) -> list[tuple[int, int, int, int]]:
    """The OCR boxes of `span` of the page's document text. Raises ValueError when the
    page no longer reads as it did when it was indexed."""
    origin: list[int] = []
    if normalize(ocr.raw, hyphenated=hyphenated, origin=origin) != page_text:
        raise ValueError("the page's OCR text differs from the indexed text: re-index the file")
    return span_boxes(ocr, origin[span[0] : span[1]])


def span_boxes(page: OcrPage, raw_indices: list[int]) -> list[tuple[int, int, int, int]]:
    """Boxes of the words that hold any of the raw characters, one per run of words on a
    line (left, top, right, bottom in the OCR image's pixels)."""
    wanted = set(raw_indices)
    boxes: list[tuple[int, int, int, int]] = []
    for word in page.words:
        if not any(i in wanted for i in range(word.start, word.end)):
            continue
        box = word.box
        if boxes and _same_line(boxes[-1], box):
            last = boxes[-1]
            box = (min(last[0], box[0]), min(last[1], box[1]), max(last[2], box[2]),
                   max(last[3], box[3]))  # fmt: skip
            boxes[-1] = box
        else:
            boxes.append(box)
    return boxes


def _same_line(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3] - a[1], b[3] - b[1]) and b[0] >= a[0]
