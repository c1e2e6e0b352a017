"""The PostgreSQL market query (``search.run_market_query`` on PostgreSQL).

The words are read from ``asset_search.vector``'s GIN index only when they are rare,
alone or together with the page's facet tokens (kind, categories, tab): reading and
rechecking every match of a common word is a bitmap of 30,000-90,000 rows (30-160 ms).
Visibility, kind, flags and categories are always the core's SQL filters over btree
indexes, so the index only ever narrows what is read, never what a user sees.
docs/benchmarks.md has the profiles and the figures; tests/test_postgres_plans.py checks
the plans.
"""

from __future__ import annotations

import functools
import time

from sqlalchemy import Integer, String, bindparam, column, desc, exists, func, literal_column, select, table

from .search import MarketQuery, MarketResult, count_limit, filter_tokens

# A word query matching at most this many assets is read from the GIN index as a set (sorted
# afterwards); a more common one is checked row by row while walking a sort index.
RARE_WORDS = 1000
# Up to this many (in the page's kind, categories and tab), a word is "mid-frequency": its
# public matches are counted from the GIN index first, and when they alone pass the total's
# cap, the exact capped count (a walk that checks the word row by row) is never run.
MID_WORDS = 3000
_WORDS_TTL_S = 60.0
# How long "more than the cap of a mid-frequency word's public matches" is trusted. It is the
# one kept count a user sees: for up to this long after such a word's public matches (in a
# kind, categories and tab) fall to the cap or below, totals still read "cap+" (no asset is
# shown or hidden by it; public assets are everyone's to see).
PUBLIC_TTL_S = 10.0
_word_sizes: dict[tuple[str, str, int], tuple[float, int]] = {}


class _WordIndex:
    """``asset_search.vector``: search_doc at weight A, facet tokens at D."""

    search = table("asset_search", column("asset_id"), column("vector"))

    @staticmethod
    def words(words) -> str:
        return " & ".join(f"{w}:*A" for w in words)

    @staticmethod
    def facets(q: MarketQuery, *, public: bool = False) -> str:
        """The facet tokens every asset of ``q``'s page has: released in its kind, its
        categories and its tab's flag. A superset of what the user sees: the core's
        visibility filter still decides. ``public``: only the released *public* assets of
        the kind (a subset of what anyone sees: V1)."""
        kind = f"zzp{q.kind}" if public else f"zzr{q.kind}"
        return " & ".join(f"{token}:D" for token in [kind, *filter_tokens(q)])

    def ids(self, expression):
        """The ids of the assets matching ``expression`` (a tsquery string or a bound parameter)."""
        return select(self.search.c.asset_id).where(
            self.search.c.vector.op("@@")(func.to_tsquery("simple", expression)))


