"""Everything dialect-specific lives here: the market query plans and insert-or-ignore.

SQLite keeps an FTS5 index over ``asset_texts`` with two columns: ``search_doc``
(title, summary, description, publisher) and ``facets``, tokens for kind, status,
visibility, official/featured and categories. Counting inside FTS5 is a merge of
posting lists in C, so even "every asset that says *model*" is counted in a few
milliseconds; the page itself is then read either from the small matching set, or,
when the set is large, by walking the sort index and checking each row.

PostgreSQL keeps the same two parts in ``asset_search.vector`` (search_doc at weight A,
facets at weight D), filled by a trigger on ``asset_texts`` and read through one GIN index,
but reads only the words from it: a GIN count of 30,000-90,000 postings costs 30-160 ms, so
kind, visibility, flags and categories are the core's SQL filters over btree indexes, and the
word is read from the GIN index only when it is rare (``_run_postgres``).
Both match every word of the query as a prefix ("reinf lear" finds "reinforcement learning"),
ignoring accents (``without_accents``), and both count a total exactly only up to
``count_limit`` (docs/benchmarks.md says why).
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import column, desc, exists, func, literal_column, select, table, text

_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # letters and digits; "_" splits words, as in both indexes
MAX_TERMS = 12
# How long a cached "assets of this kind" size is trusted when choosing a plan.
_KIND_SIZE_TTL_S = 60.0
_kind_sizes: dict[tuple[str, str], tuple[float, int]] = {}

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE assets_fts USING fts5(search_doc, facets, content='asset_texts', "
    "content_rowid='asset_id', tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6 7 8')",
    "CREATE TRIGGER assets_fts_ai AFTER INSERT ON asset_texts BEGIN "
    "INSERT INTO assets_fts(rowid, search_doc, facets) VALUES (new.asset_id, new.search_doc, new.facets); END",
    "CREATE TRIGGER assets_fts_ad AFTER DELETE ON asset_texts BEGIN "
    "INSERT INTO assets_fts(assets_fts, rowid, search_doc, facets) "
    "VALUES ('delete', old.asset_id, old.search_doc, old.facets); END",
    "CREATE TRIGGER assets_fts_au AFTER UPDATE OF search_doc, facets ON asset_texts BEGIN "
    "INSERT INTO assets_fts(assets_fts, rowid, search_doc, facets) "
    "VALUES ('delete', old.asset_id, old.search_doc, old.facets); "
    "INSERT INTO assets_fts(rowid, search_doc, facets) VALUES (new.asset_id, new.search_doc, new.facets); END",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS assets_fts_au",
    "DROP TRIGGER IF EXISTS assets_fts_ad",
    "DROP TRIGGER IF EXISTS assets_fts_ai",
    "DROP TABLE IF EXISTS assets_fts",
)
POSTGRES_DDL = (
    "CREATE TABLE asset_search (asset_id integer PRIMARY KEY REFERENCES assets(id) ON DELETE CASCADE, "
    "vector tsvector NOT NULL)",
    "CREATE INDEX ix_asset_search ON asset_search USING gin (vector)",
    """CREATE FUNCTION asset_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM asset_search WHERE asset_id = OLD.asset_id;
            RETURN OLD;
        END IF;
        INSERT INTO asset_search (asset_id, vector)
        VALUES (NEW.asset_id, setweight(to_tsvector('simple', coalesce(NEW.search_doc, '')), 'A')
                              || setweight(to_tsvector('simple', coalesce(NEW.facets, '')), 'D'))
        ON CONFLICT (asset_id) DO UPDATE SET vector = EXCLUDED.vector;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER asset_search_sync AFTER INSERT OR UPDATE OF search_doc, facets OR DELETE ON asset_texts "
    "FOR EACH ROW EXECUTE FUNCTION asset_search_sync()",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS asset_search_sync ON asset_texts",
    "DROP FUNCTION IF EXISTS asset_search_sync()",
    "DROP TABLE IF EXISTS asset_search",
)


def ddl(dialect_name: str, *, drop: bool = False) -> tuple[str, ...]:
    if dialect_name == "sqlite":
        return SQLITE_DROP if drop else SQLITE_DDL
    if dialect_name == "postgresql":
        return POSTGRES_DROP if drop else POSTGRES_DDL
    raise NotImplementedError(f"gallery_widgets supports SQLite and PostgreSQL, not {dialect_name}")


def without_accents(value: str) -> str:
    """``value`` with its accents and compatibility forms folded away ("Café" -> "Cafe").

    What both indexes read (``asset_texts.search_doc``) and every query word go through this,
    so ``cafe`` finds "Café" on PostgreSQL as FTS5's ``remove_diacritics`` does on SQLite,
    with no database extension (``unaccent`` needs rights a team's database user may lack).
    """
    if value.isascii():
        return value
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


