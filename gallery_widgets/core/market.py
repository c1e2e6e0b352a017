"""The market: search, details, favorites and comments (SPEC S1-S3, F1-F2)."""

from __future__ import annotations

import functools

from sqlalchemy import Integer, String, bindparam, delete, desc, exists, func, select, update

from ..entities import Asset, AssetSummary, Comment, Page
from ..store import convert
from ..store.engine import RELAXED_COMMIT
from ..store.schema import (
    AssetCategoryRow,
    AssetRow,
    CommentRow,
    FavoriteRow,
)
from ..store.search import MarketQuery, insert_ignore, run_market_query, terms
from . import validate
from .base import ServiceBase, Who
from .details import SUMMARY, AssetDetails
from .taxonomy import validate_categories

_SORT_COLUMNS = {
    "subscriptions": AssetRow.subscriptions,
    "favorites": AssetRow.favorites,
    "views": AssetRow.views,
    "latest": AssetRow.published_at,
}

_THIS_ASSET = bindparam("asset_id", type_=Integer)
_ASSETS = AssetRow.__table__
_FAVORITES_STEP = update(_ASSETS).where(_ASSETS.c.id == _THIS_ASSET) \
    .values(favorites=_ASSETS.c.favorites + bindparam("step", type_=Integer))
_FAVORITES_STEP_RELAXED = _FAVORITES_STEP.returning(RELAXED_COMMIT)

_COMMENT_COUNT = select(func.count()).where(CommentRow.asset_id == _THIS_ASSET)
_COMMENT_PAGE = select(CommentRow).where(CommentRow.asset_id == _THIS_ASSET) \
    .order_by(desc(CommentRow.created_at), desc(CommentRow.id)) \
    .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))


@functools.lru_cache(maxsize=64)
def _market_filters(admin: bool, tab: str, categories: int) -> tuple:
    """The market's SQL filters (kind, S2 and V1, tab, categories) for one shape of request,
    built once: the values are bound parameters named ``m_…`` (``MarketQuery.params``), so
    the statement of a market page is built and keyed once per shape, not per call (that
    was a third of a page's Python)."""
    if admin:
        visible = AssetRow.status == "released"
    else:
        # The one visibility rule, written over bound parameters instead of one user's values.
        anyone = Who(bindparam("m_me_id", type_=Integer), bindparam("m_me_name", type_=String), "user")
        visible = ServiceBase._visible_condition(anyone, in_market=True)
    filters = [AssetRow.kind == bindparam("m_kind", type_=String), visible]
    if tab in ("featured", "official"):
        filters.append(getattr(AssetRow, tab).is_(True))
    elif tab == "favorites":
        # Driven by the user's own favorites (few), not by walking the whole kind.
        filters.append(AssetRow.id.in_(select(FavoriteRow.asset_id).where(FavoriteRow.user_id == bindparam("m_me_id"))))
    for n in range(categories):
        filters.append(exists().where(AssetCategoryRow.asset_id == AssetRow.id,
                                      AssetCategoryRow.category == bindparam(f"m_category{n}", type_=String)))
    return tuple(filters)  # shared by every request of this shape: never to be changed


