"""Every error the gallery raises, and how each travels over the wire (SPEC T4).

Each class also subclasses the builtin a Python user would reach for, so
``except LookupError`` or ``except ValueError`` keep working. Every message
says what was wrong and what to do about it.

On a team server an error becomes the body ``{"error": {"code", "message", "details"}}``
with the class's HTTP ``status``; the client turns it back into the same class with the
same message and attributes (``GalleryError.from_dict``). ``code`` values are stable:
clients of other versions rely on them.
"""

from __future__ import annotations

from typing import Any

_BY_CODE: dict[str, type["GalleryError"]] = {}


class GalleryError(Exception):
    """Base class of every error raised by gallery_widgets."""

    code = "gallery_error"
    status = 500

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Each class declares its own code; a subclass that forgets would silently travel
        # as its parent, so registering the same code twice is a programming error.
        code = cls.__dict__.get("code")
        if code is None:
            raise TypeError(f"{cls.__name__} must declare a stable wire `code`.")
        if code in _BY_CODE:
            raise TypeError(f"The wire code {code!r} of {cls.__name__} is already used by {_BY_CODE[code].__name__}.")
        _BY_CODE[code] = cls

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def details(self) -> dict[str, Any]:
        """The attributes beyond the message, as JSON-safe values (empty for most classes)."""
        return {}

    @classmethod
    def _from_details(cls, message: str, details: dict[str, Any]) -> "GalleryError":
        return cls(message)

    def to_dict(self) -> dict[str, Any]:
        """``{"error": {"code", "message", "details"}}``: the body of an error response."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details()}}

    @staticmethod
    def from_dict(body: Any) -> "GalleryError":
        """The error ``to_dict`` described: the same class, message and details.

        An unknown code (a newer server) becomes a plain ``GalleryError`` with the message;
        a body that is not an error description at all becomes one that says so.
        """
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            return GalleryError(f"The gallery answered with an error this client cannot read: {str(body)[:200]!r}.")
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        cls = _BY_CODE.get(error.get("code"), GalleryError)
        try:
            return cls._from_details(error["message"], details)
        except (TypeError, ValueError, KeyError):
            return cls(error["message"])


_BY_CODE[GalleryError.code] = GalleryError


class NotFound(GalleryError, LookupError):
    """The thing does not exist, or the current user may not see it (SPEC V1)."""

    code = "not_found"
    status = 404


class PermissionDenied(GalleryError, PermissionError):
    """The user sees the thing but may not do this to it."""

    code = "permission_denied"
    status = 403


class InvalidInput(GalleryError, ValueError):
    """An argument is malformed; the message names it and says what is accepted."""

    code = "invalid_input"
    status = 400


class TooLarge(InvalidInput):
    """A request body (an upload, an image, a JSON document) is larger than the server accepts."""

    code = "too_large"
    status = 413


class Conflict(GalleryError):
    """The request clashes with the gallery's current state (a duplicate title, an
    asset that still has subscribers, a version that is not newer, ...)."""

    code = "conflict"
    status = 409


class SubscriptionRequired(GalleryError, PermissionError):
    """Using the asset needs an active, unexpired subscription (SPEC U4)."""

    code = "subscription_required"
    status = 403


class AgreementRequired(GalleryError):
    """An agreement or the version constraints must be accepted first (SPEC SUB1, P1).

    ``missing`` lists the agreement ids still to accept.
    """

    code = "agreement_required"
    status = 428  # Precondition Required: accept, then send the same request again

    def __init__(self, message: str, missing: tuple[str, ...] = ()):
        super().__init__(message)
        self.missing = tuple(missing)

    def details(self) -> dict[str, Any]:
        return {"missing": list(self.missing)}

    @classmethod
    def _from_details(cls, message, details):
        return cls(message, tuple(str(m) for m in details.get("missing") or ()))


class ScanFailed(GalleryError):
    """The security scan of a publish found high-severity problems (SPEC P5).

    ``findings`` holds every finding of the scan.
    """

    code = "scan_failed"
    status = 422

    def __init__(self, message: str, findings: tuple = ()):
        super().__init__(message)
        self.findings = tuple(findings)

    def details(self) -> dict[str, Any]:
        from dataclasses import asdict, is_dataclass

        return {"findings": [asdict(f) if is_dataclass(f) else {"message": str(f)} for f in self.findings]}

    @classmethod
    def _from_details(cls, message, details):
        from .entities import Finding

        findings = []
        for item in details.get("findings") or ():
            findings.append(Finding(file=str(item.get("file", "")), line=item.get("line"), rule=str(item.get("rule", "")),
                                    severity=str(item.get("severity", "")), message=str(item.get("message", ""))))
        return cls(message, tuple(findings))


class SchemaOutdated(GalleryError):
    """The gallery database was written by an older or newer gallery_widgets."""

    code = "schema_outdated"
    status = 503


class StorageError(GalleryError, OSError):
    """The gallery's files could not be read or written: a full disk, a read-only
    gallery home, a damaged database file. Nothing of the failed change was kept; the
    message says what to fix."""

    code = "storage_error"
    status = 503

    @property
    def message(self) -> str:
        # OSError keeps a one-argument message in args like any exception; say so explicitly
        # because OSError(errno, strerror) would otherwise be rendered differently.
        return str(self.args[0]) if len(self.args) == 1 else str(self)

    @property
    def http_status(self) -> int:  # the name an earlier version used
        return self.status


class TamperedArtifact(GalleryError):
    """An artifact's bytes no longer match its digest (SPEC U7): nothing of it was loaded."""

    code = "tampered_artifact"
    status = 500


class Unauthenticated(GalleryError, PermissionError):
    """A team server needs a valid credential: none was sent, or the token is unknown,
    expired or revoked (SPEC T1, T3); the message says which and what to do."""

    code = "unauthenticated"
    status = 401


def error_classes() -> dict[str, type[GalleryError]]:
    """Every wire code with its class."""
    return dict(_BY_CODE)


class DatabaseUnavailable(StorageError, ConnectionError):
    """The gallery's database server cannot be reached or refused the connection (it is
    down, the host, port or database name is wrong, or it turned this user away). Nothing
    was changed; the message says what the server answered and what to check."""

    code = "database_unavailable"
    status = 503


__all__ = [
    "GalleryError",
    "NotFound",
    "PermissionDenied",
    "InvalidInput",
    "TooLarge",
    "Conflict",
    "SubscriptionRequired",
    "AgreementRequired",
    "ScanFailed",
    "SchemaOutdated",
    "StorageError",
    "TamperedArtifact",
    "Unauthenticated",
    "error_classes",
    "DatabaseUnavailable",
]
