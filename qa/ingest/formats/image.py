"""Images (PNG, JPEG, TIFF) through Pillow, read by OCR: each image is a page, and each
frame of a multi-page TIFF is a page of its own.

The text is the pages' OCR text joined as PDF pages are (qa.ingest.formats.pdf.join_pages),
so `page` cites the frame. A PNG's "Title" text chunk is the title, when it has one; else
the file name is. An image declaring more pixels than MAX_PIXELS is refused from its
header, before anything is decoded (a few KB can declare 30000 x 30000).
"""

from __future__ import annotations

import io
from typing import Any

from qa.ingest.formats import Extracted, Limits
from qa.ingest.formats.ocr import OcrPage, ocr_boxes, prepare, read_page

#: Pillow's own default bound (about 89 megapixels: a 600 dpi A3 scan is 70).
MAX_PIXELS = 89_478_485
MAX_RENDER_PIXELS = 1200  # the longer side of a page image, as for PDF pages
HIGHLIGHT = (255, 200, 0, 110)


def _open(data: bytes) -> Any:
    """The image, its header read and nothing decoded. Pillow's own guard is lifted for
    the open only, so that `_frame` refuses a bomb with its declared size."""
    from PIL import Image, UnidentifiedImageError

    guard = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"it is not a readable image ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = guard


def _frame(image: Any, index: int) -> Any:
    """Frame `index` (0-based), checked for size before it is decoded."""
    image.seek(index)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"it declares {width:,} x {height:,} pixels, over the limit of {MAX_PIXELS:,} "
            "(a decompression bomb?)"
        )
    image.load()
    return image


def _frames(image: Any, limits: Limits) -> int:
    count = int(getattr(image, "n_frames", 1))
    if count > limits.max_pages:
        raise ValueError(f"it has {count:,} pages, over the limit of {limits.max_pages:,}")
    return count


def _ocr(image: Any, index: int, limits: Limits) -> OcrPage:
    grey = prepare(_frame(image, index))
    return read_page(grey, languages=limits.ocr_languages, timeout_s=limits.timeout_s)


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    from qa.ingest.formats.pdf import join_pages

    image = _open(data)
    count = _frames(image, limits)
    _frame(image, 0)  # the size check before the OCR switch: a bomb is named as one
    if not limits.ocr:
        raise ValueError("an image is read by OCR, and OCR is off (QA_OCR=off)")
    raw_pages = [_ocr(image, i, limits).raw for i in range(count)]
    text, pages = join_pages(raw_pages)
    if not text.strip():
        raise ValueError("OCR found no text in it")
    title = str(image.info.get("Title") or "").strip() if fmt == "png" else ""
    return Extracted(format=fmt, text=text, title=title or None, pages=pages)


def render_page(
    data: bytes,
    *,
    page: int,
    page_text: str,
    span: tuple[int, int],
    hyphenated: frozenset[str],
    limits: Limits,
) -> bytes:
    """PNG of frame `page` (1-based), in colour, with the words of `span` (offsets into the
    page's document text) highlighted from their OCR boxes."""
    image = _open(data)
    if not 1 <= page <= _frames(image, limits):
        raise ValueError(f"the document has no page {page}")
    frame = _frame(image, page - 1)
    ocr = _ocr(frame, page - 1, limits) if span[0] < span[1] else None
    boxes = ocr_boxes(ocr, page_text, span, hyphenated) if ocr else []
    rgb = frame.convert("RGB")
    scale = min(1.0, MAX_RENDER_PIXELS / max(rgb.size))
    shown = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))))
    factor = shown.width / ocr.size[0] if ocr else 1.0
    return png_with_boxes(shown, [tuple(v * factor for v in b) for b in boxes])


def png_with_boxes(image: Any, boxes: list[tuple[float, ...]]) -> bytes:
    """PNG of an RGB image with the boxes (left, top, right, bottom in its pixels) blended
    with the highlight colour."""
    import numpy as np

    rgb = np.array(image, dtype=np.uint8)
    colour = np.array(HIGHLIGHT[:3], dtype=np.float32)
    alpha = HIGHLIGHT[3] / 255
    for left, top, right, bottom in boxes:
        y0, y1 = max(0, int(top)), int(bottom) + 1
        x0, x1 = max(0, int(left)), int(right) + 1
        region = rgb[y0:y1, x0:x1].astype(np.float32)
        rgb[y0:y1, x0:x1] = (region * (1 - alpha) + colour * alpha).astype(np.uint8)
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, "PNG", compress_level=1)
    return out.getvalue()
