"""Checks on a zip-based file (.docx, .pptx, .xlsx, .epub) before any member inflates.

From the central directory alone: it must be a zip, hold a bounded number of members,
declare a bounded inflated size (zipfile stops a member that inflates past its declared
size, so the declared sizes bound the work), name no member that climbs out of the
archive (`../`, an absolute path, a drive letter), and hold the member its format needs.
Nothing here writes a file: members are only ever read into memory, and a member name
that climbs out is refused rather than followed.
"""

from __future__ import annotations

import io
import re
import zipfile
from posixpath import dirname, normpath
from urllib.parse import unquote, urlsplit

from qa.ingest.formats import Limits

MAX_MEMBERS = 10_000
_CLIMBS = re.compile(r"(?:^|[/\\])\.\.(?:[/\\]|$)|^[/\\]|^[A-Za-z]:")


def open_zip(data: bytes, limits: Limits, *, kind: str, required: str) -> zipfile.ZipFile:
    """The archive of `data`, checked; ValueError with the reason (`kind` names the
    format for the message, e.g. "a PowerPoint file (.pptx)")."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValueError(f"it is not {kind}: it should be a zip archive ({exc})") from exc
    try:
        check_members(archive, limits, kind=kind, required=required)
    except ValueError:
        archive.close()
        raise
    return archive


def check_members(archive: zipfile.ZipFile, limits: Limits, *, kind: str, required: str) -> None:
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"its zip holds {len(members):,} files, over {MAX_MEMBERS:,}")
    climbing = next((m.filename for m in members if _CLIMBS.search(m.filename)), None)
    if climbing is not None:
        raise ValueError(
            f"its zip names a file outside the archive ({climbing!r}): a hostile archive?"
        )
    inflated = sum(m.file_size for m in members)
    if inflated > limits.max_inflated_bytes:
        raise ValueError(
            f"it would inflate to {inflated:,} bytes, over the limit of "
            f"{limits.max_inflated_bytes:,} (a zip bomb?)"
        )
    if required not in {m.filename for m in members}:
        raise ValueError(f"it is a zip but not {kind} (no {required})")


def member_path(base: str, href: str) -> str:
    """The archive name of `href` relative to the member `base` (both POSIX, inside the
    archive); ValueError when it climbs out."""
    path = unquote(urlsplit(href).path)
    joined = normpath(f"{dirname(base)}/{path}" if dirname(base) else path)
    if _CLIMBS.search(joined) or joined in ("", "."):
        raise ValueError(f"it points outside the archive ({href!r}): a hostile archive?")
    return joined