def terms(query: str) -> list[str]:
    """The words of a user's query, lower-cased and without accents; every one must match."""
    from ..errors import InvalidInput

    words = [w.lower() for w in _WORD.findall(without_accents(query or ""))]
    if len(words) > MAX_TERMS:
        raise InvalidInput(f"A search takes at most {MAX_TERMS} words; this one has {len(words)}. Drop the least specific.")
    return words


# -- facet tokens ---------------------------------------------------------------------
# Made of letters and digits only, so the tokenizer keeps each one whole; they live in
# their own FTS column, so a keyword never matches them.
def _hashed(prefix: str, value: str) -> str:
    return prefix + hashlib.sha1(value.encode()).hexdigest()[:16]


def _category_token(category: str) -> str:
    return _hashed("zzc", category)


def _user_token(username: str) -> str:
    return _hashed("zzu", username)


FLAG_TOKENS = {"official": "zzofficial", "featured": "zzfeatured"}


def facets(*, kind: str, status: str, visibility: str, official: bool, featured: bool, categories,
           audience) -> str:
    """The facet tokens of one asset. ``audience``: the users who see it although it is not
    public (its publisher, and for "group" the users whitelisted on any version). This
    mirrors SPEC V1 for the market, so a count never has to leave the index."""
    tokens = []
    if status == "released":
        tokens.append(f"zzr{kind}")  # in the market of its kind (for admins and the audience)
        if visibility == "public":
            tokens.append(f"zzp{kind}")  # in everyone's market
    tokens.extend(_user_token(u) for u in sorted(set(audience)))
    if official:
        tokens.append(FLAG_TOKENS["official"])
    if featured:
        tokens.append(FLAG_TOKENS["featured"])
    tokens.extend(_category_token(c) for c in categories)
    return " ".join(tokens)


@dataclass
class MarketQuery:
    """One market request, with the visibility rule already turned into SQL by the core."""

    kind: str
    words: list[str]
    categories: tuple[str, ...]
    tab: str  # all | featured | official | favorites
    sort_column: object  # an AssetRow column, or None for relevance
    offset: int
    limit: int
    admin: bool
    username: str
    filters: tuple = ()  # SQL conditions: kind, status, visibility, tab, categories
    # The values of ``filters``' bound parameters. Filters of one ``shape`` are the same
    # objects every time (only these values change), so statements built over them can be
    # kept and reused.
    params: dict = field(default_factory=dict)
    shape: tuple | None = None  # None: the filters are new objects (never keep statements over them)


# Market totals are exact up to this many matches; past it a search reports "at least
# TOTAL_CAP" (``Page.total_is_exact`` False, shown as "1,000+"), so a word that matches most
# of the catalogue is never counted in full (docs/benchmarks.md says why). A page past the cap
# (asked for by number) counts up to its own end, so every page a pager offers is full.
TOTAL_CAP = 200


@dataclass(frozen=True)
class MarketResult:
    total: int
    exact: bool
    ids: list[int]
    # The page's summary rows in order, when the query read them itself (PostgreSQL: the
    # page, its rows and its total in one statement); None means "read them by ``ids``".
    rows: list | None = None


def count_limit(q: MarketQuery) -> int:
    """How far a capped total counts for ``q``: the cap, or the end of the asked page."""
    return max(TOTAL_CAP, q.offset + q.limit)


def run_market_query(session, q: MarketQuery, assets, summary=None) -> MarketResult:
    """The page of ids for ``q`` in order, and its total; ``assets`` is the AssetRow class.

    ``summary``: a ``select`` of the columns of a page row (with its joins, no WHERE); where
    the database can, the page's rows come back with the ids (``MarketResult.rows``), each
    with a ``categories`` list.

    Both databases answer alike: the same ids in the same order, and the same total, exact
    up to ``count_limit(q)`` (the favorites tab, a user's own few rows, is always exact).
    The SQL filters of the core (visibility, kind, tab, categories) are applied to every
    page, so an index can never widen what a user sees.
    """
    if session.get_bind().dialect.name == "postgresql":
        from .search_postgres import run_postgres

        return run_postgres(session, q, assets, summary)
    order = [desc(q.sort_column), desc(assets.id)] if q.sort_column is not None else None
    return _run_sqlite(session, q, assets, order)


def _capped(total: int, q: MarketQuery, ids: list[int]) -> MarketResult:
    limit = count_limit(q)
    return MarketResult(min(total, limit), total <= limit, ids)


