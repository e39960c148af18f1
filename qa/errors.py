"""One exception hierarchy; the edges (API, CLI) translate it for people."""

from __future__ import annotations


class QAError(Exception):
    """Base class: the message says what went wrong and what to do about it."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(QAError):
    """A setting has a value that cannot work."""


class ModelError(QAError):
    """The configured model cannot be loaded."""

    status_code = 503


class CorpusError(QAError):
    """The corpus folder cannot be read."""


class IndexError_(QAError):
    """Base for index problems (named so it does not shadow the builtin)."""

    status_code = 503


class IndexNotFoundError(IndexError_):
    """No index has been built at the configured location."""


class IndexCorruptError(IndexError_):
    """An index file is missing, truncated or does not match its manifest."""


class IndexMismatchError(IndexError_):
    """The index was built with another model or other chunking settings."""


class IndexBusyError(IndexError_):
    """Another process is writing the index right now."""

    status_code = 409


class DocumentNotFoundError(QAError):
    status_code = 404


class InvalidDocumentError(QAError):
    status_code = 422


class StorageFullError(IndexError_):
    """The disk filled up while saving; the previous index is still live."""

    status_code = 507


class IndexWriteError(IndexError_):
    """Saving the index failed for another reason (permissions, I/O)."""


class CorpusSyncError(QAError):
    """The corpus folder cannot be written, so the two would disagree."""

    status_code = 503


class DocIdClashError(QAError):
    """The id needs a file where the corpus folder has a folder, or the reverse."""

    status_code = 409


class UnsupportedMediaTypeError(QAError):
    status_code = 415


class BadRequestError(QAError):
    status_code = 400
