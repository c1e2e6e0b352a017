"""market speed on PostgreSQL; accent-free search text

Revision ID: 0003_pg_speed
Revises: 0002_tokens
Create Date: 2026-12-05

- Partial indexes for the Featured and Official tabs: a few percent of a kind's assets,
  read in subscriptions order without walking every asset of the kind.
- ``asset_texts.search_doc`` loses its accents (``store.search.without_accents``), so the
  PostgreSQL ``tsvector`` matches ``cafe`` to "Café" as SQLite's FTS5 already did. Rows are
  rewritten only where the text is not ASCII; the trigger rebuilds their vectors.
"""
from alembic import op
import sqlalchemy as sa

from gallery_widgets.store.search import without_accents


revision = '0003_pg_speed'
down_revision = '0002_tokens'
branch_labels = None
depends_on = None

_FLAGS = ("featured", "official")


def upgrade() -> None:
    for flag in _FLAGS:
        op.create_index(
            f"ix_assets_market_{flag}", "assets", ["kind", "status", "subscriptions", "id"],
            postgresql_where=sa.text(f"{flag} IS TRUE"), sqlite_where=sa.text(f"{flag} = 1"),
        )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # SQLite's FTS5 folds accents itself; only PostgreSQL's vectors need the new text.
        rows = bind.execute(sa.text(
            "SELECT asset_id, search_doc FROM asset_texts WHERE search_doc ~ '[^[:ascii:]]'")).all()
        for asset_id, doc in rows:
            bind.execute(sa.text("UPDATE asset_texts SET search_doc = :doc WHERE asset_id = :id"),
                         {"doc": without_accents(doc), "id": asset_id})


def downgrade() -> None:
    # The accent-free search text stays: 0001 searches it as well as the original.
    for flag in _FLAGS:
        op.drop_index(f"ix_assets_market_{flag}", table_name="assets")
