"""Everything dialect-specific lives here: keyword search and insert-or-ignore.

SQLite uses an FTS5 table kept in step with ``assets.search_doc`` by triggers;
PostgreSQL a GIN index over ``to_tsvector('simple', search_doc)``. Both match
every word of the query as a prefix ("reinf lear" finds "reinforcement learning").
"""

from __future__ import annotations

import re

from sqlalchemy import column, func, literal_column, select, table, text
from sqlalchemy.dialects import postgresql, sqlite

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 8

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE assets_fts USING fts5(search_doc, content='assets', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER assets_fts_ai AFTER INSERT ON assets BEGIN "
    "INSERT INTO assets_fts(rowid, search_doc) VALUES (new.id, new.search_doc); END",
    "CREATE TRIGGER assets_fts_ad AFTER DELETE ON assets BEGIN "
    "INSERT INTO assets_fts(assets_fts, rowid, search_doc) VALUES ('delete', old.id, old.search_doc); END",
    "CREATE TRIGGER assets_fts_au AFTER UPDATE OF search_doc ON assets BEGIN "
    "INSERT INTO assets_fts(assets_fts, rowid, search_doc) VALUES ('delete', old.id, old.search_doc); "
    "INSERT INTO assets_fts(rowid, search_doc) VALUES (new.id, new.search_doc); END",
)
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS assets_fts_au",
    "DROP TRIGGER IF EXISTS assets_fts_ad",
    "DROP TRIGGER IF EXISTS assets_fts_ai",
    "DROP TABLE IF EXISTS assets_fts",
)
POSTGRES_DDL = (
    "CREATE INDEX ix_assets_search ON assets USING gin (to_tsvector('simple', search_doc))",
)
POSTGRES_DROP = ("DROP INDEX IF EXISTS ix_assets_search",)


def ddl(dialect_name: str, *, drop: bool = False) -> tuple[str, ...]:
    if dialect_name == "sqlite":
        return SQLITE_DROP if drop else SQLITE_DDL
    if dialect_name == "postgresql":
        return POSTGRES_DROP if drop else POSTGRES_DDL
    raise NotImplementedError(f"gallery_widgets supports SQLite and PostgreSQL, not {dialect_name}")


def terms(query: str) -> list[str]:
    """The words of a user's query, lower-cased, at most MAX_TERMS."""
    return [w.lower() for w in _WORD.findall(query or "")][:MAX_TERMS]


class KeywordSearch:
    """The matching ids and a relevance score for one query, in one dialect."""

    def __init__(self, dialect_name: str, words: list[str]):
        self.dialect = dialect_name
        self.words = words

    def matching(self):
        """A selectable of (id, rank) for the assets matching every word; lower rank is better."""
        if self.dialect == "sqlite":
            fts_query = " ".join(f'"{w}"*' for w in self.words)
            fts = table("assets_fts", column("rowid"))
            return (
                select(
                    fts.c.rowid.label("id"),
                    literal_column("bm25(assets_fts)").label("rank"),
                )
                .select_from(fts)
                .where(text("assets_fts MATCH :fts_query").bindparams(fts_query=fts_query))
            ).subquery("kw")
        tsquery = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in self.words))
        vector = func.to_tsvector("simple", literal_column("assets.search_doc"))
        assets = table("assets", column("id"))
        return (
            select(assets.c.id.label("id"), (-func.ts_rank(vector, tsquery)).label("rank"))
            .select_from(assets)
            .where(vector.op("@@")(tsquery))
        ).subquery("kw")


def insert_ignore(session, table_, values: dict) -> int:
    """INSERT that does nothing on a key clash; returns how many rows went in (0 or 1)."""
    dialect = session.get_bind().dialect.name
    module = sqlite if dialect == "sqlite" else postgresql
    statement = module.insert(table_).values(**values).on_conflict_do_nothing()
    return session.execute(statement).rowcount
