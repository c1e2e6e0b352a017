"""Code tab: open code and license; for who may read it, a preview of an algorithm's files and
"Download code" — the verified archive saved into the notebook's folder, listed with sizes
(the seed's "Copy Download Link")."""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

import ipywidgets as w

from ...errors import GalleryError, PermissionDenied, StorageError
from ..common import esc, in_background
from .parts import hidden
from .tab import DetailTab

LABEL = {"description_width": "110px"}


def archive_name(title: str, version: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-.").lower() or "asset"
    return f"{stem}-{version}.zip"


def size_text(size: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:,} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} MiB"


def download_archive(g, content_id: str, kind: str, folder: Path) -> tuple[Path, list[tuple[str, int]]]:
    """Fetch the usable version's archive, check its sha256 (U7), write it into ``folder``.

    Raises:
        PermissionDenied: the code is not open to you.
        StorageError: the file could not be written.
        (and whatever ``usable_version`` / ``open_artifact`` raise)
    """
    usable = g.usable_version(content_id, kind=kind)
    if not usable.code_visible:
        raise PermissionDenied(f"The code of {usable.title!r} is not open: only its publisher may download it.")
    with g.open_artifact(usable.digest) as stream:
        data = stream.read()
    if hashlib.sha256(data).hexdigest() != usable.digest:
        raise GalleryError(f"The archive of {usable.title!r} {usable.version} does not match its digest; "
                           "nothing was saved. Try again, or tell the gallery's operator.")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        # the packing's own records (.gallery*) are not the asset's files; the handle hides them too
        files = [(i.filename, i.file_size) for i in archive.infolist()
                 if not i.is_dir() and not i.filename.startswith(".gallery")]
    target = Path(folder) / archive_name(usable.title, usable.version)
    try:
        if not (target.exists() and target.read_bytes() == data):
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)  # never a half-written archive under the final name
    except OSError as exc:
        raise StorageError(f"Could not save {target.name} into {target.parent}: {exc.strerror or exc}. "
                           "Check the folder is writable and has space.") from exc
    return target, files


