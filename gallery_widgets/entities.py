"""Plain, frozen results of the gallery API (SPEC §4).

Store rows are converted to these at the store boundary, so nothing above the
store ever holds a database object.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Generic, Mapping, TypeVar

T = TypeVar("T")

KINDS = ("algorithm", "model", "workflow")
VISIBILITIES = ("private", "group", "public")


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "not given", as opposed to None meaning "remove"


@dataclass(frozen=True)
class Duration:
    """A free-duration quota: ``days`` per period, renewed at expiry when ``auto_renew``."""

    days: int
    auto_renew: bool = False


@dataclass(frozen=True)
class Paper:
    title: str
    url: str


@dataclass(frozen=True)
class Constraints:
    """What a version needs from the environment that imports it (SPEC U5)."""

    python: str | None = None
    requirements: tuple[str, ...] = ()
    resources: Mapping[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.python or self.requirements or self.resources)

    @classmethod
    def from_manifest(cls, manifest: Mapping) -> "Constraints":
        """The constraints a checked manifest declares (``python``, ``requirements``, ``resources``)."""
        return cls(
            python=manifest.get("python") or None,
            requirements=tuple(manifest.get("requirements") or ()),
            resources=dict(manifest.get("resources") or {}),
        )


@dataclass(frozen=True)
class Finding:
    """One problem the publish-time security scan found in one file of a source (SPEC P5).

    ``file`` is the posix path inside the source; a file inside an archive or a model
    container is named ``outer.zip::inner/path`` (one ``::`` per level).
    """

    file: str
    line: int | None  # 1-based, for Python files
    rule: str  # a bandit test id ("B602") or a rule of the scan ("pickle-global", "python-unparsed", ...)
    severity: str  # "low" | "medium" | "high"; high ones fail the publish
    message: str  # what is wrong and what to do

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} [{self.severity} {self.rule}] {self.message}"


@dataclass(frozen=True)
class Version:
    version: str
    description: str
    status: str  # "normal" | "discontinued"
    published_at: datetime
    constraints: Constraints
    digest: str
    whitelist: tuple[str, ...] = ()  # shown to the publisher and admins only
    dependencies: tuple[str, ...] = ()  # a workflow's "content_id@x.y.z" steps
    # What the security scan reported when this version was published (SPEC P5): the low
    # and medium findings (high ones fail the publish, so none are ever stored) ...
    findings: tuple[Finding, ...] = ()
    # ... and every callable its pickled files import when loaded ("module.name", sorted),
    # so that a subscriber sees what loading the model runs before importing it.
    pickle_imports: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssetSummary:
    content_id: str
    kind: str
    title: str
    summary: str
    publisher: str
    official: bool
    featured: bool
    status: str  # "released" | "discontinued"
    visibility: str
    views: int
    favorites: int
    subscriptions: int
    published_at: datetime
    categories: tuple[str, ...]
    cover: str | None = None  # sha256 of the cover image; fetch with ``g.cover_image``
    publisher_nickname: str = ""


@dataclass(frozen=True)
class Asset(AssetSummary):
    description: str = ""
    description_html: str = ""
    versions: tuple[Version, ...] = ()
    paper: Paper | None = None
    code_open: bool = False
    license: str = "Unknown"
    duration: Duration | None = None
    favorited: bool = False  # by the user who asked
    subscription_status: str | None = None  # "active" | "cancelled" | "expired" | None

    @property
    def latest_version(self) -> Version | None:
        normal = [v for v in self.versions if v.status == "normal"]
        return normal[0] if normal else (self.versions[0] if self.versions else None)


@dataclass(frozen=True)
class Subscription:
    content_id: str
    kind: str
    title: str
    publisher: str
    status: str  # "active" | "cancelled"
    subscribed_at: datetime
    expires_at: datetime | None
    auto_renew: bool
    remaining_days: int | None  # None when unlimited
    asset_status: str = "released"

    @property
    def expired(self) -> bool:
        return self.remaining_days == 0

    @property
    def usable(self) -> bool:
        return self.status == "active" and not self.expired


@dataclass(frozen=True)
class Comment:
    id: int
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class User:
    username: str
    nickname: str
    email: str
    description: str
    role: str  # "user" | "admin"
    avatar: str | None  # sha256 of the avatar image
    created_at: datetime


@dataclass(frozen=True)
class Notification:
    id: int
    subject: str
    body: str
    created_at: datetime
    read: bool


@dataclass(frozen=True)
class Acceptance:
    agreement: str
    agreement_version: str
    accepted_at: datetime
    content_id: str | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results. ``total`` is exact when ``total_is_exact``; otherwise at least
    ``total`` match (a market search stops counting past ``store.search.TOTAL_CAP``, shown
    as "1,000+"), and every page up to ``pages`` is full."""

    items: tuple[T, ...]
    total: int
    page: int
    page_size: int
    total_is_exact: bool = True

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class WhitelistChange:
    """What ``add_whitelist_users`` / ``delete_whitelist_users`` changed (SPEC V6)."""

    content_id: str
    version: str
    users: tuple[str, ...]
    propagated: tuple[str, ...] = ()  # "content_id@version" algorithm versions also changed
    skipped: tuple[str, ...] = ()  # dependencies owned by someone else, left as they were


