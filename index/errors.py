"""Exceptions the index raises; the CLI and the web service turn them into messages.

Each carries the next step for the user, because the edge shows ``str(error)`` as is.
"""

from __future__ import annotations


class DocqaError(Exception):
    """Base class for every error docqa reports to a user."""

    #: the HTTP status the service answers with, and the stable code in its JSON body
    status = 500
    code = "internal_error"


class SettingError(DocqaError, ValueError):
    """A setting has an unknown name or a value of the wrong type."""

    status = 500
    code = "bad_setting"


class IndexNotBuilt(DocqaError):
    """There is no index file yet."""

    status = 503
    code = "index_not_built"


class IndexCorrupt(DocqaError):
    """The index file exists but cannot be read as a docqa index."""

    status = 503
    code = "index_corrupt"


class IndexOutdated(IndexCorrupt):
    """The index was built by another docqa version: its format or its terms differ from this one's."""

    code = "index_outdated"


class DocumentsMissing(DocqaError):
    """The documents folder does not exist or is not a folder."""

    status = 500
    code = "documents_missing"


class BuildInProgress(DocqaError):
    """Another build holds the lock on this index."""

    status = 409
    code = "build_in_progress"


class BuildFailed(DocqaError):
    """A build could not finish; the previous index is still in place."""

    status = 500
    code = "build_failed"


class UnreadableDocument(DocqaError):
    """A document could not be read or parsed; the build skips it and says why."""

    status = 422
    code = "unreadable_document"


class InvalidQuestion(DocqaError):
    """A question is empty, too long, or has fields of the wrong type."""

    status = 400
    code = "invalid_question"


class DocumentNotFound(DocqaError):
    """No indexed document has that id."""

    status = 404
    code = "not_found"


class RateLimited(DocqaError):
    """A client sent more requests than the configured rate allows."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(DocqaError):
    """The request is not allowed from where it came (a cross-site form, say)."""

    status = 403
    code = "forbidden"


class Unauthorized(DocqaError):
    """The admin token is missing or wrong."""

    status = 401
    code = "unauthorized"