def run_postgres(session, q: MarketQuery, assets, summary=None) -> MarketResult:
    """PostgreSQL: the core's SQL filters plus one of two word checks, chosen here so the
    planner never has to guess how common a word is (a wrong guess walks 88,000 postings):

    - a rare word (at most ``RARE_WORDS`` assets say it, alone or among the released assets
      of the page's kind, categories and tab): ``id IN (GIN set)``; the set is small, so it
      is ranked whole (ids only) and its exact total counted;
    - a common word, or none: the word is checked row by row (EXISTS on ``asset_search``'s
      primary key) while a sort index is walked until the page is full; the total is a
      separate count (an InitPlan) that stops after ``count_limit(q) + 1`` rows. For a
      mid-frequency word (at most ``MID_WORDS`` in the page's facets), or no word, the
      *public* matches in the page's facets are counted in the GIN index first (and kept
      ``PUBLIC_TTL_S``): when they pass the cap, the total is capped without that count.

    Either way one statement returns the page's rows (``summary``'s columns and the
    categories), in order, with the total: a market page is one round trip, not six. Its
    values are bound parameters, so the statement of each shape of request is built once
    and kept (``_kept_statement``).

    Every run is planned with its real values (prepared statements are still custom-planned;
    see ``engine.make_engine``), so the word, category and user are known, and
    joins are nested loops (``engine._PLANNER_SETTINGS``), so no plan reads a whole posting
    list to hash or merge it.
    """
    index = _WordIndex()
    words = index.words(q.words) if q.words else ""
    path, in_set, mid = "walk", words, False
    if q.words:
        rare = _matches(session, index, words) <= RARE_WORDS
        if not rare and q.tab != "favorites":
            # A common word may still be rare in this kind, category or tab: the GIN index
            # intersects the word's postings with the facet tokens' in a millisecond or two.
            in_set = f"{words} & {index.facets(q)}"
            found_here = _matches(session, index, in_set, up_to=MID_WORDS)
            rare, mid = found_here <= RARE_WORDS, RARE_WORDS < found_here <= MID_WORDS
        path = "set" if rare else "walk"
    exact_only = q.tab == "favorites" or path == "set"  # a small set: count it whole
    cap = count_limit(q)
    total = "exact" if exact_only else "counted"
    if (mid or not q.words) and not exact_only:
        # Public matches are seen by everyone: when more than the cap of them are in the page's
        # kind, categories and tab (and say its words), so is the user's total, and the exact
        # capped count (a walk, 0.2-1.5 ms, the more the rarer a category) is not needed. That
        # they are is kept a few seconds, for every user (see PUBLIC_TTL_S). A common word's
        # public matches are not counted: reading its postings costs more than the walk.
        public = " & ".join(part for part in (words, index.facets(q, public=True)) if part)
        if _matches(session, index, public, up_to=cap, ttl=PUBLIC_TTL_S) > cap:
            total = "capped"
    relevance = q.sort_column is None and bool(q.words) and q.tab != "favorites"
    sort = "relevance" if relevance else (q.sort_column.key if q.sort_column is not None else "subscriptions")
    params = {**q.params, "m_words": words, "m_set": in_set, "m_offset": q.offset, "m_limit": q.limit,
              "m_first": q.offset + 1, "m_last": q.offset + q.limit, "m_past_cap": cap + 1}
    deep = q.offset > 0 and total != "exact"
    shape = (q.shape, bool(q.words), path, total, sort, deep, id(summary))
    statement = _kept_statement(shape, lambda: _market_statement(q, assets, path, total, sort, deep, summary))
    rows = session.connection().execute(statement, params).all()  # Core: skips the ORM layer (~5 % of a page)
    if rows:
        found = rows[0].found
    elif q.offset:  # a page past the end: the total (for the pager) is counted on its own
        conditions = _conditions(q, assets, path)
        found = session.scalar(_counted(assets, conditions, None if exact_only else cap + 1), params)
    else:
        found = 0
    result_rows = [row._mapping for row in rows] if summary is not None else None
    ids = [row.id for row in rows]
    if q.tab == "favorites":  # the favorites tab is always exact
        return MarketResult(found, True, ids, result_rows)
    limit = count_limit(q)  # a market total past the cap reads as on SQLite
    return MarketResult(min(found, limit), found <= limit, ids, result_rows)


_WORDS = bindparam("m_words", type_=String)  # the query's words as a tsquery
_SET = bindparam("m_set", type_=String)  # what a "set" path reads from the GIN index
_statements: dict[tuple, object] = {}


def _kept_statement(shape: tuple, build):
    """The market statement of ``shape``, built once (building and keying a statement of this
    size costs SQLAlchemy about a millisecond; executing a kept one skips both)."""
    statement = _statements.get(shape) if shape[0] is not None else None
    if statement is None:
        statement = build()
        if shape[0] is not None:
            if len(_statements) > 4096:  # far more shapes than requests make; a bound all the same
                _statements.clear()
            _statements[shape] = statement
    return statement


def _conditions(q: MarketQuery, assets, path: str) -> list:
    index = _WordIndex()
    conditions = list(q.filters)
    if q.words:
        if path == "set":
            conditions.append(assets.id.in_(index.ids(_SET)))
        else:  # checked row by row while a sort index is walked
            conditions.append(exists(index.ids(_WORDS).where(index.search.c.asset_id == assets.id)))
    return conditions


_PAST_CAP = bindparam("m_past_cap", type_=Integer)  # the cap + 1: a total that passed it