class SubscriptionList(tuple):
    """A tuple of ``Subscription`` that also converts to a pandas DataFrame (SPEC M2)."""

    def to_dataframe(self):
        import pandas as pd

        columns = ["content_id", "kind", "title", "publisher", "status", "subscribed_at", "expires_at",
                   "auto_renew", "remaining_days", "asset_status"]
        frame = pd.DataFrame([{c: getattr(sub, c) for c in columns} for sub in self], columns=columns)
        frame["remaining_days"] = frame["remaining_days"].astype("Int64")  # whole days; <NA> when unlimited
        return frame


@dataclass(frozen=True)
class Agreement:
    """A text a user accepts before subscribing or publishing (SPEC SUB1, P1)."""

    id: str
    version: str
    title: str
    text: str


@dataclass(frozen=True)
class PackedSource:
    """A local algorithm, model or workflow as it travels to a gallery (SPEC §6, T5).

    ``kind`` and the checked ``manifest``; ``archive`` is the deterministic zip of its
    files (``.gallery/manifest.json`` inside), as bytes, a path to the file, or a
    readable binary stream (read once), and ``sha256`` its hex digest. The gallery
    recomputes the digest, checks the manifest and scans the files; it never runs them.

    A workflow has no archive of its own: the gallery writes it once every step names a
    gallery version. Each of its manifest's ``steps`` names its algorithm either as a
    gallery reference ``"content_id@x.y.z"`` or as ``{"local": key}``, and
    ``algorithms[key]`` is that local algorithm, packed; the workflow and these
    algorithms are published in one transaction (SPEC P6).
    """

    kind: str
    manifest: Mapping[str, Any]
    archive: bytes | os.PathLike | BinaryIO | None = None
    sha256: str = ""
    algorithms: Mapping[str, "PackedSource"] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, kind: str, manifest: Mapping[str, Any], archive: bytes) -> "PackedSource":
        """A packed algorithm or model whose digest is computed here."""
        return cls(kind, manifest, archive, hashlib.sha256(archive).hexdigest())

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", "")) if isinstance(self.manifest, Mapping) else ""

    def open_archive(self) -> BinaryIO:
        """The archive as a readable binary stream (the caller closes it)."""
        if isinstance(self.archive, (bytes, bytearray, memoryview)):
            return io.BytesIO(bytes(self.archive))
        if isinstance(self.archive, (str, os.PathLike)):
            return open(Path(self.archive), "rb")
        if self.archive is not None and hasattr(self.archive, "read"):
            return self.archive
        raise ValueError(f"This packed {self.kind} has no archive.")

    def __repr__(self) -> str:
        extra = f", {len(self.algorithms)} local algorithms" if self.algorithms else ""
        return f"PackedSource({self.kind!r}, {self.name!r}, sha256={self.sha256[:12] or '-'}…{extra})"


@dataclass(frozen=True)
class UsableVersion:
    """The version of an asset the acting user may import, resolved by the gallery (SPEC U1, U3-U7).

    Everything the kernel needs to fetch (``digest``), verify, check (``constraints``)
    and run it; ``code_visible`` says whether the user may read its code (open code, or
    the publisher). For a workflow, ``steps`` are the algorithm versions its steps
    use, in step order, each once; a step's manifest names one as ``reference``. Steps
    the user may not see are left out, and named "(not available to you)" in the manifest.
    """

    content_id: str
    title: str
    kind: str
    version: str
    digest: str
    manifest: Mapping[str, Any]
    code_visible: bool
    constraints: Constraints
    steps: tuple["UsableVersion", ...] = ()

    @property
    def reference(self) -> str:
        return f"{self.content_id}@{self.version}"


@dataclass(frozen=True)
class WorkspaceWorkflow:
    """A workflow imported into a workspace under a local name (SPEC U3), as the gallery keeps it.

    ``version`` is the imported version, with its steps, as it was resolved for the
    user when they imported it.
    """

    name: str
    workspace: str
    region: str
    imported_at: datetime
    version: UsableVersion


@dataclass(frozen=True)
class AccessToken:
    """A personal access token of a team server (SPEC T1), as its owner lists it.

    ``secret`` is the token itself, set only on the object ``create_token`` returns:
    the gallery keeps only its sha256 and can never show it again.
    """

    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None
    secret: str | None = field(default=None, repr=False)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
