"""ORM rows → plain entities. Nothing above the store sees a row."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ..entities import (
    Asset,
    AssetSummary,
    Comment,
    Constraints,
    Duration,
    Finding,
    Notification,
    Paper,
    Subscription,
    User,
    Version,
)
from .schema import AssetRow, CommentRow, NotificationRow, SubscriptionRow, UserRow

DAY = timedelta(days=1)


def user(row: UserRow) -> User:
    return User(
        username=row.username,
        nickname=row.nickname,
        email=row.email,
        description=row.description,
        role=row.role,
        avatar=row.avatar,
        created_at=row.created_at,
    )


def _summary_fields(row: AssetRow) -> dict:
    return dict(
        content_id=row.content_id,
        kind=row.kind,
        title=row.title,
        summary=row.summary,
        publisher=row.publisher.username,
        publisher_nickname=row.publisher.nickname,
        official=row.official,
        featured=row.featured,
        status=row.status,
        visibility=row.visibility,
        views=row.views,
        favorites=row.favorites,
        subscriptions=row.subscriptions,
        published_at=row.published_at,
        categories=tuple(c.category for c in row.categories),
        cover=row.cover,
    )


def summary(row: AssetRow) -> AssetSummary:
    return AssetSummary(**_summary_fields(row))


def summary_from_mapping(row, categories) -> AssetSummary:
    """A summary from a plain result row of ``assets`` plus ``publisher_name``/``publisher_nick``."""
    return AssetSummary(**_summary_fields_from_mapping(row, categories))


def asset_from_mapping(row, categories, versions: tuple[Version, ...], *, favorited: bool,
                       subscription_status: str | None) -> Asset:
    """Details from a plain result row: ``summary_from_mapping``'s columns plus the asset's
    texts (``description``, ``description_html``)."""
    paper = Paper(row["paper_title"], row["paper_url"]) if row["paper_title"] and row["paper_url"] else None
    duration = Duration(row["duration_days"], row["auto_renew"]) if row["duration_days"] else None
    return Asset(
        **_summary_fields_from_mapping(row, categories),
        description=row["description"] or "",
        description_html=row["description_html"] or "",
        versions=versions,
        paper=paper,
        code_open=row["code_open"],
        license=row["license"],
        duration=duration,
        favorited=favorited,
        subscription_status=subscription_status,
    )


def _summary_fields_from_mapping(row, categories) -> dict:
    return dict(
        content_id=row["content_id"],
        kind=row["kind"],
        title=row["title"],
        summary=row["summary"],
        publisher=row["publisher_name"],
        publisher_nickname=row["publisher_nick"],
        official=row["official"],
        featured=row["featured"],
        status=row["status"],
        visibility=row["visibility"],
        views=row["views"],
        favorites=row["favorites"],
        subscriptions=row["subscriptions"],
        published_at=row["published_at"],
        categories=tuple(categories),
        cover=row["cover"],
    )


def constraints(data: dict | None) -> Constraints:
    data = data or {}
    return Constraints(
        python=data.get("python"),
        requirements=tuple(data.get("requirements") or ()),
        resources=dict(data.get("resources") or {}),
    )


def version_from_columns(row, whitelist: tuple[str, ...], *, dependencies: tuple[str, ...] = ()) -> Version:
    """A version from a row of its columns (an ORM row or a plain one) and the whitelist to show."""
    return Version(
        version=row.version,
        description=row.description,
        status=row.status,
        published_at=row.published_at,
        constraints=constraints(row.constraints),
        digest=row.digest,
        whitelist=whitelist,
        dependencies=dependencies,
        findings=findings(row.findings),
        pickle_imports=pickle_imports(row.findings),
    )


def findings(records: list | None) -> tuple[Finding, ...]:
    """The scan findings kept on a version (its "info" records are the pickle imports)."""
    return tuple(
        Finding(
            file=str(r.get("file", "")),
            line=r.get("line") if isinstance(r.get("line"), int) else None,
            rule=str(r.get("rule", "")),
            severity=str(r.get("severity", "")),
            message=str(r.get("message", "")),
        )
        for r in records or ()
        if isinstance(r, dict) and r.get("severity") != "info"
    )


def pickle_imports(records: list | None) -> tuple[str, ...]:
    """Every callable the version's pickled files import ("module.name"), sorted."""
    return tuple(sorted({
        str(r.get("message")) for r in records or () if isinstance(r, dict) and r.get("rule") == "pickle-import"
    }))


def effective_expiry(row: SubscriptionRow, now: datetime) -> datetime | None:
    """The expiry after auto-renewals up to ``now`` (SUB3); renewing needs no stored job."""
    if row.expires_at is None:
        return None
    if row.auto_renew and row.period_days and row.expires_at <= now:
        period = timedelta(days=row.period_days)
        periods = (now - row.expires_at) // period + 1
        return row.expires_at + periods * period
    return row.expires_at


def remaining_days(expires_at: datetime | None, now: datetime) -> int | None:
    """Whole days of quota left, rounded up (a subscription of 30 days shows 30 at first)."""
    if expires_at is None:
        return None
    return max(0, math.ceil((expires_at - now) / DAY))


def subscription(row: SubscriptionRow, now: datetime) -> Subscription:
    asset = row.asset
    return _subscription(row, now, asset.content_id, asset.kind, asset.title, asset.publisher.username, asset.status)


def subscription_from_columns(row, now: datetime) -> Subscription:
    """A subscription read as plain columns (``Subscriptions.subscriptions``), not as ORM rows:
    a long list then builds no asset, category or publisher objects."""
    return _subscription(row, now, row.content_id, row.kind, row.title, row.publisher, row.asset_status)


def _subscription(row, now: datetime, content_id, kind, title, publisher, asset_status) -> Subscription:
    expires_at = effective_expiry(row, now)
    return Subscription(
        content_id=content_id,
        kind=kind,
        title=title,
        publisher=publisher,
        status=row.status,
        subscribed_at=row.subscribed_at,
        expires_at=expires_at,
        auto_renew=row.auto_renew,
        remaining_days=remaining_days(expires_at, now),
        asset_status=asset_status,
    )


def subscription_state(row: SubscriptionRow | None, now: datetime) -> str | None:
    if row is None:
        return None
    if row.status == "cancelled":
        return "cancelled"
    left = remaining_days(effective_expiry(row, now), now)
    return "expired" if left == 0 else "active"


def comment(row: CommentRow) -> Comment:
    return Comment(id=row.id, author=row.author.username, text=row.text, created_at=row.created_at)


def notification(row: NotificationRow) -> Notification:
    return Notification(id=row.id, subject=row.subject, body=row.body, created_at=row.created_at, read=row.read)
