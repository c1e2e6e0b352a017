"""PublishForm: "Publish in AI Gallery" (SPEC P1-P5, §5).

Create asset / Add asset version; the source is a local ``gw.Algorithm`` / ``gw.Model`` /
``gw.Workflow`` found in the kernel, or a folder loaded here; then title, summary,
version, visibility (with the whitelist for Specific users), duration limit with
auto-renew, and the publishing agreement. Publish runs in the background (packing and the
security scan can take a while) and ends with the result or the scan findings.
"""

from __future__ import annotations

import re
from pathlib import Path

import ipywidgets as w

from ..entities import Duration
from ..errors import GalleryError, InvalidInput, ScanFailed
from ..kernel.sources import Algorithm, LocalSource, Model
from .common import (
    Messages,
    default_gallery,
    esc,
    in_background,
    log,
    shows_errors,
    style,
)
from .import_workflow import kernel_namespace
from .jobs import GAP_STYLE, hbox
from .kernel_loop import KernelLoop

MODE_OPTIONS = [("Create asset", "create"), ("Add asset version", "add")]
VISIBILITY_OPTIONS = [("Only me", "private"), ("Specific users", "group"), ("Public", "public")]
_KIND_LABELS = {"algorithm": "Algorithm", "model": "Model", "workflow": "Workflow"}
_NO_SOURCE = ("— pick a local algorithm, model or workflow —", None)
_DW = {"description_width": "130px"}

FORM_STYLE = """
<style>
.gw-publish-form .gw-section { font-size: 12px; font-weight: 650; text-transform: uppercase; letter-spacing: .04em;
  color: var(--jp-ui-font-color2, #656d76); margin: 12px 0 4px 0; border-bottom: 1px solid #eaeef2; padding-bottom: 2px; }
.gw-agreement-text { font-size: 12px; color: var(--jp-ui-font-color2, #656d76); background: var(--jp-layout-color2, #f6f8fa);
  border-radius: 6px; padding: 6px 10px; max-height: 90px; overflow: auto; }
.gw-findings { margin-top: 6px; }
.gw-findings td.gw-sev-high, .gw-findings td.gw-sev-critical { color: #8a1c1c; font-weight: 600; }
.gw-result { border: 1px solid #b7dfb9; background: #f3fbf4; border-radius: 10px; padding: 8px 12px; margin-top: 6px; }
.gw-spinner { display: inline-block; width: 12px; height: 12px; border: 2px solid #90caf9; border-top-color: #1565c0;
              border-radius: 50%; animation: gw-spin .8s linear infinite; vertical-align: middle; margin-right: 6px; }
@keyframes gw-spin { to { transform: rotate(360deg); } }
</style>
""" + GAP_STYLE


def local_sources(namespace: dict | None) -> list[tuple[str, LocalSource]]:
    """The kernel's local sources as (variable name, source), sorted by name."""
    if not namespace:
        return []
    found = [(name, value) for name, value in list(namespace.items())
             if not name.startswith("_") and isinstance(value, LocalSource)]
    return sorted(found, key=lambda item: item[0])


def load_folder(path: str) -> LocalSource:
    """``Algorithm.from_dir`` or ``Model.from_dir``, by which manifest the folder holds."""
    root = Path(path.strip()).expanduser()
    if not path.strip():
        raise InvalidInput("Type the path of a folder with algorithm.yaml or model.yaml, then Load.")
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder; type the folder that holds algorithm.yaml or model.yaml.")
    if (root / Algorithm.manifest_file).is_file():
        return Algorithm.from_dir(root)
    if (root / Model.manifest_file).is_file():
        return Model.from_dir(root)
    raise InvalidInput(f"{root} has neither algorithm.yaml nor model.yaml; see the README for both formats.")


