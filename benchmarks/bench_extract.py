"""Document formats: extraction speed against the bare library call, the HTML extractor
choice, extraction's share of `qa index`, page-image rendering, and a 500-page PDF.

Tables:
  extraction   qa.ingest.formats.extract of each real document (../shared/realdocs) against the
               bare library call (pypdfium2 get_text_range per page; selectolax's body
               text; python-docx paragraph texts), in process, medians of rounds; and the
               same files through the bounded child process (ExtractionWorker) that
               `qa index` uses, with what starting that child costs
  html         selectolax with qa's rules against trafilatura (when installed): recall
               of the article's words (the text of <main>, the page's article) and the
               share of extracted words that are not the article's (chrome leakage)
  index share  the corpus scan (reading and extracting every file) against the whole
               `qa index` of the realdocs folder with the packaged model
  render       a PDF page image with a passage highlighted, through the child (as the
               server renders): p50 and p95 over pages of every real PDF
  big PDF      `qa index` of a generated PDF of 50 and of 500 pages in a fresh process:
               time and peak resident memory of the indexer and of its reader child
  OCR          scans made from the real PDFs (150 dpi, image-only PDFs): pages/s of
               `qa index`'s corpus scan against `tesseract FILE stdout` on the same
               pages in the same number of processes, OCR word accuracy against the
               text layer, and OCR's share of `qa index` (benchmarks/_ocr.py)

Run:  .venv/bin/python benchmarks/bench_extract.py [--quick] [--json [FILE]]
"""

from __future__ import annotations

import collections
import ctypes
import functools
import io
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common as C

REALDOCS = C.SHARED / "realdocs"
_WORDS = re.compile(r"\w+")


# ----- bare library calls -----------------------------------------------------------------


