"""What every part of the service shares: the acting user, the clock, and the
visibility rule (SPEC V1, V2, V5), one SQL condition for single assets and for queries."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import and_, bindparam, exists, or_, select, true
from sqlalchemy.orm import lazyload, object_session

from ..artifacts import ArtifactStore
from ..entities import UNSET  # noqa: F401  (re-exported: "not given", as opposed to None meaning "remove")
from ..errors import InvalidInput, NotFound, PermissionDenied
from ..store.engine import Database
from ..store.schema import AssetRow, AssetTextRow, SubscriptionRow, UserRow, VersionRow, WhitelistRow
from ..store.search import facets, without_accents
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
    # Users as reads saw them (``ServiceBase._who``): user id -> (monotonic time, Who), and
    # how many role changes this process has made (a read that began before one keeps nothing).
    users_seen: dict = field(default_factory=dict, repr=False, compare=False)
    roles_changed: int = field(default=0, repr=False, compare=False)

    def forget_users(self) -> None:
        """A role changed (committed): reads in this process read users again from now on."""
        self.roles_changed += 1
        self.users_seen.clear()


@dataclass(frozen=True)
class Who:
    """The acting user as the visibility rule reads it (``ServiceBase._who``)."""

    id: int
    username: str
    role: str


class ServiceBase:
    """The acting user and the rules every operation starts with."""

    # How long a read may trust who the acting user was (their role, that the account
    # exists) without reading it again; 0: read on every call. A team server sets it to its
    # token cache's seconds (``gallery-widgets serve --token-cache``): one bound for both.
    who_ttl: float = 0.0

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

    def _who(self, session) -> "Who | UserRow":
        """The acting user for a read-only rule check (market pages, details, comments): ``_me``, or
        what it found at most ``who_ttl`` seconds ago. A role changed through this process
        (``set_role``) is seen at once; one changed elsewhere within ``who_ttl``."""
        if self.who_ttl <= 0:
            return self._me(session)
        seen = self._ctx.users_seen
        kept = seen.get(self._user_id)
        now = time.monotonic()
        if kept is not None and now - kept[0] < self.who_ttl:
            return kept[1]
        changes = self._ctx.roles_changed
        me = self._me(session)
        who = Who(me.id, me.username, me.role)
        if changes == self._ctx.roles_changed:  # else a role changed while it was read: keep nothing
            if len(seen) > 10_000:
                seen.clear()
            seen[self._user_id] = (now, who)
        return who

    @staticmethod
    def _is_admin(me: UserRow) -> bool:
        return me.role == "admin"

    # -- visibility (SPEC V1, V2, V5) -----------------------------------------
    # The rule is written once, as SQL over AssetRow: the market filters by it, and a single
    # asset is checked by the same condition plus its id (``_can_see``, ``_visible_asset``).
    # Its EXISTS parts name ``AssetRow.id``: they only mean "this asset" inside a statement
    # that selects from AssetRow. Never evaluate them on their own (``select(exists(...))``):
    # SQLAlchemy then adds ``assets`` to the subquery and the test holds for *any* asset.
    @staticmethod
    def _visible_condition(user: UserRow, *, in_market: bool = False):
        """SQL condition on AssetRow: ``user`` may see the asset (V1, V2).

        Admins see everything; publishers their own assets. Anyone else needs the asset's
        audience (public; group and whitelisted on one of *its* versions) and, once it is
        discontinued, a subscription to it. ``in_market``: only released assets (S2), where
        the subscription part never matters (so the market's query does not carry it).
        """
        if user.role == "admin":
            return AssetRow.status == "released" if in_market else true()
        whitelisted_here = exists(
            select(1)
            .select_from(VersionRow)
            .join(WhitelistRow, WhitelistRow.version_id == VersionRow.id)
            .where(VersionRow.asset_id == AssetRow.id, WhitelistRow.username == user.username)
            .correlate(AssetRow)  # only the asset: the outer query may read versions or subscriptions too
        )
        audience = or_(
            AssetRow.visibility == "public",
            and_(AssetRow.visibility == "group", whitelisted_here),
        )
        if in_market:
            return and_(AssetRow.status == "released", or_(AssetRow.publisher_id == user.id, audience))
        subscribed_here = exists(
            select(1)
            .select_from(SubscriptionRow)
            .where(SubscriptionRow.asset_id == AssetRow.id, SubscriptionRow.user_id == user.id)
            .correlate(AssetRow)
        )
        return or_(
            AssetRow.publisher_id == user.id,
            and_(audience, or_(AssetRow.status == "released", subscribed_here)),
        )

    def _visibility_query(self, user: UserRow, by: str, *, for_update: bool = False):
        """``select(AssetRow)`` of the asset whose ``by`` column equals the bound parameter
        ``key``, if ``user`` may see it. Built once per user and kept: a statement object
        reused as is skips SQLAlchemy's per-call cache-key work (it halves a detail read).
        Its categories are read only if used (details read their own: ``AssetDetails``)."""
        def build():
            query = select(AssetRow).where(getattr(AssetRow, by) == bindparam("key"), self._visible_condition(user))
            if for_update and self._db.dialect == "postgresql":
                query = query.with_for_update(of=AssetRow)
            return query.options(lazyload(AssetRow.categories))

        return self._kept(("asset", user.id, user.username, user.role, by, for_update), build)

    def _kept(self, key: tuple, build):
        """The SQL object ``build()`` makes for ``key``, made once and kept with this gallery
        (bounded: several users are checked in workflow rules)."""
        kept = self.__dict__.setdefault("_kept_sql", {})
        value = kept.get(key)
        if value is None:
            if len(kept) > 256:
                kept.clear()
            value = kept[key] = build()
        return value

    def _can_see(self, session, user: UserRow, asset: AssetRow) -> bool:
        """``user`` (anyone, not only the acting user) may see ``asset`` (V1, V2)."""
        query = self._visibility_query(user, "id").with_only_columns(AssetRow.id)
        return session.scalar(query, {"key": asset.id}) is not None

    @staticmethod
    def _version_open_to(user: UserRow, asset: AssetRow, version: VersionRow) -> bool:
        """V5, for an asset ``user`` may see: this version is theirs to see and use (a group
        asset's member only uses the versions whose whitelist holds them)."""
        return ServiceBase._open_to(user, asset.publisher_id, asset.visibility, (w.username for w in version.whitelist))

    @staticmethod
    def _open_to(user, publisher_id: int, visibility: str, whitelist) -> bool:
        """``_version_open_to`` over plain values: the asset's publisher and visibility, and the
        version's whitelisted user names (an iterable, read only for a group asset)."""
        if user.role == "admin" or (user.id is not None and publisher_id == user.id):
            return True
        if visibility == "group":
            return user.username in whitelist
        return visibility == "public"

    def _in_audience(self, session, user: UserRow, asset: AssetRow, version: VersionRow) -> bool:
        """``user`` may see ``asset`` and use this ``version`` of it (V1, V2, V5); the
        version's status does not matter here, only who it is open to."""
        return self._can_see(session, user, asset) and self._version_open_to(user, asset, version)

    @staticmethod
    def _user_named(session, username: str) -> UserRow:
        """The account ``username``, or a stand-in for one who has not opened the gallery yet
        (a whitelist may name them already): a plain user who publishes nothing."""
        row = session.scalar(select(UserRow).where(UserRow.username == username))
        return row if row is not None else UserRow(id=None, username=username, role="user")

    @staticmethod
    def _subscription_row(session, me: UserRow, asset: AssetRow) -> SubscriptionRow | None:
        # The asset is already loaded: its row comes from the session, not a second join
        # (which also re-read its categories: one round trip less per detail page).
        return session.scalar(_SUBSCRIPTION_ROW, {"me_id": me.id, "asset_id": asset.id})

    def _asset_row(self, session, content_id, *, for_update: bool = False) -> AssetRow | None:
        cid = validate.content_id(content_id)
        query = select(AssetRow).where(AssetRow.content_id == cid)
        if for_update and self._db.dialect == "postgresql":
            query = query.with_for_update(of=AssetRow)
        return session.scalar(query)

    def _visible_asset(self, session, me: UserRow, content_id, *, for_update: bool = False) -> AssetRow:
        """The asset, or NotFound when it does not exist *or* this user may not see it."""
        cid = validate.content_id(content_id)
        asset = session.scalar(self._visibility_query(me, "content_id", for_update=for_update), {"key": cid})
        if asset is None:
            raise NotFound(NOT_VISIBLE.format(content_id))
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


NOT_VISIBLE = ("No asset {!r} is visible to you. Check the id (search with g.search) or ask its publisher to share "
               "it with you.")

# Built once (a detail page and every use check read it): the values are bound parameters.
_SUBSCRIPTION_ROW = select(SubscriptionRow).where(
    SubscriptionRow.user_id == bindparam("me_id"), SubscriptionRow.asset_id == bindparam("asset_id")
).options(lazyload(SubscriptionRow.asset))


def refresh_search(asset: AssetRow, publisher: UserRow) -> None:
    """Recompute what the market search reads for ``asset``; call after every change to
    its texts, status, visibility, whitelists, flags or categories (and the publisher's
    nickname). The session is flushed first so whitelist and category rows are current."""
    object_session(asset).flush()
    if asset.texts is None:
        asset.texts = AssetTextRow(description="", description_html="")
    texts = asset.texts
    texts.search_doc = without_accents(
        "\n".join((asset.title, asset.summary, texts.description or "", publisher.username, publisher.nickname))
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