class Market(AssetDetails):
    def search(
        self,
        kind: str = "algorithm",
        query: str = "",
        tab: str = "all",
        categories=(),
        sort: str = "subscriptions",
        page: int = 1,
        page_size: int = 20,
    ) -> Page[AssetSummary]:
        """One page of the market for ``kind`` (SPEC S1, S2).

        ``tab`` is "all", "featured", "official" or "favorites"; an asset matches
        ``categories`` when it has every one of them; ``query`` matches every word
        (as a prefix) in title, summary, description or publisher; ``sort`` is
        "subscriptions", "favorites", "views", "latest" or "relevance" (which needs
        a keyword; without one the default order is used).

        Raises:
            InvalidInput: an unknown kind, tab, sort or category, a bad page or page size,
                or a query longer than 200 characters.
        """
        validate.kind(kind)
        validate.choice("tab", tab, validate.TABS)
        validate.choice("sort", sort, validate.SORTS)
        chosen = validate_categories(categories)
        page, page_size = validate.page(page, page_size)
        query = validate.text("query", query, max_len=validate.MAX_QUERY, one_line=True)
        words = terms(query)
        with self._db.read() as s:
            me = self._who(s)
            shape = (self._is_admin(me), tab, len(chosen))
            params = {"m_kind": kind, "m_me_id": me.id, "m_me_name": me.username,
                      **{f"m_category{n}": category for n, category in enumerate(chosen)}}
            use_relevance = sort == "relevance" and words
            query = MarketQuery(
                kind=kind,
                words=words,
                categories=chosen,
                tab=tab,
                sort_column=None if use_relevance else _SORT_COLUMNS["subscriptions" if sort == "relevance" else sort],
                offset=(page - 1) * page_size,
                limit=page_size,
                admin=self._is_admin(me),
                username=me.username,
                filters=_market_filters(*shape),
                params=params,
                shape=shape,
            )
            result = run_market_query(s, query, AssetRow, summary=SUMMARY)
            if result.rows is not None:
                items = tuple(convert.summary_from_mapping(row, row["categories"] or ()) for row in result.rows)
            else:
                items = self._summaries(s, result.ids)
        return Page(items=items, total=result.total, page=page, page_size=page_size, total_is_exact=result.exact)

    @staticmethod
    def _summaries(s, ids: list[int]) -> tuple[AssetSummary, ...]:
        """Summaries of ``ids`` in that order, read with two plain queries (no ORM objects:
        a market page is the hottest read of the gallery)."""
        if not ids:
            return ()
        rows = s.execute(SUMMARY.where(AssetRow.id.in_(ids))).mappings()
        by_id = {row["id"]: row for row in rows}
        categories: dict[int, list[str]] = {}
        for asset_id, category in s.execute(
            select(AssetCategoryRow.asset_id, AssetCategoryRow.category)
            .where(AssetCategoryRow.asset_id.in_(ids))
            .order_by(AssetCategoryRow.asset_id, AssetCategoryRow.position)
        ):
            categories.setdefault(asset_id, []).append(category)
        return tuple(
            convert.summary_from_mapping(by_id[i], categories.get(i, ())) for i in ids if i in by_id
        )

    def asset(self, content_id: str, *, count_view: bool = True) -> Asset:
        """An asset's details with its versions; opening them counts one view unless you
        publish it (SPEC S3). Widgets refreshing what is already open pass ``count_view=False``.

        Raises:
            InvalidInput: ``content_id`` is not a content id.
            NotFound: no such asset is visible to you.
        """
        validate.flag("count_view", count_view)
        cid = validate.content_id(content_id)
        # A gallery opened read-only (its folder is not writable here) shows details without counting.
        count_view = count_view and not self._db.read_only
        with (self._db.write() if count_view else self._db.read()) as s:
            return self._details_of(s, self._who(s), "content_id", cid, count_view=count_view)

    def cover_image(self, content_id: str) -> bytes | None:
        """The asset's cover image bytes (PNG or JPEG), or None when it has none."""
        with self._db.read() as s:
            row = self._visible_asset(s, self._me(s), content_id)
            digest = row.cover
        return self._ctx.artifacts.get(digest) if digest else None

    # -- favorites (F1) ------------------------------------------------------
    def favorite(self, content_id: str) -> Asset:
        """Add the asset to My Favorites; doing it twice changes nothing (SPEC F1).

        Raises:
            NotFound: no such asset is visible to you.
        """
        with self._db.write() as s:
            me = self._me(s)
            row = self._visible_asset(s, me, content_id, for_update=True)
            added = insert_ignore(
                s, FavoriteRow.__table__, {"user_id": me.id, "asset_id": row.id, "created_at": self._now()}
            )
            if added:
                self._count_favorites(s, row, +1)
            return self._details(s, me, row)

    def unfavorite(self, content_id: str) -> Asset:
        """Remove the asset from My Favorites; doing it twice changes nothing (SPEC F1)."""
        with self._db.write() as s:
            me = self._me(s)
            row = self._visible_asset(s, me, content_id, for_update=True)
            removed = s.execute(
                delete(FavoriteRow).where(FavoriteRow.user_id == me.id, FavoriteRow.asset_id == row.id)
            ).rowcount
            if removed:
                self._count_favorites(s, row, -1)
            return self._details(s, me, row)

    @staticmethod
    def _count_favorites(s, row: AssetRow, step: int) -> None:
        """Move the favorites counter in SQL, so concurrent favorites add up (the details
        answered afterwards read it back)."""
        # A favorite lost to a server crash is one click to redo: committed without waiting
        # for the WAL flush on PostgreSQL (engine.RELAXED_COMMIT).
        postgres = s.get_bind().dialect.name == "postgresql"
        s.execute(_FAVORITES_STEP_RELAXED if postgres else _FAVORITES_STEP, {"asset_id": row.id, "step": step})

    # -- comments (F2) -------------------------------------------------------
    def comment(self, content_id: str, text: str) -> Comment:
        """Comment on an asset you can see: plain text, at most 2,000 characters (SPEC F2).

        Raises:
            InvalidInput: empty or too long text.
            NotFound: no such asset is visible to you.
        """
        body = validate.text("comment", text, max_len=validate.MAX_COMMENT, required=True)
        with self._db.write() as s:
            me = self._me(s)
            row = self._visible_asset(s, me, content_id)
            comment = CommentRow(asset_id=row.id, user_id=me.id, text=body, created_at=self._now())
            s.add(comment)
            s.flush()
            comment.author = me
            return convert.comment(comment)

    def comments(self, content_id: str, *, page: int = 1, page_size: int = 50) -> Page[Comment]:
        """Comments on an asset, newest first (SPEC F2)."""
        page, page_size = validate.page(page, page_size)
        with self._db.read() as s:
            me = self._who(s)
            row = self._visible_asset(s, me, content_id)
            total = s.scalar(_COMMENT_COUNT, {"asset_id": row.id})
            rows = s.scalars(_COMMENT_PAGE, {"asset_id": row.id, "limit": page_size,
                                             "offset": (page - 1) * page_size}).all()
            return Page(tuple(convert.comment(c) for c in rows), total, page, page_size)

