"""What every part of the service shares: the acting user, the clock, and the
visibility rule (SPEC V1/V2) applied to single assets and to queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import object_session

from ..artifacts import ArtifactStore
from ..entities import UNSET  # noqa: F401  (re-exported: "not given", as opposed to None meaning "remove")
from ..errors import InvalidInput, NotFound, PermissionDenied
from ..store.engine import Database
from ..store.schema import AssetRow, AssetTextRow, SubscriptionRow, UserRow, VersionRow, WhitelistRow
from ..store.search import facets
from . import validate

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Context:
    """What a gallery runs on; shared by every gallery opened on it in a process."""

    db: Database
    artifacts: ArtifactStore
    home: str | None = None


class ServiceBase:
    """The acting user and the rules every operation starts with."""

    def __init__(self, context: Context, user_id: int, username: str, clock: Clock = utc_now):
        self._ctx = context
        self._db = context.db
        self._clock = clock
        self._user_id = user_id
        self.username = username

    # -- time -------------------------------------------------------------
    def _now(self) -> datetime:
        now = self._clock()
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise InvalidInput("The gallery clock must return an aware UTC datetime.")
        return now.astimezone(timezone.utc)

    # -- who --------------------------------------------------------------
    def _me(self, session) -> UserRow:
        row = session.get(UserRow, self._user_id)
        if row is None:  # the account was removed by an operator while this gallery was open
            raise NotFound(f"User {self.username!r} no longer exists in this gallery; open it again.")
        return row

    @staticmethod
    def _is_admin(me: UserRow) -> bool:
        return me.role == "admin"

    # -- visibility (SPEC V1, V2) -------------------------------------------
    @staticmethod
    def _whitelisted_on_any_version(username: str):
        return exists(
            select(1)
            .select_from(VersionRow)
            .join(WhitelistRow, WhitelistRow.version_id == VersionRow.id)
            .where(VersionRow.asset_id == AssetRow.id, WhitelistRow.username == username)
        )

    def _market_visible(self, me: UserRow):
        """SQL condition: released assets this user may see in the market (S2)."""
        released = AssetRow.status == "released"
        if self._is_admin(me):
            return released
        return and_(
            released,
            or_(
                AssetRow.visibility == "public",
                AssetRow.publisher_id == me.id,
                and_(AssetRow.visibility == "group", self._whitelisted_on_any_version(me.username)),
            ),
        )

    def _can_see(self, session, me: UserRow, asset: AssetRow) -> bool:
        if self._is_admin(me) or asset.publisher_id == me.id:
            return True
        if asset.status != "released":
            # V2: a discontinued asset stays visible to its existing subscribers only.
            return self._subscription_row(session, me, asset) is not None and self._audience_allows(
                session, me, asset
            )
        return self._audience_allows(session, me, asset)

    def _audience_allows(self, session, me: UserRow, asset: AssetRow) -> bool:
        if asset.visibility == "public":
            return True
        if asset.visibility == "group":
            return bool(session.scalar(select(self._whitelisted_on_any_version(me.username))))
        return False

    @staticmethod
    def _subscription_row(session, me: UserRow, asset: AssetRow) -> SubscriptionRow | None:
        return session.scalar(
            select(SubscriptionRow).where(SubscriptionRow.user_id == me.id, SubscriptionRow.asset_id == asset.id)
        )

    def _asset_row(self, session, content_id, *, for_update: bool = False) -> AssetRow | None:
        cid = validate.content_id(content_id)
        query = select(AssetRow).where(AssetRow.content_id == cid)
        if for_update and self._db.dialect == "postgresql":
            query = query.with_for_update(of=AssetRow)
        return session.scalar(query)

    def _visible_asset(self, session, me: UserRow, content_id, *, for_update: bool = False) -> AssetRow:
        """The asset, or NotFound when it does not exist *or* this user may not see it."""
        asset = self._asset_row(session, content_id, for_update=for_update)
        if asset is None or not self._can_see(session, me, asset):
            raise NotFound(
                f"No asset {content_id!r} is visible to you. Check the id (search with g.search) or ask "
                "its publisher to share it with you."
            )
        return asset

    def _owned_asset(self, session, me: UserRow, content_id, *, action: str) -> AssetRow:
        """SPEC P10: the asset, if this user publishes it (or is an admin)."""
        asset = self._visible_asset(session, me, content_id, for_update=True)
        if asset.publisher_id != me.id and not self._is_admin(me):
            raise PermissionDenied(
                f"Only the publisher of {asset.title!r} ({asset.publisher.username}) or a gallery admin can "
                f"{action}."
            )
        return asset

    def _require_admin(self, me: UserRow, action: str) -> None:
        if not self._is_admin(me):
            raise PermissionDenied(f"Only a gallery admin can {action}; ask an admin of this gallery.")


def refresh_search(asset: AssetRow, publisher: UserRow) -> None:
    """Recompute what the market search reads for ``asset``; call after every change to
    its texts, status, visibility, whitelists, flags or categories (and the publisher's
    nickname). The session is flushed first so whitelist and category rows are current."""
    object_session(asset).flush()
    if asset.texts is None:
        asset.texts = AssetTextRow(description="", description_html="")
    texts = asset.texts
    texts.search_doc = "\n".join(
        (asset.title, asset.summary, texts.description or "", publisher.username, publisher.nickname)
    )
    audience = {publisher.username}
    if asset.visibility == "group":
        audience.update(
            object_session(asset).scalars(
                select(WhitelistRow.username)
                .join(VersionRow, VersionRow.id == WhitelistRow.version_id)
                .where(VersionRow.asset_id == asset.id)
            )
        )
    texts.facets = facets(
        audience=audience,
        kind=asset.kind,
        status=asset.status,
        visibility=asset.visibility,
        official=asset.official,
        featured=asset.featured,
        categories=[c.category for c in asset.categories],
    )