class CodeTab(DetailTab):
    name = "Code"

    def build(self):
        self.code_thread = None
        self.download_thread = None
        self.download_dir: Path | None = None  # None: the kernel's working folder (the notebook's)
        self.downloaded: Path | None = None
        self._loaded = False
        self._handle = None
        self.code_html = w.HTML()
        self.code_files = w.Dropdown(options=[], description="File", layout=w.Layout(width="420px"))
        self.code_files.observe(self._on_file, names="value")
        self.code_preview = w.HTML()
        self.code_preview.add_class("gw-code-preview")
        self.code_area = w.VBox([self.code_files, self.code_preview])
        hidden(self.code_area)
        self.download_button = w.Button(description="Download code", icon="download",
                                        tooltip="Save the archive into this notebook's folder")
        self.download_button.add_class("gw-code-download")
        self.download_button.on_click(self._on_download)
        self.download_html = w.HTML()
        self.download_html.add_class("gw-code-files")
        self.download_area = w.VBox([self.download_button, self.download_html])
        hidden(self.download_area)
        return w.VBox([self.code_html, self.download_area, self.code_area])

    def build_form(self):
        self.edit_code_open = w.Checkbox(description="Open source code", indent=False)
        self.edit_license = w.Dropdown(options=list(self.g.licenses()), description="License", style=LABEL)
        return w.VBox([self.edit_code_open, self.edit_license])

    @property
    def readable(self) -> bool:
        a = self.asset
        return self.owner.usable and (a.code_open or self.owner.can_edit)

    def render(self) -> None:
        a = self.asset
        rows = (f"<tr><td>Open source code</td><td>{'Yes' if a.code_open else 'No'}</td></tr>"
                f"<tr><td>License</td><td>{esc(a.license)}</td></tr>")
        if not (a.code_open or self.owner.can_edit):
            note = ("The code of this asset is not open: you can use it once subscribed, "
                    "but only its publisher sees the source.")
        elif not self.owner.usable:
            note = "Subscribe to preview and download the code."
        elif a.kind != "algorithm":
            note = "A file preview is available for algorithms; download the archive to read the files."
        else:
            note = ""
        self.code_html.value = (f'<table class="gw-table gw-kv">{rows}</table>'
                                + (f'<div class="gw-muted" style="margin-top:8px">{esc(note)}</div>' if note else ""))
        hidden(self.download_area, not self.readable)
        previewable = self.readable and a.kind == "algorithm"
        hidden(self.code_area, not previewable)
        if not previewable:
            self._loaded = False
            self._handle = None
        elif self.owner.tab_shown(self.name):
            self.load_code()

    def fill(self) -> None:
        self.edit_code_open.value = bool(self.asset.code_open)
        licenses = self.edit_license.options
        fallback = "Unknown" if "Unknown" in licenses else licenses[0]
        self.edit_license.value = self.asset.license if self.asset.license in licenses else fallback

    def save(self):
        changes = {}
        if self.edit_code_open.value != self.asset.code_open:
            changes["code_open"] = bool(self.edit_code_open.value)
        if self.edit_license.value != self.asset.license:
            changes["license"] = self.edit_license.value
        return self.g.edit_asset(self.content_id, **changes) if changes else None

    # -- preview (loaded on a worker the first time the tab opens) --------------------------
    def load_code(self):
        """Load the file list and the entrypoint's preview; returns the background task (or None)."""
        if self._loaded or self.asset is None:
            return self.code_thread
        self._loaded = True
        self.code_preview.value = '<div class="gw-muted">⏳ Loading the code…</div>'
        g, cid = self.g, self.content_id

        def work():
            handle = g.import_algorithm(cid, check_constraints="ignore")
            files = handle.files
            try:
                text = handle.preview()
                first = handle.entrypoint.split(":")[0].replace(".", "/") + ".py"
            except GalleryError:
                first = files[0] if files else None
                text = handle.preview(first) if first else ""
            return handle, files, first, text

        def done(result):
            handle, files, first, text = result
            self._handle = None
            self.code_files.options = files
            self.code_files.value = first if first in files else None
            self._handle = handle
            self.code_preview.value = f'<pre class="gw-code">{esc(text)}</pre>'

        def failed(exc):
            self._loaded = False
            self.code_preview.value = ""
            self.messages.error(str(exc) if isinstance(exc, GalleryError)
                                else f"The code could not be loaded ({type(exc).__name__}: {exc}).")

        self.code_thread = in_background(work, done, failed, self.owner.kernel)
        return self.code_thread

    def _on_file(self, change) -> None:
        if self._handle is None or not change["new"]:
            return
        try:
            self.code_preview.value = f'<pre class="gw-code">{esc(self._handle.preview(change["new"]))}</pre>'
        except GalleryError as exc:
            self.messages.error(str(exc))

    # -- download -----------------------------------------------------------------------------
    def _on_download(self, _button=None):
        self.messages.clear()
        self.download_button.disabled = True
        self.download_html.value = '<div class="gw-muted">⏳ Downloading…</div>'
        g, cid, kind = self.g, self.content_id, self.asset.kind
        folder = Path(self.download_dir) if self.download_dir is not None else Path.cwd()

        def done(result):
            path, files = result
            self.downloaded = path
            self.download_button.disabled = False
            rows = "".join(f"<tr><td><code>{esc(name)}</code></td><td>{esc(size_text(size))}</td></tr>"
                           for name, size in files)
            self.download_html.value = (
                f'<div class="gw-ok">Saved <code>{esc(path.name)}</code> into <code>{esc(path.parent)}</code> '
                f"({esc(size_text(path.stat().st_size))}).</div>"
                f'<table class="gw-table"><tr><th>File</th><th>Size</th></tr>{rows}</table>'
            )

        def failed(exc):
            self.download_button.disabled = False
            self.download_html.value = ""
            self.messages.error(str(exc) if isinstance(exc, GalleryError)
                                else f"The download failed ({type(exc).__name__}: {exc}).")

        self.download_thread = in_background(lambda: download_archive(g, cid, kind, folder), done, failed,
                                             self.owner.kernel)
        return self.download_thread
