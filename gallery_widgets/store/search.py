"""Everything dialect-specific lives here: the market query plans and insert-or-ignore.

SQLite keeps an FTS5 index over ``asset_texts`` with two columns: ``search_doc``
(title, summary, description, publisher) and ``facets``, tokens for kind, status,
visibility, official/featured and categories. Counting inside FTS5 is a merge of
posting lists in C, so even "every asset that says *model*" is counted in a few
milliseconds; the page itself is then read either from the small matching set, or,
when the set is large, by walking the sort index and checking each row.

PostgreSQL uses a GIN index over ``to_tsvector('simple', search_doc)`` and plain SQL.
Both match every word of the query as a prefix ("reinf lear" finds "reinforcement learning").
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field

from sqlalchemy import column, desc, exists, func, literal_column, select, table, text
from sqlalchemy.dialects import postgresql, sqlite

_WORD = re.compile(r"\w+", re.UNICODE)
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
    "CREATE INDEX ix_asset_texts_search ON asset_texts USING gin (to_tsvector('simple', search_doc))",
)
POSTGRES_DROP = ("DROP INDEX IF EXISTS ix_asset_texts_search",)


def ddl(dialect_name: str, *, drop: bool = False) -> tuple[str, ...]:
    if dialect_name == "sqlite":
        return SQLITE_DROP if drop else SQLITE_DDL
    if dialect_name == "postgresql":
        return POSTGRES_DROP if drop else POSTGRES_DDL
    raise NotImplementedError(f"gallery_widgets supports SQLite and PostgreSQL, not {dialect_name}")


def terms(query: str) -> list[str]:
    """The words of a user's query, lower-cased; every one must match."""
    from ..errors import InvalidInput

    words = [w.lower() for w in _WORD.findall(query or "")]
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
    filters: list = field(default_factory=list)  # SQL conditions: kind, status, visibility, tab, categories


def run_market_query(session, q: MarketQuery, assets) -> tuple[int, list[int]]:
    """(total, ids of the page in order) for ``q``; ``assets`` is the AssetRow class."""
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite_market(session, q, assets)
    return _postgres_market(session, q, assets)


def _order(q: MarketQuery, assets, rank=None):
    if q.sort_column is None and rank is not None:
        return [rank, desc(assets.id)]
    return [desc(q.sort_column), desc(assets.id)]


def _sqlite_words(words) -> str:
    return " AND ".join(f'search_doc : "{w}"*' for w in words)


def _sqlite_market(session, q: MarketQuery, assets):
    fts = table("assets_fts", column("rowid"))
    if q.admin:
        visible = f"facets : zzr{q.kind}"
    else:
        visible = f"(facets : zzp{q.kind} OR (facets : zzr{q.kind} AND facets : {_user_token(q.username)}))"
    facet_terms = [_category_token(c) for c in q.categories]
    if q.tab in FLAG_TOKENS:
        facet_terms.append(FLAG_TOKENS[q.tab])
    expression = " AND ".join(
        [visible] + [f"facets : {t}" for t in facet_terms] + ([_sqlite_words(q.words)] if q.words else [])
    )

    def fts_ids(expr):
        return select(fts.c.rowid).select_from(fts).where(text("assets_fts MATCH :expr").bindparams(expr=expr))

    def words_match():
        inner = fts_ids(_sqlite_words(q.words)).where(fts.c.rowid == assets.id)
        return exists(inner)

    if q.tab == "favorites":
        # A user's favorites are few: filter them in SQL, checking words row by row.
        conditions = q.filters + ([words_match()] if q.words else [])
        total = session.scalar(select(func.count()).select_from(assets).where(*conditions))
        ids = session.scalars(
            select(assets.id).where(*conditions).order_by(*_order(q, assets)).offset(q.offset).limit(q.limit)
        ).all()
        return total, list(ids)

    total = session.scalar(
        select(func.count()).select_from(fts).where(text("assets_fts MATCH :expr").bindparams(expr=expression))
    )
    if total == 0 or q.offset >= total:
        return total, []

    if q.sort_column is None:
        # Relevance: FTS5 ranks inside the index (bm25) and keeps only the page; the SQL
        # filters then re-check those few ids, so the index can never widen what a user sees.
        ranked = session.scalars(
            fts_ids(expression).order_by(text("rank")).offset(q.offset).limit(q.limit)
        ).all()
        allowed = set(session.scalars(select(assets.id).where(assets.id.in_(ranked), *q.filters))) if ranked else set()
        return total, [i for i in ranked if i in allowed]
    if _set_first_is_cheaper(session, q, total, fts_ids):
        statement = select(assets.id).where(assets.id.in_(fts_ids(expression)), *q.filters).order_by(*_order(q, assets))
    else:
        conditions = q.filters + ([words_match()] if q.words else [])
        statement = select(assets.id).where(*conditions).order_by(*_order(q, assets))
    ids = session.scalars(statement.offset(q.offset).limit(q.limit)).all()
    return total, list(ids)


def _set_first_is_cheaper(session, q: MarketQuery, total: int, fts_ids) -> bool:
    """Sort the ``total`` matches themselves, or walk the sort index until the page is full?

    Walking reads about (offset + limit) × kind size / total rows; sorting reads ``total``.
    """
    key = (str(session.get_bind().url), q.kind)
    cached = _kind_sizes.get(key)
    now = time.monotonic()
    if cached is None or now - cached[0] > _KIND_SIZE_TTL_S:
        size = session.scalar(select(func.count()).select_from(fts_ids(f"facets : zzr{q.kind}").subquery()))
        cached = _kind_sizes[key] = (now, size or 1)
    walk = (q.offset + q.limit) * cached[1] / max(total, 1)
    return total <= walk


def _postgres_market(session, q: MarketQuery, assets):
    conditions = list(q.filters)
    rank = None
    statement = select(assets.id)
    if q.words:
        texts = table("asset_texts", column("asset_id"), column("search_doc"))
        tsquery = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in q.words))
        vector = func.to_tsvector("simple", texts.c.search_doc)
        statement = statement.join(texts, texts.c.asset_id == assets.id)
        conditions.append(vector.op("@@")(tsquery))
        rank = -func.ts_rank(vector, tsquery)
    total = session.scalar(select(func.count()).select_from(statement.where(*conditions).subquery()))
    ids = session.scalars(
        statement.where(*conditions).order_by(*_order(q, assets, rank)).offset(q.offset).limit(q.limit)
    ).all()
    return total, list(ids)


def insert_ignore(session, table_, values: dict) -> int:
    """INSERT that does nothing on a key clash; returns how many rows went in (0 or 1)."""
    dialect = session.get_bind().dialect.name
    module = sqlite if dialect == "sqlite" else postgresql
    statement = module.insert(table_).values(**values).on_conflict_do_nothing()
    # Count RETURNING rows: psycopg reports rowcount -1 (truthy) for ON CONFLICT DO NOTHING.
    return len(session.execute(statement.returning(literal_column("1"))).all())

