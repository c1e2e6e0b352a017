"""An asset's details (SPEC S3): what a detail page, a favorite and every publishing call answer.

Read as plain rows in few round trips, because a detail page is the market's second most
frequent call: one statement returns the asset (if the caller may see it), its publisher,
texts, "favorited", the caller's subscription and, on PostgreSQL, its categories; a second
its versions; a third their whitelists, only when they are shown or decide (the owner's view,
a group asset). Counting a view is one more statement. No ORM objects are built.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from sqlalchemy import Integer, String, and_, bindparam, exists, func, select, update
from sqlalchemy.orm import aliased

from ..entities import Asset
from ..errors import NotFound
from ..store import convert
from ..store.engine import RELAXED_COMMIT
from ..store.schema import (
    AssetCategoryRow,
    AssetRow,
    NEWEST_FIRST,
    AssetTextRow,
    FavoriteRow,
    SubscriptionRow,
    UserRow,
    VersionRow,
    WhitelistRow,
)
from .base import NOT_VISIBLE, ServiceBase, Who
from .workflow_access import WorkflowAccess

# The columns of a market page's row: the asset and its publisher's names (looked up by
# primary key per row: a join lets PostgreSQL, hash joins being off for the market, compare
# every page row with every user).
SUMMARY = select(
    *AssetRow.__table__.c,
    *(
        select(column).where(UserRow.id == AssetRow.publisher_id).scalar_subquery().label(label)
        for column, label in ((UserRow.username, "publisher_name"), (UserRow.nickname, "publisher_nick"))
    ),
)

_KEY, _ME = bindparam("key"), bindparam("me_id", type_=Integer)
_ASSET_ID = bindparam("asset_id", type_=Integer)
_ASSETS = AssetRow.__table__


class _SubscriptionColumns(NamedTuple):
    """What ``convert.subscription_state`` reads of a subscription."""

    status: str
    expires_at: object
    period_days: int | None
    auto_renew: bool


@functools.lru_cache(maxsize=16)
def _details_statement(by: str, check: bool, postgres: bool):
    """The asset whose ``by`` column is ``key`` with everything its page shows but its versions,
    built once per shape (every value is a bound parameter). ``check``: only if the caller
    (``me_id``, ``me_name``), not an admin, may see it (V1, V2)."""
    mine = aliased(SubscriptionRow)
    text = select(AssetTextRow.description).where(AssetTextRow.asset_id == AssetRow.id)
    statement = SUMMARY.add_columns(
        text.scalar_subquery().label("description"),
        text.with_only_columns(AssetTextRow.description_html).scalar_subquery().label("description_html"),
        exists().where(FavoriteRow.asset_id == AssetRow.id, FavoriteRow.user_id == _ME).label("favorited"),
        mine.status.label("sub_status"), mine.expires_at.label("sub_expires_at"),
        mine.period_days.label("sub_period_days"), mine.auto_renew.label("sub_auto_renew"),
    ).outerjoin(mine, and_(mine.asset_id == AssetRow.id, mine.user_id == _ME))
    if postgres:
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        statement = statement.add_columns(
            select(func.array_agg(aggregate_order_by(AssetCategoryRow.category, AssetCategoryRow.position)))
            .where(AssetCategoryRow.asset_id == AssetRow.id).scalar_subquery().label("categories"))
    statement = statement.where(getattr(AssetRow, by) == _KEY)
    if check:
        anyone = Who(_ME, bindparam("me_name", type_=String), "user")
        statement = statement.where(ServiceBase._visible_condition(anyone))
    return statement


_CATEGORIES_OF = select(AssetCategoryRow.category).where(AssetCategoryRow.asset_id == _ASSET_ID) \
    .order_by(AssetCategoryRow.position)
_COUNT_VIEW = update(_ASSETS).where(_ASSETS.c.id == _ASSET_ID).values(views=_ASSETS.c.views + 1) \
    .returning(_ASSETS.c.views)
# On PostgreSQL a view is committed without waiting for the WAL flush (engine.RELAXED_COMMIT).
_COUNT_VIEW_RELAXED = _COUNT_VIEW.returning(RELAXED_COMMIT)
# What a version shows (``convert.version_from_columns``): not its manifest, a JSON document
# of its own that a details page never uses.
_VERSIONS = select(VersionRow.id, VersionRow.version, VersionRow.description, VersionRow.status,
                   VersionRow.published_at, VersionRow.constraints, VersionRow.digest, VersionRow.findings) \
    .where(VersionRow.asset_id == _ASSET_ID) \
    .order_by(*NEWEST_FIRST)
_WHITELISTS = select(WhitelistRow.version_id, WhitelistRow.username) \
    .where(WhitelistRow.version_id.in_(bindparam("version_ids", expanding=True))).order_by(WhitelistRow.username)
# A group asset seen by someone else: only whether they are on each version's whitelist.
_MY_WHITELISTINGS = _WHITELISTS.where(WhitelistRow.username == bindparam("me_name", type_=String))


class AssetDetails(WorkflowAccess):
    def _details_of(self, s, me, by: str, key, *, count_view: bool = False, checked: bool = False) -> Asset:
        """The details of the asset whose ``by`` column ("content_id" or "id") is ``key``, as
        ``me`` sees them; NotFound when it does not exist or ``me`` may not see it. ``checked``:
        the caller already holds the asset (no visibility check). ``count_view``: one view is
        counted unless ``me`` publishes it (S3)."""
        admin = self._is_admin(me)
        postgres = self._db.dialect == "postgresql"
        sql = s.connection()  # plain statements: Core skips the ORM layer's work per statement
        row = sql.execute(_details_statement(by, not (checked or admin), postgres),
                        {"key": key, "me_id": me.id, "me_name": me.username}).mappings().first()
        if row is None:
            raise NotFound(NOT_VISIBLE.format(key))
        asset_id = {"asset_id": row["id"]}
        views = row["views"]
        if count_view and row["publisher_id"] != me.id:
            views = sql.execute(_COUNT_VIEW_RELAXED if postgres else _COUNT_VIEW, asset_id).scalar()
        categories = row["categories"] or () if postgres else sql.execute(_CATEGORIES_OF, asset_id).scalars().all()
        owner = row["publisher_id"] == me.id or admin
        versions = sql.execute(_VERSIONS, asset_id).all()
        whitelists: dict[int, list[str]] = {}
        if versions and (owner or row["visibility"] == "group"):
            for version_id, username in sql.execute(_WHITELISTS if owner else _MY_WHITELISTINGS, {
                    "version_ids": [v.id for v in versions], "me_name": me.username}):
                whitelists.setdefault(version_id, []).append(username)
        if not owner:
            versions = [v for v in versions if v.status == "normal"
                        and self._open_to(me, row["publisher_id"], row["visibility"], whitelists.get(v.id, ()))]
        dependencies = self._visible_dependencies(s, me, [v.id for v in versions]) if row["kind"] == "workflow" else {}
        subscription = None
        if row["sub_status"] is not None:
            subscription = _SubscriptionColumns(row["sub_status"], row["sub_expires_at"], row["sub_period_days"],
                                                row["sub_auto_renew"])
        shown = {**row, "views": views}
        return convert.asset_from_mapping(
            shown, categories,
            tuple(convert.version_from_columns(v, tuple(whitelists.get(v.id, ())) if owner else (),
                                               dependencies=dependencies.get(v.id, ())) for v in versions),
            favorited=bool(row["favorited"]),
            subscription_status=convert.subscription_state(subscription, self._now()),
        )

    def _details(self, s, me, row: AssetRow) -> Asset:
        """The details of an asset the caller holds (and may see), as they stand in this
        transaction."""
        s.flush()  # the details are read with Core statements, which do not flush pending changes
        return self._details_of(s, me, "id", row.id, checked=True)
