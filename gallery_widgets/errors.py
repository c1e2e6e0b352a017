"""Every error the gallery raises.

Each class also subclasses the builtin a Python user would reach for, so
``except LookupError`` or ``except ValueError`` keep working. Every message
says what was wrong and what to do about it.
"""

from __future__ import annotations


class GalleryError(Exception):
    """Base class of every error raised by gallery_widgets."""


class NotFound(GalleryError, LookupError):
    """The thing does not exist, or the current user may not see it (SPEC V1)."""


class PermissionDenied(GalleryError, PermissionError):
    """The user sees the thing but may not do this to it."""


class InvalidInput(GalleryError, ValueError):
    """An argument is malformed; the message names it and says what is accepted."""


class Conflict(GalleryError):
    """The request clashes with the gallery's current state (a duplicate title, an
    asset that still has subscribers, a version that is not newer, ...)."""


class SubscriptionRequired(GalleryError, PermissionError):
    """Using the asset needs an active, unexpired subscription (SPEC U4)."""


class AgreementRequired(GalleryError):
    """An agreement or the version constraints must be accepted first (SPEC SUB1, P1).

    ``missing`` lists the agreement ids still to accept.
    """

    def __init__(self, message: str, missing: tuple[str, ...] = ()):
        super().__init__(message)
        self.missing = tuple(missing)


class ScanFailed(GalleryError):
    """The security scan of a publish found high-severity problems (SPEC P5).

    ``findings`` holds every finding of the scan.
    """

    def __init__(self, message: str, findings: tuple = ()):
        super().__init__(message)
        self.findings = tuple(findings)


class SchemaOutdated(GalleryError):
    """The gallery database was written by an older or newer gallery_widgets."""


class StorageError(GalleryError, OSError):
    """The gallery's files could not be read or written: a full disk, a read-only
    gallery home, a damaged database file. Nothing of the failed change was kept; the
    message says what to fix."""

    code = "storage_error"
    http_status = 503


class DatabaseUnavailable(StorageError, ConnectionError):
    """The gallery's database server cannot be reached or refused the connection (it is
    down, the host, port or database name is wrong, or it turned this user away). Nothing
    was changed; the message says what the server answered and what to check."""

    code = "database_unavailable"
    http_status = 503


__all__ = [
    "GalleryError",
    "NotFound",
    "PermissionDenied",
    "InvalidInput",
    "Conflict",
    "SubscriptionRequired",
    "AgreementRequired",
    "ScanFailed",
    "SchemaOutdated",
    "StorageError",
    "DatabaseUnavailable",
]