def _counted(assets, conditions, up_to=None):
    """A count of the assets meeting ``conditions``, stopping at ``up_to`` rows (a number or
    a bound parameter; None: all of them)."""
    matches = select(literal_column("1")).select_from(assets).where(*conditions).correlate(None)
    if up_to is not None:
        matches = matches.limit(up_to)
    return select(func.count()).select_from(matches.subquery())


def _market_statement(q: MarketQuery, assets, path: str, total: str, sort: str, deep: bool, summary):
    """The one statement of a market page: its rows in order, each with the total. ``deep``
    (a page after the first): the page's ids are found first, so the rows its OFFSET skips
    never get their categories and publisher computed."""
    index = _WordIndex()
    conditions = _conditions(q, assets, path)
    if sort == "relevance":  # rank the matches inside PostgreSQL
        vector = select(index.search.c.vector).where(index.search.c.asset_id == assets.id).scalar_subquery()
        order = [desc(func.ts_rank(vector, func.to_tsquery("simple", _WORDS))), desc(assets.id)]
    else:
        order = [desc(getattr(assets, sort)), desc(assets.id)]
    page = _page_columns(summary, assets)
    if total == "exact":
        # Rank the set's ids alone (narrow rows), then build only the page's rows: a window
        # count over the page statement itself would compute every match's categories and
        # publisher before the LIMIT.
        ranked = select(assets.id.label("id"), func.row_number().over(order_by=order).label("n")) \
            .where(*conditions).cte("ranked")
        found = select(func.count()).select_from(ranked).scalar_subquery()
        return page.add_columns(found.label("found")).join(ranked, ranked.c.id == assets.id) \
            .where(ranked.c.n >= bindparam("m_first", type_=Integer), ranked.c.n <= bindparam("m_last", type_=Integer)) \
            .order_by(ranked.c.n)
    found = _PAST_CAP if total == "capped" else _counted(assets, conditions, _PAST_CAP).scalar_subquery()
    offset, limit = bindparam("m_offset", type_=Integer), bindparam("m_limit", type_=Integer)
    if deep:
        page_ids = select(assets.id).where(*conditions).order_by(*order).offset(offset).limit(limit) \
            .subquery("page_ids")
        return page.add_columns(found.label("found")).join(page_ids, page_ids.c.id == assets.id).order_by(*order)
    return page.add_columns(found.label("found")).where(*conditions).order_by(*order).offset(offset).limit(limit)


def _page_columns(summary, assets):
    """``summary``'s columns plus each asset's categories in order, or just the ids."""
    if summary is None:
        return select(assets.id)
    return _summary_with_categories(summary, assets)


@functools.lru_cache(maxsize=8)  # built once per summary (statements compare by identity)
def _summary_with_categories(summary, assets):
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    categories = _CATEGORIES
    in_order = select(func.array_agg(aggregate_order_by(categories.c.category, categories.c.position)))
    return summary.add_columns(in_order.where(categories.c.asset_id == assets.id).scalar_subquery().label("categories"))


_CATEGORIES = table("asset_categories", column("asset_id"), column("category"), column("position"))

def _matches(session, index, expression: str, *, up_to: int | None = None, ttl: float | None = None) -> int:
    """How many assets match the tsquery ``expression``, counted up to ``up_to + 1``
    (``RARE_WORDS + 1`` by default) and kept ``ttl`` seconds (a minute by default: then it only
    chooses a plan; no user sees it). Rare words are counted from the GIN index; for common
    ones PostgreSQL stops a scan after ``up_to + 1`` rows."""
    up_to = RARE_WORDS if up_to is None else up_to
    ttl = _WORDS_TTL_S if ttl is None else ttl
    key = (str(session.get_bind().url), expression, up_to)
    now = time.monotonic()
    cached = _word_sizes.get(key)
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    found = session.scalar(select(func.count()).select_from(
        index.ids(expression).limit(up_to + 1).subquery()))
    if len(_word_sizes) > 4096:
        _word_sizes.clear()
    _word_sizes[key] = (now, found)
    return found


