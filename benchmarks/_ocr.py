"""OCR for bench_extract.py: scans made from the real PDFs, read by `qa index`'s corpus scan
and by Tesseract's own command line in the same number of processes, on the same pages.

Each PDF of ../shared/realdocs/pdf is rasterised at 150 dpi (greyscale): the page images
become an image-only PDF (the "scan" qa reads, page by page, re-rasterising it at 150 dpi
as it does any scanned page) and PNG files (what `tesseract FILE stdout` reads). Word
accuracy is the share of the text layer's words (a multiset of lower-cased \\w+ tokens,
so reading order does not count) that OCR read.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _common as C

_WORDS = re.compile(r"\w+")


def _bag(text: str) -> collections.Counter[str]:
    return collections.Counter(_WORDS.findall(text.lower()))


def make_scans(pdfs: list[Path], folder: Path, *, pages: int | None) -> dict[str, list[str]]:
    """Image-only PDFs in folder/corpus and page PNGs in folder/png; returns each PDF's
    text layer, page by page (the reference)."""
    import pypdfium2 as pdfium

    (folder / "corpus").mkdir(parents=True)
    (folder / "png").mkdir()
    reference: dict[str, list[str]] = {}
    for path in pdfs:
        pdf = pdfium.PdfDocument(path)
        images, texts = [], []
        for i in range(min(len(pdf), pages or len(pdf))):
            page = pdf[i]
            texts.append(str(page.get_textpage().get_text_range()))
            image = page.render(scale=150 / 72, grayscale=True).to_pil().convert("L")
            image.save(folder / "png" / f"{path.stem}-{i + 1:03d}.png")
            images.append(image)
        images[0].save(
            folder / "corpus" / path.name, "PDF", save_all=True, append_images=images[1:],
            resolution=150,
        )  # fmt: skip
        reference[path.name] = texts
    return reference


def cli_seconds(pngs: list[Path], processes: int) -> float:
    """Tesseract's own command line on every page, `processes` at a time (one thread each,
    as qa runs it: OpenMP threads in N parallel processes only contend)."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(png: Path) -> str:
        done = subprocess.run(
            ["tesseract", str(png), "stdout"], capture_output=True, env=env, check=True
        )
        return done.stdout.decode()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=processes) as pool:
        list(pool.map(one, pngs))
    return time.perf_counter() - start


def qa_scan(corpus: Path, processes: int) -> tuple[float, Any]:
    from qa.ingest.corpus import scan_corpus

    return C.timed(lambda: scan_corpus(corpus, processes=processes))


def accuracy(reference: dict[str, list[str]], scan: Any) -> tuple[float, list[list[Any]]]:
    """Word accuracy over all pages, and per document."""
    rows, hit_all, total_all = [], 0, 0
    docs = {d.doc_id: d for d in scan.documents}
    for name, pages in sorted(reference.items()):
        doc = docs.get(name)
        if doc is None:
            C.fail(f"qa did not read the scan of {name}: {scan.skipped.get(name)}")
        hit = total = 0
        for text, where in zip(pages, doc.pages, strict=True):
            ref = _bag(text)
            hit += sum((ref & _bag(doc.text[where.start : where.end])).values())
            total += sum(ref.values())
        rows.append([name, len(pages), f"{hit / total:.3f}"])
        hit_all, total_all = hit_all + hit, total_all + total
    return hit_all / total_all, rows


def index_seconds(documents: list[Any]) -> float:
    from qa.config import Settings
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.indexing import update_index

    settings = Settings()
    embedder = C.service_embedder(settings)
    embedder.encode(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        seconds, _ = C.timed(
            lambda: update_index(
                documents, index_dir=Path(tmp), embedder=embedder,
                settings=chunk_settings(settings),
            )
        )  # fmt: skip
    return seconds


def ocr_report(realdocs: Path, *, quick: bool, cores: str) -> dict[str, Any]:
    """The OCR tables: qa against the engine's command line, accuracy, OCR's share."""
    import shutil

    if shutil.which("tesseract") is None:
        C.note("OCR: tesseract is not installed (bash scripts/ensure-tesseract.sh): skipped")
        return {}
    pdfs = sorted((realdocs / "pdf").glob("*.pdf"))
    processes = C.usable_cores()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference = make_scans(pdfs[:2] if quick else pdfs, folder, pages=1 if quick else None)
        pngs = sorted((folder / "png").glob("*.png"))
        cli_runs, qa_runs = [], []
        for _ in range(1 if quick else 2):  # alternated, so both meet the same load
            cli_runs.append(cli_seconds(pngs, processes))
            seconds, scan = qa_scan(folder / "corpus", processes)
            qa_runs.append(seconds)
        cli_s, scan_s = C.median(cli_runs), C.median(qa_runs)
        index_s = index_seconds(scan.documents)
    pages = len(pngs)
    overall, per_doc = accuracy(reference, scan)
    C.emit(
        C.table(
            f"OCR of scanned pages (realdocs at 150 dpi), {processes} processes, medians of "
            f"{len(cli_runs)}, {cores}",
            ["pages", "tesseract CLI pages/s", "qa index pages/s", "qa/CLI (target >= 0.9)",
             "word accuracy (target >= 0.97)"],
            [[pages, pages / cli_s, pages / scan_s, f"{cli_s / scan_s:.3f}", f"{overall:.3f}"]],
        )
    )  # fmt: skip
    C.emit()
    title = f"OCR word accuracy per document, {cores}"
    C.emit(C.table(title, ["scan", "pages", "accuracy"], per_doc))
    C.emit()
    C.emit(
        C.table(
            f"OCR's share of qa index of the scans, {cores}",
            ["documents", "OCR (scan) s", "embed + index s", "OCR share"],
            [[len(scan.documents), scan_s, index_s,
              f"{100 * scan_s / (scan_s + index_s):.1f}%"]],
        )
    )  # fmt: skip
    C.emit()
    return {
        "pages": pages,
        "processes": processes,
        "cli_s": cli_s,
        "qa_scan_s": scan_s,
        "index_s": index_s,
        "cli_runs_s": cli_runs,
        "qa_runs_s": qa_runs,
        "ratio": cli_s / scan_s,
        "word_accuracy": overall,
        "per_document": per_doc,
    }
