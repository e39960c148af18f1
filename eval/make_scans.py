"""Make the scanned documents of the realdocs question set from ../shared/realdocs.

    python eval/make_scans.py OUT_DIR

writes two scans into OUT_DIR (nothing is committed: they are made again when needed):

- `scan-ch15-01-box.pdf`: pages 1-3 of realdocs/pdf/ch15-01-box.pdf rasterised at 150 dpi
  (greyscale) into an image-only PDF, as a document scanner makes one;
- `scan-ch06-02-match.tiff`: pages 1-3 of realdocs/pdf/ch06-02-match.pdf rasterised the same
  way into one multi-page TIFF (LZW), a frame per page.

Then index them and ask the question set (the questions tagged `scan`):

    qa index --corpus OUT_DIR --index scans-index
    qa eval eval/realdocs-questions.jsonl --index scans-index
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REALDOCS = Path(__file__).resolve().parents[1].parent / "shared" / "realdocs"
DPI = 150
#: scan file name -> (source PDF in realdocs/pdf, pages kept, image format)
SCANS = {
    "scan-ch15-01-box.pdf": ("ch15-01-box.pdf", 3, "PDF"),
    "scan-ch06-02-match.tiff": ("ch06-02-match.pdf", 3, "TIFF"),
}


def page_images(source: Path, pages: int) -> list[Any]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(source)
    return [
        pdf[i].render(scale=DPI / 72, grayscale=True).to_pil().convert("L")
        for i in range(min(pages, len(pdf)))
    ]


def make_scans(out: Path, realdocs: Path = REALDOCS) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name, (source, pages, kind) in SCANS.items():
        first, *rest = page_images(realdocs / "pdf" / source, pages)
        options: dict[str, Any] = {"save_all": True, "append_images": rest}
        if kind == "PDF":
            options["resolution"] = DPI
        else:
            options["compression"] = "tiff_lzw"
        first.save(out / name, kind, **options)
        made.append(out / name)
    return made


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python eval/make_scans.py OUT_DIR")
    if not REALDOCS.is_dir():
        sys.exit(f"the real documents are missing: {REALDOCS} (../shared/realdocs)")
    for path in make_scans(Path(sys.argv[1])):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
