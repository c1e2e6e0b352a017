"""What a test compares before and after a failed call: "the gallery is unchanged".

A snapshot holds every row of every gallery table (read through a separate engine, not
the gallery's own) and every file of the artifact folder with its size.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, text

from gallery_widgets.store.engine import normalise_url
from gallery_widgets.store.schema import Base

TABLES = ["alembic_version", *(table.name for table in Base.metadata.sorted_tables)]


def database_rows(url: str) -> dict[str, list[str]]:
    """Every row of every table, as sorted reprs (so any change shows in a diff)."""
    if url.startswith("sqlite:///"):
        # Read the file directly and read-only: a snapshot never writes, even beside a damaged
        # or read-only gallery.
        path = Path(url[len("sqlite:///"):])
        uri = f"file:{path}?mode=ro" + ("" if Path(f"{path}-shm").exists() else "&immutable=1")
        with sqlite3.connect(uri, uri=True) as conn:
            rows = {table: sorted(repr(tuple(row)) for row in conn.execute(f'SELECT * FROM "{table}"'))
                    for table in TABLES}
        conn.close()
        return rows
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return {table: sorted(repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{table}"')))
                    for table in TABLES}
    finally:
        engine.dispose()


def artifact_files(folder: Path) -> dict[str, int]:
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def gallery_state(url: str, artifacts: Path) -> dict:
    return {"rows": database_rows(url), "files": artifact_files(artifacts)}
