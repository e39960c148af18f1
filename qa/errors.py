"""Every exception class of qa: one hierarchy, translated for people only at the edges.

Each class carries `code`, the stable public name a client sees (the `error` field of an
HTTP error body). How a code maps to an HTTP status is the HTTP edge's business
(`qa.api.errors`); the CLI prints the message and exits 1.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: the message says what went wrong and what to do about it."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(QAError):
    """A command-line option has a value the command cannot use."""

    code = "usage"


class ConfigError(QAError):
    """A setting has a value that cannot work."""

    code = "config"


class ModelError(QAError):
    """The configured model cannot be loaded."""

    code = "model"


class RerankerError(ModelError):
    """QA_RERANKER names no folder, or one that is not a local cross-encoder model."""

    code = "reranker_model"


class ReaderError(ModelError):
    """QA_READER names no folder, or one that is not a local extractive QA model."""

    code = "reader_model"


class CorpusError(QAError):
    """The corpus folder cannot be read."""

    code = "corpus"


class ServiceUnavailableError(QAError):
    """The service has not finished loading its model and index yet."""

    code = "unavailable"


class IndexError_(QAError):
    """Base for index problems (named so it does not shadow the builtin)."""

    code = "index"


class IndexNotFoundError(IndexError_):
    """No index has been built at the configured location."""

    code = "index_not_found"


class IndexCorruptError(IndexError_):
    """An index file is missing, truncated or does not match its manifest."""

    code = "index_corrupt"


class IndexMismatchError(IndexError_):
    """The index was built with another model or other chunking settings."""

    code = "index_mismatch"


class IndexBusyError(IndexError_):
    """Another process is writing the index right now."""

    code = "index_busy"


class StorageFullError(IndexError_):
    """The disk filled up while saving; the previous index is still live."""

    code = "storage_full"


class IndexWriteError(IndexError_):
    """Saving the index failed for another reason (permissions, I/O)."""

    code = "index_write"


class DocumentNotFoundError(QAError):
    """No document has the id asked for."""

    code = "document_not_found"


class InvalidDocumentError(QAError):
    """A document (id, text, metadata or file) cannot be indexed as sent."""

    code = "invalid_document"


class InvalidFilterError(QAError):
    """A metadata filter of a question cannot be applied."""

    code = "invalid_filter"


class CorpusSyncError(QAError):
    """The corpus folder cannot be written, so the two would disagree."""

    code = "corpus_sync"


class DocIdClashError(QAError):
    """The id needs a file where the corpus folder has a folder, or the reverse."""

    code = "doc_id_clash"


class UnsupportedMediaTypeError(QAError):
    """A request body comes in a media type the service does not read."""

    code = "unsupported_media_type"


class BadRequestError(QAError):
    """A request body cannot be read at all (e.g. it is not UTF-8)."""

    code = "bad_request"


class UnauthorizedError(QAError):
    """The request needs the API key and did not bring the right one."""

    code = "unauthorized"


class WritesDisabledError(QAError):
    """No API key is configured, so nothing may change the index over HTTP."""

    code = "writes_disabled"


class ForbiddenError(QAError):
    """The key is valid here but does not allow this (a read key writing)."""

    code = "forbidden"


class CollectionNotFoundError(QAError):
    """No collection of that name that the request's key may read (the two are one
    answer: a caller learns nothing about collections it cannot read)."""

    code = "collection_not_found"


class UnreadableDocumentError(InvalidDocumentError):
    """An uploaded file of a supported format cannot be read (damaged, protected, scanned,
    a zip bomb, no main text, too slow to extract)."""

    code = "unreadable_document"


class FileTooLargeError(InvalidDocumentError):
    """An uploaded file is over QA_MAX_FILE_BYTES."""

    code = "file_too_large"


class PageNotFoundError(DocumentNotFoundError):
    """A page image was asked of a page the document does not have (or it has no pages)."""

    code = "page_not_found"


class InvalidSpanError(QAError):
    """A span to highlight does not lie in the document."""

    code = "invalid_span"


class OriginalMissingError(DocumentNotFoundError):
    """The file a document was indexed from is gone or has changed since."""

    code = "original_missing"


class RenderError(QAError):
    """A page image could not be made in bounds (time, a damaged file)."""

    code = "render_failed"
