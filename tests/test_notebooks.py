"""Every example notebook runs top to bottom on a fresh gallery, headless (nbclient)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_a_fresh_gallery(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "gallery"))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # A second run on the same gallery works too (the notebooks are re-runnable).
    client = NotebookClient(nbformat.read(path, as_version=4), timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert os.path.exists(tmp_path / "gallery" / "gallery.db")
