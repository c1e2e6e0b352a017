"""The PostgreSQL market query (``search.run_market_query`` on PostgreSQL).

Only the words are read from ``asset_search.vector``'s GIN index, and only when they are
rare: counting a common word or the facet tokens there is a bitmap of 30,000-90,000
postings (30-160 ms). Kind, visibility, flags and categories are the core's SQL filters
over btree indexes. docs/benchmarks.md has the profile and the figures;
tests/test_postgres_plans.py checks the plans.
"""

from __future__ import annotations

import time

from sqlalchemy import column, desc, exists, func, literal_column, select, table, text

from .search import MarketQuery, MarketResult, _capped, count_limit

# A word query matching at most this many assets is read from the GIN index as a set (sorted
# afterwards); a more common one is checked row by row while walking a sort index.
RARE_WORDS = 1000
_WORDS_TTL_S = 60.0
_word_sizes: dict[tuple[str, tuple[str, ...]], tuple[float, int]] = {}


class _WordIndex:
    """``asset_search.vector``: search_doc at weight A (facet tokens at D, unused here)."""

    search = table("asset_search", column("asset_id"), column("vector"))

    @staticmethod
    def words(words) -> str:
        return " & ".join(f"{w}:*A" for w in words)

    def ids(self, expression: str):
        return select(self.search.c.asset_id).where(
            self.search.c.vector.op("@@")(func.to_tsquery("simple", expression)))


def run_postgres(session, q: MarketQuery, assets, order) -> MarketResult:
    """PostgreSQL: the core's SQL filters plus one of two word checks, chosen here so the
    planner never has to guess how common a word is (a wrong guess walks 88,000 postings):

    - a rare word (at most ``RARE_WORDS`` assets say it): ``id IN (GIN set)``; the set is
      small, so one statement returns the page and the exact total (a window count);
    - a common word, or none: the word is checked row by row (EXISTS on ``asset_search``'s
      primary key) while a sort index is walked until the page is full; the total stops
      counting after ``count_limit(q) + 1`` rows.

    Every statement is planned with its real values (the engine never prepares
    server-side; see ``engine.make_engine``), so the word, category and user are known, and
    joins are nested loops, so no plan reads a whole posting list to hash or merge it.
    """
    index = _WordIndex()
    conditions = list(q.filters)
    rare = False
    if q.words:
        query = func.to_tsquery("simple", index.words(q.words))
        rare = _word_matches(session, index, q.words) <= RARE_WORDS
        if rare:
            conditions.append(assets.id.in_(select(index.search.c.asset_id).where(index.search.c.vector.op("@@")(query))))
        else:
            conditions.append(exists(index.ids(index.words(q.words)).where(index.search.c.asset_id == assets.id)))
    # Joins are nested loops over indexes: a market page or capped count reads a few hundred
    # rows, and a hash or merge join would read the word's or category's whole posting list.
    session.execute(_NESTED_LOOPS_ONLY)
    if order is None and q.words and q.tab != "favorites":  # relevance: rank the matches inside PostgreSQL
        vector = select(index.search.c.vector).where(index.search.c.asset_id == assets.id).scalar_subquery()
        order = [desc(func.ts_rank(vector, func.to_tsquery("simple", index.words(q.words)))), desc(assets.id)]
    order = order or [desc(assets.subscriptions), desc(assets.id)]
    if q.tab == "favorites" or rare:
        # A small set: its exact total and the page in one statement.
        statement = select(assets.id, func.count().over()).where(*conditions).order_by(*order)
        rows = session.execute(statement.offset(q.offset).limit(q.limit)).all()
        ids = [row[0] for row in rows]
        total = rows[0][1] if rows else 0
        if not rows and q.offset:
            total = session.scalar(select(func.count()).select_from(assets).where(*conditions))
        # The favorites tab is always exact; a market total past the cap reads as on SQLite.
        return MarketResult(total, True, ids) if q.tab == "favorites" else _capped(total, q, ids)
    limit = count_limit(q)
    found = session.scalar(select(func.count()).select_from(
        select(literal_column("1")).select_from(assets).where(*conditions).limit(limit + 1).subquery()))
    total, exact = min(found, limit), found <= limit
    if total == 0 or (exact and q.offset >= total):
        return MarketResult(total, exact, [])
    statement = select(assets.id).where(*conditions).order_by(*order)
    return MarketResult(total, exact, list(session.scalars(statement.offset(q.offset).limit(q.limit))))


_NESTED_LOOPS_ONLY = text(
    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"
)


def _word_matches(session, index, words) -> int:
    """How many assets say every word, counted up to ``RARE_WORDS + 1`` and kept a minute
    (it only chooses a plan; no user sees it). Rare words are counted from the GIN index;
    for common ones PostgreSQL stops a scan after ``RARE_WORDS + 1`` rows."""
    key = (str(session.get_bind().url), tuple(words))
    now = time.monotonic()
    cached = _word_sizes.get(key)
    if cached is not None and now - cached[0] < _WORDS_TTL_S:
        return cached[1]
    found = session.scalar(select(func.count()).select_from(
        index.ids(index.words(words)).limit(RARE_WORDS + 1).subquery()))
    if len(_word_sizes) > 4096:
        _word_sizes.clear()
    _word_sizes[key] = (now, found)
    return found