def split_users(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def source_label(source: LocalSource, where: str) -> str:
    kind = _KIND_LABELS.get(source.kind, source.kind)
    return f"{where} — {kind} {source.name!r}"


def describe_finding(finding) -> dict:
    """A scan finding (object or mapping) as severity / location / rule / message."""
    def get(*names):
        for name in names:
            value = finding.get(name) if isinstance(finding, dict) else getattr(finding, name, None)
            if value not in (None, ""):
                return value
        return None

    path = get("path", "file", "filename")
    line = get("line", "lineno")
    location = f"{path}:{line}" if path and line else (path or "")
    return {
        "severity": str(get("severity", "level") or ""),
        "location": str(location),
        "rule": str(get("rule", "rule_id", "code", "id") or ""),
        "message": str(get("message", "detail", "description") or ("" if path else finding)),
    }


def findings_table(findings) -> str:
    if not findings:
        return ""
    rows = []
    for finding in findings:
        item = describe_finding(finding)
        severity = item["severity"].lower()
        rows.append(
            f'<tr><td class="gw-sev-{esc(severity)}">{esc(item["severity"] or "—")}</td>'
            f'<td><code>{esc(item["location"])}</code></td><td>{esc(item["rule"])}</td><td>{esc(item["message"])}</td></tr>'
        )
    return (
        '<div class="gw-findings"><b>Security scan findings</b>'
        '<table class="gw-table"><tr><th>Severity</th><th>Where</th><th>Rule</th><th>Finding</th></tr>'
        + "".join(rows) + "</table></div>"
    )


class PublishForm(w.VBox):
    """Publish a local source as a new asset or as a new version of one of yours (SPEC P1, P2)."""

    def __init__(self, g=None, source: LocalSource | None = None, *, namespace: dict | None = None,
                 mode: str = "create", content_id: str | None = None, on_published=None):
        super().__init__()
        self.kernel = KernelLoop.here()
        self.g = default_gallery(g)
        self.namespace = namespace
        self.result = None
        self.messages = Messages()
        self.on_published = on_published  # called with the new Asset (AssetDetail's Add Version redraws)
        self._thread = None
        self._extra_sources: list[tuple[str, LocalSource]] = []
        self._auto_title = ""
        self._auto_version = "1.0.0"

        # -- mode and source ------------------------------------------------------------
        self.mode = w.ToggleButtons(options=MODE_OPTIONS, value="create", description="Publish Mode", style=_DW)
        self.mode.add_class("gw-publish-mode")
        self.source_picker = w.Dropdown(options=[_NO_SOURCE], value=None, description="Source", style=_DW,
                                        layout=w.Layout(width="560px"))
        self.source_picker.add_class("gw-publish-source")
        self.rescan_button = w.Button(icon="refresh", tooltip="Look for gw.Algorithm / gw.Model / gw.Workflow "
                                      "variables in the kernel again", layout=w.Layout(width="40px"))
        self.folder = w.Text(placeholder="or a folder with algorithm.yaml or model.yaml", description="Folder",
                             style=_DW, layout=w.Layout(width="520px"))
        self.folder.add_class("gw-publish-folder")
        self.load_button = w.Button(description="Load", icon="folder-open")
        self.load_button.add_class("gw-publish-load")
        self.source_info = w.HTML()

        # -- what is published -------------------------------------------------------------
        self.asset = w.Dropdown(options=[], description="Item Title", style=_DW, layout=w.Layout(width="560px"))
        self.asset.add_class("gw-publish-asset")
        self.asset_note = w.HTML()
        self.title = w.Text(description="Title", placeholder="shown in the gallery", style=_DW,
                            layout=w.Layout(width="560px"))
        self.title.add_class("gw-publish-title")
        self.summary = w.Text(description="Summary", placeholder="one line", style=_DW, layout=w.Layout(width="560px"))
        self.summary.add_class("gw-publish-summary")
        self.version = w.Text(value="1.0.0", description="Version", placeholder="x.y.z", style=_DW,
                              layout=w.Layout(width="300px"))
        self.version.add_class("gw-publish-version")
        self.description = w.Textarea(description="Version notes", placeholder="what is new in this version (optional)",
                                      style=_DW, layout=w.Layout(width="560px", height="60px"))
        self.description.add_class("gw-publish-description")
        # the asset's page at publish time (SPEC P7 fields, also editable later in AssetDetail)
        self.categories = w.TagsInput(allowed_tags=list(self.g.categories()), allow_duplicates=False,
                                      placeholder="add a category (Dimension/Leaf)")
        self.categories.add_class("gw-publish-categories")
        self.asset_description = w.Textarea(description="Description", style=_DW,
                                            placeholder="Markdown: background, usage, constraints… (optional)",
                                            layout=w.Layout(width="560px", height="90px"))
        self.asset_description.add_class("gw-publish-asset-description")
        self.cover = w.FileUpload(accept=".png,.jpg,.jpeg", multiple=False, description="Cover")
        self.cover.add_class("gw-publish-cover")

        # -- restrictions -----------------------------------------------------------------------
        self.visibility = w.ToggleButtons(options=VISIBILITY_OPTIONS, value="private", description="Visible To",
                                          style=_DW)
        self.visibility.add_class("gw-publish-visibility")
        self.whitelist = w.Text(description="Users", placeholder="user names, separated by commas", style=_DW,
                                layout=w.Layout(width="560px", display="none"))
        self.whitelist.add_class("gw-publish-whitelist")
        self.duration_enabled = w.Checkbox(value=False, description="Duration limit", style=_DW, indent=True)
        self.duration_enabled.add_class("gw-publish-duration")
        self.duration_days = w.IntText(value=30, description="Free days", style=_DW, layout=w.Layout(width="240px"))
        self.duration_days.add_class("gw-publish-duration-days")
        self.auto_renew = w.Checkbox(value=False, description="Renew at expiry", indent=False)
        self.auto_renew.add_class("gw-publish-auto-renew")
        self.duration_box = hbox([self.duration_days, self.auto_renew], gap=12, display="none",
                                 align_items="center")

        # -- agreement and action ------------------------------------------------------------------
        # Publishing asks for both agreements: the publishing agreement (the service records it)
        # and the gallery's service agreement (the terms the asset is shared under).
        wanted = ("publishing-agreement", "service-agreement")
        texts = sorted((a for a in self.g.agreements() if a.id in wanted), key=lambda a: wanted.index(a.id))
        self.agreement_text = w.HTML("".join(
            f'<div class="gw-agreement-text"><b>{esc(a.title)}</b> (version {esc(a.version)})<br>{esc(a.text)}</div>'
            for a in texts
        ))
        self.agree = w.Checkbox(value=False, indent=False,
                                description="I have read and agree to the " + " and the ".join(a.title for a in texts),
                                layout=w.Layout(width="auto"))
        self.agree.add_class("gw-publish-agree")
        self.publish_button = w.Button(description="Publish", button_style="primary", icon="upload")
        self.publish_button.add_class("gw-publish-button")
        self.progress = w.HTML(
            '<span class="gw-spinner"></span><span class="gw-muted">Publishing — packing the code and running the '
            "security scan…</span>",
            layout=w.Layout(display="none"),
        )
        self.progress.add_class("gw-publish-progress")
        self.result_view = w.HTML()
        self.result_view.add_class("gw-publish-result")

        # -- wiring ----------------------------------------------------------------------------------
        self.mode.observe(self._on_mode, names="value")
        self.source_picker.observe(self._on_source, names="value")
        self.asset.observe(self._on_asset, names="value")
        self.visibility.observe(self._on_visibility, names="value")
        self.duration_enabled.observe(self._on_duration, names="value")
        self.rescan_button.on_click(lambda _b: self.rescan())
        self.load_button.on_click(self._on_load)
        self.publish_button.on_click(self._on_publish)

        self.create_only = w.VBox([
            self.title, self.summary,
            hbox([w.Label("Categories", layout=w.Layout(width="130px")), self.categories], gap=4),
            hbox([w.Label("", layout=w.Layout(width="126px")), self.cover,
                  w.HTML('<span class="gw-muted">PNG or JPEG ≤ 1 MiB, 360×200 recommended</span>')],
                 gap=6, align_items="center"),
            self.asset_description,
        ])
        self.restrictions = w.VBox([
            w.HTML('<div class="gw-section">Restrictions</div>'),
            self.visibility,
            self.whitelist,
            self.duration_enabled,
            self.duration_box,
        ])
        self.children = [
            style(),
            w.HTML(FORM_STYLE),
            w.HTML('<div class="gw-h1">Publish in AI Gallery</div>'
                   '<div class="gw-muted">Share an algorithm, model or workflow from this notebook.</div>'),
            self.mode,
            w.HTML('<div class="gw-section">Source</div>'),
            hbox([self.source_picker, self.rescan_button], gap=6),
            hbox([self.folder, self.load_button], gap=6),
            self.source_info,
            w.HTML('<div class="gw-section">Asset</div>'),
            self.asset,
            self.asset_note,
            self.create_only,
            self.version,
            self.description,
            self.restrictions,
            w.HTML('<div class="gw-section">Agreement</div>'),
            self.agreement_text,
            self.agree,
            hbox([self.publish_button, self.progress], gap=10, align_items="center", margin="8px 0 0 0"),
            self.messages,
            self.result_view,
        ]
        self.add_class("gw-root")
        self.add_class("gw-publish-form")
        self.layout = w.Layout(max_width="820px")

        if source is not None:
            self._extra_sources.append(("passed to PublishForm", source))
        self.rescan()
        if source is not None:
            self.source_picker.value = source
        if mode == "add":
            self.mode.value = "add"
        self._apply_mode()
        if content_id is not None and content_id in [cid for _, cid in self.asset.options]:
            self.asset.value = content_id

    # -- sources ------------------------------------------------------------------------------
    def rescan(self) -> None:
        """List the kernel's local sources again (plus those given or loaded here)."""
        current = self.source_picker.value
        options = [_NO_SOURCE]
        seen = set()
        for where, source in self._extra_sources:
            options.append((source_label(source, where), source))
            seen.add(id(source))
        for name, source in local_sources(kernel_namespace(self.namespace)):
            if id(source) not in seen:
                options.append((source_label(source, name), source))
                seen.add(id(source))
        self.source_picker.options = options
        if current is not None and id(current) in seen:
            self.source_picker.value = current
        if len(options) == 1:
            self.source_info.value = (
                '<div class="gw-muted">No gw.Algorithm, gw.Model or gw.Workflow variable in this kernel yet: '
                "create one (e.g. <code>algo = gw.Algorithm.from_dir('my-algorithm/')</code>) and press ⟳, "
                "or load a folder.</div>"
            )

    @shows_errors
    def _on_load(self, _=None):
        self.messages.clear()
        source = load_folder(self.folder.value)
        self._extra_sources.insert(0, (f"folder {self.folder.value.strip()}", source))
        self.rescan()
        self.source_picker.value = source
        self.messages.ok(f"Loaded {_KIND_LABELS.get(source.kind, source.kind).lower()} {source.name!r} "
                         f"({len(source.files)} files).")

    @property
    def source(self) -> LocalSource | None:
        return self.source_picker.value

    def _on_source(self, change) -> None:
        source = change["new"]
        if source is None:
            self.source_info.value = ""
        else:
            files = len(source.files) if not getattr(source, "steps", None) else len(source.steps)
            unit = "step" if getattr(source, "steps", None) else "file"
            self.source_info.value = (
                f'<div class="gw-muted">{esc(_KIND_LABELS.get(source.kind, source.kind))} '
                f"<b>{esc(source.name)}</b> · {files} {unit}{'s' if files != 1 else ''}</div>"
            )
            if not self.title.value.strip() or self.title.value == self._auto_title:
                self.title.value = self._auto_title = source.name
        self._load_assets()

    # -- mode -----------------------------------------------------------------------------------
    def _on_mode(self, change) -> None:
        self._apply_mode()

    def _apply_mode(self) -> None:
        adding = self.mode.value == "add"
        self.asset.layout.display = "" if adding else "none"
        self.asset_note.layout.display = "" if adding else "none"
        self.create_only.layout.display = "none" if adding else ""
        self.restrictions.layout.display = "none" if adding else ""
        self.publish_button.description = "Publish version" if adding else "Publish"
        if adding:
            self._load_assets()
        elif self.version.value == self._auto_version:
            self.version.value = self._auto_version = "1.0.0"

    @shows_errors
    def _load_assets(self) -> None:
        """My publishes of the picked source's kind, for Add asset version."""
        if self.mode.value != "add":
            return
        source = self.source_picker.value
        kind = source.kind if source is not None else None
        publishes = self.g.publishes(kind=kind)
        current = self.asset.value
        labels = [(f"{a.title}" + ("" if kind else f" ({a.kind})"), a.content_id) for a in publishes]
        self.asset.options = labels
        self.asset_note.value = "" if labels else (
            f'<div class="gw-muted">You have no {esc(kind or "asset")}s to add a version to yet; '
            "use Create asset.</div>"
        )
        if not labels:
            return
        ids = [cid for _, cid in labels]
        self.asset.value = current if current in ids else ids[0]
        self._on_asset({"new": self.asset.value})

    @shows_errors
    def _on_asset(self, change) -> None:
        cid = change["new"]
        if cid is None or self.mode.value != "add":
            return
        asset = self.g.asset(cid, count_view=False)
        if not asset.versions:
            return
        major, minor, patch = (int(x) for x in asset.versions[0].version.split("."))
        suggestion = f"{major}.{minor}.{patch + 1}"
        if self.version.value in ("", self._auto_version, "1.0.0"):
            self.version.value = suggestion
        self._auto_version = suggestion

    def _on_visibility(self, change) -> None:
        self.whitelist.layout.display = "" if change["new"] == "group" else "none"

    def _on_duration(self, change) -> None:
        self.duration_box.layout.display = "" if change["new"] else "none"

    # -- publish ----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @shows_errors
    def _on_publish(self, _=None):
        if self.busy:
            return
        self.messages.clear()
        self.result_view.value = ""
        source = self.source_picker.value
        if source is None:
            self.messages.error("Pick a local source (or load a folder) to publish first.")
            return
        agree = bool(self.agree.value)
        version = self.version.value.strip()
        description = self.description.value
        if self.mode.value == "add":
            content_id = self.asset.value
            if content_id is None:
                self.messages.error("Pick the asset to add a version to (Item Title), or use Create asset.")
                return

            def work():
                return self.g.add_version(content_id, source, version=version or None, description=description,
                                          agree=agree)
        else:
            duration = (
                Duration(int(self.duration_days.value), bool(self.auto_renew.value))
                if self.duration_enabled.value else None
            )
            options = {
                "title": self.title.value.strip() or None,
                "summary": self.summary.value.strip(),
                "version": version,
                "description": description,
                "visibility": self.visibility.value,
                "group_users": split_users(self.whitelist.value) if self.visibility.value == "group" else (),
                "duration": duration,
                "categories": list(self.categories.value),
                "agree": agree,
            }
            page = {}
            if self.asset_description.value.strip():
                page["description"] = self.asset_description.value
            if self.cover.value:
                page["cover"] = bytes(self.cover.value[0]["content"])

            def work():
                asset = self.g.publish(source, **options)
                # the description and cover are edits of the new asset (publish takes neither)
                return self.g.edit_asset(asset.content_id, **page) if page else asset

        self._set_busy(True)
        self._thread = in_background(work, self._published, self._failed, self.kernel)

    def _set_busy(self, busy: bool) -> None:
        self.publish_button.disabled = busy
        self.progress.layout.display = "" if busy else "none"

    def _published(self, asset) -> None:
        try:
            self.result = asset
            version = asset.versions[0].version if asset.versions else ""
            self.messages.ok(f"Published {asset.title!r} version {version} — content id {asset.content_id}.")
            visibility = {v: k for k, v in VISIBILITY_OPTIONS}.get(asset.visibility, asset.visibility)
            self.result_view.value = (
                '<div class="gw-result">'
                f'<div class="gw-title">✓ {esc(asset.title)} <span class="gw-muted">{esc(version)}</span></div>'
                f'<div class="gw-muted">{esc(_KIND_LABELS.get(asset.kind, asset.kind))} · visible to '
                f"{esc(visibility)} · content id <code>{esc(asset.content_id)}</code></div></div>"
            )
            if self.mode.value == "add":
                self._on_asset({"new": self.asset.value})
            if self.on_published is not None:
                self.on_published(asset)
        except Exception:  # noqa: BLE001 - never raise into the worker thread
            log.exception("could not show the publish result")
        finally:
            self._set_busy(False)

    def _failed(self, exc: Exception) -> None:
        try:
            if isinstance(exc, ScanFailed):
                self.messages.error(str(exc).splitlines()[0])
                self.result_view.value = findings_table(exc.findings)
            elif isinstance(exc, GalleryError):
                self.messages.error(str(exc))
            else:
                log.error("publishing failed", exc_info=exc)
                self.messages.error(f"Something went wrong ({type(exc).__name__}: {exc}).")
        finally:
            self._set_busy(False)

    def wait(self, timeout: float | None = None) -> PublishForm:
        """Join the background publish (for tests and scripts)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self