def bare_pdf(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    texts = []
    for i in range(len(pdf)):
        page = pdf[i]
        textpage = page.get_textpage()
        texts.append(textpage.get_text_range())
        textpage.close()
        page.close()
    pdf.close()
    return "".join(texts)


def bare_html(data: bytes) -> str:
    from selectolax.parser import HTMLParser

    body = HTMLParser(data).body
    return body.text() if body is not None else ""


def bare_docx(data: bytes) -> str:
    import docx

    return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


BARE: dict[str, Callable[[bytes], str]] = {"pdf": bare_pdf, "html": bare_html, "docx": bare_docx}


def _files(quick: bool) -> list[Path]:
    files = sorted(p for p in REALDOCS.rglob("*") if p.suffix in (".pdf", ".html", ".docx"))
    return [files[0], files[-1], *[p for p in files if p.suffix == ".pdf"][:1]] if quick else files


def _median_time(fn: Callable[[], Any], rounds: int) -> float:
    return C.median([C.timed(fn)[0] for _ in range(rounds)])


def extraction_rows(files: list[Path], rounds: int) -> list[dict[str, Any]]:
    from qa.ingest.formats import extract
    from qa.ingest.formats.worker import ExtractionWorker

    rows = []
    with ExtractionWorker() as worker:
        start = time.perf_counter()
        worker.extract(files[0].read_bytes(), files[0].name)  # starts the child
        first_call = time.perf_counter() - start
        for path in files:
            data, kind = path.read_bytes(), path.suffix[1:]
            doc = extract(data, path.name)
            rows.append(
                {
                    "file": path.name,
                    "format": kind,
                    "bytes": len(data),
                    "pages": len(doc.pages),
                    "bare_s": _median_time(lambda: BARE[kind](data), rounds),  # noqa: B023
                    "qa_s": _median_time(lambda: extract(data, path.name), rounds),  # noqa: B023
                    "child_s": _median_time(
                        lambda: worker.extract(data, path.name),  # noqa: B023
                        rounds,
                    ),
                }
            )
    rows.append({"file": "(child start + first file)", "format": "", "child_s": first_call})
    return rows


def extraction_table(rows: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for r in rows:
        if "bare_s" not in r:
            out.append([r["file"], "", "", "", "", f"{r['child_s'] * 1000:.0f} ms", ""])
            continue
        size = r["pages"] if r["format"] == "pdf" else r["bytes"] / 1e6
        unit = "pages/s" if r["format"] == "pdf" else "MB/s"
        out.append(
            [
                r["file"],
                f"{size / r['bare_s']:,.1f} {unit}",
                f"{size / r['qa_s']:,.1f} {unit}",
                C.ratio(r["qa_s"], r["bare_s"]),
                f"{r['qa_s'] * 1000:.1f} ms",
                f"{r['child_s'] * 1000:.1f} ms",
                C.ratio(r["child_s"], r["qa_s"]),
            ]
        )
    return out


# ----- the HTML extractor choice -------------------------------------------------------------


def _words(text: str) -> collections.Counter[str]:
    return collections.Counter(w.lower() for w in _WORDS.findall(text))


def _trafilatura(data: bytes) -> str | None:
    try:
        import trafilatura
    except ImportError:
        return None
    return trafilatura.extract(data.decode("utf-8"), include_tables=True) or ""


def html_rows() -> list[list[Any]]:
    import lxml.html

    from qa.ingest.formats.html import parse_html

    rows: list[list[Any]] = []
    for path in sorted((REALDOCS / "html").glob("*.html")):
        data = path.read_bytes()
        article = _words(lxml.html.fromstring(data).xpath("//main")[0].text_content())
        ours = parse_html(data)[1].text()
        for name, text in (("selectolax + rules", ours), ("trafilatura", _trafilatura(data))):
            if text is None:
                continue
            got = _words(text)
            recall = sum((got & article).values()) / sum(article.values())
            leak = sum((got - article).values()) / max(1, sum(got.values()))
            rows.append([path.name, name, recall, leak])
    return rows


# ----- share of qa index ---------------------------------------------------------------------


def index_share(corpus: Path) -> dict[str, Any]:
    from qa.config import Settings
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.corpus import scan_corpus
    from qa.ingest.indexing import update_index

    settings = Settings()
    embedder = C.service_embedder(settings)
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        scan_s, scan = C.timed(lambda: scan_corpus(corpus))
        index_s, stats = C.timed(
            lambda: update_index(
                scan.documents,
                index_dir=Path(tmp),
                embedder=embedder,
                settings=chunk_settings(settings),
            )
        )
    return {
        "documents": len(scan.documents),
        "chunks": stats.chunks,
        "scan_s": scan_s,
        "index_s": index_s,
        "share": scan_s / (scan_s + index_s),
    }


# ----- page images --------------------------------------------------------------------------


def render_times(files: list[Path], per_file: int) -> list[float]:
    from qa.ingest.formats import extract
    from qa.ingest.formats.normalize import hyphenated_words
    from qa.ingest.formats.worker import ExtractionWorker

    times = []
    with ExtractionWorker() as worker:
        for path in (p for p in files if p.suffix == ".pdf"):
            data = path.read_bytes()
            doc = extract(data, path.name)
            words = hyphenated_words(doc.text)
            for page in doc.pages[:per_file]:
                text = doc.text[page.start : page.end]
                span = (len(text) // 4, len(text) // 2)  # a passage's worth of lines
                call = functools.partial(
                    worker.render, data, page=page.page, page_text=text, span=span, hyphenated=words
                )
                times.append(C.timed(call)[0])
    return times[1:]  # the first includes the child's start-up


# ----- a big PDF ------------------------------------------------------------------------------


def make_pdf(pages: int, path: Path) -> None:
    """A PDF of `pages` pages, 45 lines of seeded random words each (Helvetica)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    rng = random.Random(7)
    vocabulary = [f"{a}{b}" for a in "bcdfglmnprst" for b in ("ar", "en", "il", "on", "us")]
    pdf = pdfium.PdfDocument.new()
    font = raw.FPDFText_LoadStandardFont(pdf.raw, b"Helvetica")
    for _ in range(pages):
        page = pdf.new_page(612, 792)
        for line in range(45):
            words = " ".join(rng.choice(vocabulary) for _ in range(12)) + "."
            obj = raw.FPDFPageObj_CreateTextObj(pdf.raw, font, 10.0)
            encoded = (words + "\x00").encode("utf-16-le")
            buffer = ctypes.create_string_buffer(encoded, len(encoded))
            raw.FPDFText_SetText(obj, ctypes.cast(buffer, ctypes.POINTER(raw.FPDF_WCHAR)))
            raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 40, 750 - line * 15)
            raw.FPDFPage_InsertObject(page.raw, obj)
        raw.FPDFPage_GenerateContent(page.raw)
        page.close()
    pdf.save(str(path))
    pdf.close()


_INDEX_ONE = """
import resource, sys, time
from pathlib import Path
from qa.cli import main
started = time.perf_counter()
code = main(["index", "--corpus", sys.argv[1], "--index", sys.argv[2], "--quiet"])
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print("RESULT", code, time.perf_counter() - started, own, child)
"""


def big_pdf_rows(sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    for pages in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus"
            corpus.mkdir()
            make_pdf(pages, corpus / "big.pdf")
            proc = subprocess.run(
                [sys.executable, "-c", _INDEX_ONE, str(corpus), str(Path(tmp) / "index")],
                capture_output=True,
                text=True,
                cwd=C.REPO,
            )
            result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
            if not result:
                C.fail(f"indexing {pages} pages failed: {proc.stderr[-2000:]}")
            _, code, seconds, own, child = result[0].split()
            size = (corpus / "big.pdf").stat().st_size
            rows.append(
                {
                    "pages": pages,
                    "file_bytes": size,
                    "exit": int(code),
                    "seconds": float(seconds),
                    "indexer_peak_rss": int(own),
                    "reader_peak_rss": int(child),
                }
            )
    return rows


# ----- main ------------------------------------------------------------------------------------


def report(args: Any, info: dict[str, Any]) -> dict[str, Any]:
    cores = C.cores_label(info)
    files = _files(args.quick)
    rows = extraction_rows(files, rounds=1 if args.quick else 5)
    headers = ["file", "bare library", "qa.ingest.formats", "qa/bare", "qa", "in child", "child/qa"]
    C.emit(C.table(f"Extraction, medians, {cores}", headers, extraction_table(rows)))
    C.emit()
    html = html_rows() if not args.quick else []
    if html:
        C.emit(C.table(f"HTML main text, {cores}", ["page", "extractor", "recall", "leak"], html))
        C.emit()
    share = index_share(REALDOCS / ("docx" if args.quick else ""))
    C.emit(
        C.table(
            f"Extraction's share of qa index on the realdocs corpus, {cores}",
            ["documents", "chunks", "scan s", "qa index s", "scan share"],
            [[share["documents"], share["chunks"], share["scan_s"], share["index_s"],
              f"{100 * share['share']:.1f}% (target <= 15%)"]],
        )
    )  # fmt: skip
    C.emit()
    renders = [t * 1000 for t in render_times(files, per_file=2 if args.quick else 6)]
    C.emit(
        C.table(
            f"Page image with a highlight, through the reader child, {cores}",
            ["pages", "p50 ms", "p95 ms", "target"],
            [[len(renders), C.percentile(renders, 50), C.percentile(renders, 95), "p50 <= 150"]],
        )
    )
    C.emit()
    from _ocr import ocr_report

    ocr = ocr_report(REALDOCS, quick=args.quick, cores=cores)
    return {
        "extraction": rows, "html": html, "index_share": share, "render_ms": renders, "ocr": ocr,
    }  # fmt: skip


def main() -> None:
    args = C.parser("bench_extract", __doc__ or "").parse_args()
    if not REALDOCS.is_dir():
        C.fail(f"the real documents are missing: {REALDOCS} (../shared/realdocs)")
    info = C.machine_info(torch_threads=True)
    C.print_header("bench_extract: document formats", info, quick=args.quick)
    results = report(args, info)
    big = big_pdf_rows([5, 20] if args.quick else [50, 500])
    C.emit(
        C.table(
            f"qa index of one generated PDF, fresh process, {C.cores_label(info)}",
            ["pages", "file", "exit", "seconds", "indexer peak RSS", "reader peak RSS"],
            [[r["pages"], C.human_bytes(r["file_bytes"]), r["exit"], r["seconds"],
              C.human_bytes(r["indexer_peak_rss"]), C.human_bytes(r["reader_peak_rss"])]
             for r in big],
        )
    )  # fmt: skip
    C.save_json(
        C.json_path(args.json, "bench_extract"),
        {"benchmark": "bench_extract", "quick": args.quick, "machine": info, **results,
         "big_pdf": big},
    )  # fmt: skip


if __name__ == "__main__":
    main()
