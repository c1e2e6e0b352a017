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
    from alembic import command

    command.upgrade(_config(database), revision)


def downgrade(database, revision: str) -> None:
    from alembic import command

    command.downgrade(_config(database), revision)
