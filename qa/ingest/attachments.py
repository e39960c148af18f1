"""Files inside a file: a mail's attachments as documents of their own.

An attachment of a format qa reads becomes a document whose id is the mail's id, `#`,
and the attachment's name (`inbox/plan.eml#budget.xlsx`): stable for as long as the mail
is, and never a path in the corpus folder (names carry no folders and no `#`). It is read
by the same bounded reader as any file, one at a time, and names its message: the title
"budget.xlsx — in: <subject>", the metadata `attached_to` (the mail's id) and `subject`.
Its original (`GET /documents/{id}/original`) is the attachment's own bytes, taken from
the mail again (`attachment_bytes`). An attachment of an attachment is not read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace

from qa.ingest.formats import Extracted
from qa.types import Document

SEPARATOR = "#"

#: Builds the Document of what was read (qa.ingest.corpus.document_from).
Builder = Callable[..., Document]


def attachment_id(doc_id: str, name: str) -> str:
    return f"{doc_id}{SEPARATOR}{name}"


def attachment_documents(
    mail: Document,
    carried: tuple[tuple[str, bytes], ...],
    *,
    extract: Callable[[bytes, str], Extracted],
    build: Builder,
) -> Iterator[tuple[str, Document | str]]:
    """(doc id, Document or the reason it was not read) for each attachment of `mail`."""
    subject = mail.title
    for name, data in carried:
        doc_id = attachment_id(mail.doc_id, name)
        try:
            extracted = extract(data, doc_id)
            if extracted.attachments:
                extracted = replace(extracted, attachments=())
            extracted = replace(
                extracted,
                title=f"{name} — in: {subject}",
                metadata={**extracted.metadata, "attached_to": mail.doc_id, "subject": subject},
            )
            yield doc_id, build(doc_id, extracted, data=data)
        except ValueError as exc:
            yield doc_id, f"attached to {mail.doc_id}: {exc}"


def known_attachments(mail: Document, known: Mapping[str, Document]) -> list[Document]:
    """The stored documents of an unchanged mail's attachments."""
    names = mail.metadata.get("attachments") or []
    found = (known.get(attachment_id(mail.doc_id, str(n))) for n in names)
    return [doc for doc in found if doc is not None]


def attachment_bytes(mail_data: bytes, name: str) -> bytes | None:
    """The bytes of attachment `name` of the mail `mail_data`, or None."""
    from qa.ingest.formats.mail import parse, readable_attachments

    for found, data in readable_attachments(parse(mail_data)):
        if found == name:
            return data
    return None
