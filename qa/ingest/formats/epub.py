"""EPUB (.epub): the chapters in spine order, each read by the HTML reader's rules.

META-INF/container.xml names the package (OPF) file; its spine lists the chapters, its
manifest where each lies in the archive. Each chapter's XHTML goes through
`qa.ingest.formats.html.parse_html` (the same article rules, blocks and headings as an
`.html` file), and the chapters are joined blank-line separated. Sections are the
chapters' headings with their levels (h1 1, h2 2, ...); a chapter with no heading gets its
`<title>` as a level-1 section. The title is the OPF's dc:title, else the first heading;
dc:creator and dc:date become the metadata `author` and `date`.

The zip is checked before anything inflates (see qa.ingest.formats.archive), the XML is
parsed by defusedxml (no entity expansion), and a spine entry that points outside the
archive refuses the file; nothing is ever written to disk.
"""

from __future__ import annotations

import zipfile
from typing import Any

from qa.ingest.formats import Extracted, Limits
from qa.ingest.formats.archive import member_path, open_zip
from qa.ingest.formats.html import parse_html
from qa.types import Section

CONTAINER = "META-INF/container.xml"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CONTAINER_NS = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_XHTML = frozenset({"application/xhtml+xml", "text/html", "application/xml"})


def _xml(archive: zipfile.ZipFile, name: str) -> Any:
    from defusedxml import ElementTree

    try:
        return ElementTree.fromstring(archive.read(name))
    except KeyError:
        raise ValueError(f"its archive has no {name}") from None
    except Exception as exc:  # ParseError, or defusedxml refusing entities
        raise ValueError(f"its {name} is not readable XML ({exc})") from exc


def _package_path(archive: zipfile.ZipFile) -> str:
    root = _xml(archive, CONTAINER)
    rootfile = root.find(f".//{_CONTAINER_NS}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise ValueError(f"its {CONTAINER} names no package file")
    return member_path("", str(rootfile.get("full-path")))


def _meta(package: Any, tag: str) -> str:
    node = package.find(f"{_OPF}metadata/{_DC}{tag}")
    return " ".join((node.text or "").split()) if node is not None else ""


def chapters(archive: zipfile.ZipFile) -> tuple[Any, list[str]]:
    """The package (OPF) element and its spine's chapter names in the archive, in order."""
    opf = _package_path(archive)
    package = _xml(archive, opf)
    manifest = {
        item.get("id"): item
        for item in package.iterfind(f"{_OPF}manifest/{_OPF}item")
        if item.get("id")
    }
    names: list[str] = []
    for ref in package.iterfind(f"{_OPF}spine/{_OPF}itemref"):
        item = manifest.get(ref.get("idref"))
        if item is None or (item.get("media-type") or "") not in _XHTML:
            continue
        names.append(member_path(opf, str(item.get("href") or "")))
    return package, names


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    with open_zip(data, limits, kind="an EPUB book (.epub)", required=CONTAINER) as archive:
        package, names = chapters(archive)
        if not names:
            raise ValueError("its spine lists no chapters")
        blocks: list[str] = []
        sections: list[Section] = []
        offset = 0
        for name in names:
            try:
                raw = archive.read(name)
            except KeyError:
                raise ValueError(f"its spine names {name!r}, which the archive lacks") from None
            page_title, writer = parse_html(raw)
            text = writer.text()
            if not text.strip():
                continue
            if blocks:
                offset += 2
            heads = [Section(s.start + offset, s.level, s.title) for s in writer.sections]
            if not heads and page_title:
                heads = [Section(offset, 1, page_title)]
            sections.extend(heads)
            blocks.append(text)
            offset += len(text)
    title = _meta(package, "title")
    metadata = {k: v for k in ("creator", "date") if (v := _meta(package, k))}
    if "creator" in metadata:
        metadata["author"] = metadata.pop("creator")
    return Extracted(
        format=fmt,
        text="\n\n".join(blocks),
        title=title or (sections[0].title if sections else None),
        metadata=metadata,
        sections=tuple(sections),
    )
