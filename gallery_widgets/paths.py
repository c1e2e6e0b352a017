"""Where this machine keeps a gallery's files, and who the notebook's user is (SPEC §1)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path


def default_home() -> Path:
    """``GALLERY_HOME``, else ``<jupyter data dir>/gallery``: the embedded gallery's database
    and artifacts, and this machine's artifact cache, job folders and workflow runs."""
    if os.environ.get("GALLERY_HOME"):
        return Path(os.environ["GALLERY_HOME"]).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "gallery"


def default_user() -> str:
    """``GALLERY_USER``, else the login name (the embedded gallery trusts it, SPEC §1)."""
    return os.environ.get("GALLERY_USER") or getpass.getuser()