def _run_sqlite(session, q: MarketQuery, assets, order) -> MarketResult:
    """FTS5 counts every match in C (facet tokens carry visibility, kind, flags and
    categories), then the page is read from the matching set or by walking the sort index."""
    index = _SqliteIndex()

    def words_match():
        return exists(index.ids(index.words(q.words)).where(index.id_column() == assets.id))

    if q.tab == "favorites":
        # A user's favorites are few: filter them in SQL, checking the words row by row.
        conditions = [*q.filters, *([words_match()] if q.words else [])]
        total = session.scalar(select(func.count()).select_from(assets).where(*conditions), q.params)
        statement = select(assets.id).where(*conditions).order_by(*(order or [desc(assets.subscriptions), desc(assets.id)]))
        return MarketResult(total, True, list(session.scalars(statement.offset(q.offset).limit(q.limit), q.params)))

    expression = index.expression(q)
    total = session.scalar(select(func.count()).select_from(index.ids(expression).subquery()))
    if total == 0 or q.offset >= total:
        return _capped(total, q, [])
    if order is None:  # relevance, ranked inside the index; the SQL filters re-check the page
        ranked = list(session.scalars(index.ranked(expression).offset(q.offset).limit(q.limit)))
        allowed = set(session.scalars(select(assets.id).where(assets.id.in_(ranked), *q.filters), q.params)) \
            if ranked else set()
        return _capped(total, q, [i for i in ranked if i in allowed])
    if _set_first_is_cheaper(session, q, total, index):
        statement = select(assets.id).where(assets.id.in_(index.ids(expression)), *q.filters)
    else:
        statement = select(assets.id).where(*q.filters, *([words_match()] if q.words else []))
    return _capped(total, q, list(session.scalars(statement.order_by(*order).offset(q.offset).limit(q.limit),
                                                  q.params)))


class _SqliteIndex:
    """FTS5: ``assets_fts`` with the columns ``search_doc`` and ``facets``."""

    fts = table("assets_fts", column("rowid"))

    def id_column(self):
        return self.fts.c.rowid

    def words(self, words) -> str:
        return " AND ".join(f'search_doc : "{w}"*' for w in words)

    def facet(self, token: str) -> str:
        return f"facets : {token}"

    def expression(self, q: MarketQuery) -> str:
        if q.admin:
            visible = self.facet(f"zzr{q.kind}")
        else:
            own = f"({self.facet(f'zzr{q.kind}')} AND {self.facet(_user_token(q.username))})"
            visible = f"({self.facet(f'zzp{q.kind}')} OR {own})"
        parts = [visible] + [self.facet(t) for t in filter_tokens(q)]
        if q.words:
            parts.append(self.words(q.words))
        return " AND ".join(parts)

    def kind_expression(self, kind: str) -> str:
        return self.facet(f"zzr{kind}")

    def ids(self, expression: str):
        return select(self.fts.c.rowid).select_from(self.fts).where(
            text("assets_fts MATCH :expr").bindparams(expr=expression)
        )

    def ranked(self, expression: str):
        return self.ids(expression).order_by(text("rank"))


def filter_tokens(q: MarketQuery) -> list[str]:
    tokens = [_category_token(c) for c in q.categories]
    if q.tab in FLAG_TOKENS:
        tokens.append(FLAG_TOKENS[q.tab])
    return tokens


def _set_first_is_cheaper(session, q: MarketQuery, total: int, index) -> bool:
    """Sort the ``total`` matches themselves, or walk the sort index until the page is full?

    Walking reads about (offset + limit) × kind size / total rows; sorting reads ``total``.
    """
    key = (str(session.get_bind().url), q.kind)
    cached = _kind_sizes.get(key)
    now = time.monotonic()
    if cached is None or now - cached[0] > _KIND_SIZE_TTL_S:
        size = session.scalar(select(func.count()).select_from(index.ids(index.kind_expression(q.kind)).subquery()))
        cached = _kind_sizes[key] = (now, size or 1)
    walk = (q.offset + q.limit) * cached[1] / max(total, 1)
    return total <= walk


def insert_ignore(session, table_, values: dict) -> int:
    """INSERT that does nothing on a key clash; returns how many rows went in (0 or 1)."""
    dialect = session.get_bind().dialect.name
    # Imported here: loading the PostgreSQL dialect costs an embedded (SQLite) gallery ~0.1 s at start.
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite as module
    else:
        from sqlalchemy.dialects import postgresql as module
    statement = module.insert(table_).values(**values).on_conflict_do_nothing()
    # Count RETURNING rows: psycopg reports rowcount -1 (truthy) for ON CONFLICT DO NOTHING.
    return len(session.execute(statement.returning(literal_column("1"))).all())

