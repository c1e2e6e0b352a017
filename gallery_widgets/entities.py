"""Plain, frozen results of the gallery API (SPEC §4).

Store rows are converted to these at the store boundary, so nothing above the
store ever holds a database object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Mapping, TypeVar

T = TypeVar("T")

KINDS = ("algorithm", "model", "workflow")
VISIBILITIES = ("private", "group", "public")


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
    items: tuple[T, ...]
    total: int
    page: int
    page_size: int

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
