"""Alembic, run from the migrations shipped inside the package."""

from __future__ import annotations

from importlib import resources


def _config(database):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("gallery_widgets.store") / "migrations"))
    config.attributes["engine"] = database.engine
    return config


def upgrade(database, revision: str = "head") -> None:
    """Bring the database to ``revision``.

    Raises:
        SchemaOutdated: the database is at a revision a newer gallery_widgets wrote.
    """
    from alembic import command

    from ..errors import SchemaOutdated
    from .engine import known_revisions, schema_mismatch_message

    current = database.current_revision()
    if current is not None and current not in known_revisions():
        raise SchemaOutdated(schema_mismatch_message(database, current))
    command.upgrade(_config(database), revision)


def downgrade(database, revision: str) -> None:
    from alembic import command

    command.downgrade(_config(database), revision)
