"""Versions tab: every version with its status, constraints (and whitelist / steps); the
publisher edits descriptions and whitelists, discontinues a version after a confirmation, and
adds a version from a local source (SPEC P2, P7, P8, V5)."""

from __future__ import annotations

import ipywidgets as w

from ..common import esc, row, shows_errors, when
from .parts import Confirm, constraints_html, hidden, names
from .tab import DetailTab


class VersionsTab(DetailTab):
    name = "Versions"

    def build(self):
        self.version_descriptions: dict[str, w.Text] = {}
        self.version_whitelists: dict[str, w.Text] = {}
        self.discontinue_buttons: dict[str, w.Button] = {}
        self.add_form = None
        self.versions_html = w.HTML()
        self.add_version_button = w.Button(description="Add Version", icon="plus", layout=w.Layout(width="auto"),
                                           tooltip="Publish a new version of this asset from a local source")
        self.add_version_button.add_class("gw-add-version")
        self.add_version_button.on_click(self._on_add_version)
        self.add_area = w.VBox([])
        self.add_area.add_class("gw-add-version-area")
        parts = [self.versions_html]
        if self.owner.is_publisher:  # a new version is published by the asset's publisher (SPEC P2)
            parts = [w.HBox([self.add_version_button], layout=w.Layout(justify_content="flex-start")),
                     self.add_area, self.versions_html]
        return w.VBox(parts)

    def build_form(self):
        self.versions_form = w.VBox([])
        self.confirm = Confirm(self.messages)
        return w.VBox([self.confirm, self.versions_form])

    def render(self) -> None:
        a = self.asset
        if not a.versions:
            self.versions_html.value = '<div class="gw-empty">No version is available to you.</div>'
            return
        show_whitelist = a.visibility == "group" and self.owner.can_edit
        show_steps = a.kind == "workflow"
        head = "<tr><th>Version</th><th>Published at</th><th>Status</th><th>Description</th><th>Constraints</th>"
        head += "<th>Whitelist</th>" if show_whitelist else ""
        head += "<th>Steps</th>" if show_steps else ""
        rows = []
        for v in a.versions:
            line = (f"<tr><td><b>{esc(v.version)}</b></td><td>{esc(when(v.published_at))}</td>"
                    f"<td>{esc(v.status.capitalize())}</td><td>{esc(v.description) or '—'}</td>"
                    f"<td>{constraints_html(v.constraints)}</td>")
            if show_whitelist:
                line += f"<td>{esc(', '.join(v.whitelist)) or '—'}</td>"
            if show_steps:
                line += f"<td>{'<br>'.join(f'<code>{esc(d)}</code>' for d in v.dependencies) or '—'}</td>"
            rows.append(line + "</tr>")
        self.versions_html.value = f'<table class="gw-table gw-versions">{head}</tr>{"".join(rows)}</table>'

    # -- edit form -------------------------------------------------------------------------------
    def fill(self) -> None:
        a = self.asset
        self.confirm.close_dialog()
        self.version_descriptions, self.version_whitelists, self.discontinue_buttons = {}, {}, {}
        rows = [w.HTML('<span class="gw-muted">Edit the version descriptions'
                       + (" and whitelists" if a.visibility == "group" else "")
                       + ", or discontinue a version (an asset keeps at least one normal version).</span>")]
        for v in a.versions:
            text = w.Text(value=v.description, placeholder="version description", layout=w.Layout(flex="1 1 auto"))
            self.version_descriptions[v.version] = text
            discontinue = w.Button(description="Discontinued" if v.status == "discontinued" else "Discontinue",
                                   disabled=v.status == "discontinued", button_style="danger",
                                   layout=w.Layout(width="auto"))
            discontinue.add_class("gw-discontinue-version")
            discontinue.on_click(lambda _b, number=v.version: self.ask_discontinue(number))
            self.discontinue_buttons[v.version] = discontinue
            parts = [w.HTML(f"<b>{esc(v.version)}</b>", layout=w.Layout(width="70px")),
                     w.HTML(f'<span class="gw-muted">{esc(v.status)}</span>', layout=w.Layout(width="90px")),
                     text]
            if a.visibility == "group":
                users = w.Text(value=", ".join(v.whitelist), placeholder="whitelisted users",
                               layout=w.Layout(width="220px"))
                self.version_whitelists[v.version] = users
                parts.append(users)
            parts.append(discontinue)
            rows.append(row(parts, align_items="center"))
        self.versions_form.children = tuple(rows)

    def save(self):
        a = self.asset
        result = None
        for v in a.versions:
            text = self.version_descriptions.get(v.version)
            if text is not None and text.value != v.description:
                result = self.g.edit_version(self.content_id, v.version, description=text.value)
                self.owner.apply(result)
        for v in a.versions:
            box = self.version_whitelists.get(v.version)
            if box is None:
                continue
            wanted, current = names(box.value), list(v.whitelist)
            added = [u for u in wanted if u not in current]
            removed = [u for u in current if u not in wanted]
            if added:
                self.g.add_whitelist_users(self.content_id, v.version, added)
            if removed:
                self.g.delete_whitelist_users(self.content_id, v.version, removed)
            if added or removed:
                # the whitelist calls return the change, not the asset; saving the version's
                # description (unchanged) hands back the asset as the service now has it
                current_text = self.version_descriptions[v.version].value
                result = self.g.edit_version(self.content_id, v.version, description=current_text)
        return result

    # -- discontinue a version (asks first) ------------------------------------------------------
    def ask_discontinue(self, version: str) -> None:
        """Say what discontinuing ``version`` does, and do it on OK."""
        others = [v.version for v in self.asset.versions if v.status != "discontinued" and v.version != version]
        subscribers = self.asset.subscriptions
        text = (f"Discontinue version <b>{esc(version)}</b> of {esc(self.asset.title)}? It is no longer offered: "
                f"new imports use {', '.join(esc(o) for o in others) or 'another version'}. "
                f"The {subscribers:,} subscriber{'s keep' if subscribers != 1 else ' keeps'} access to the asset, and "
                "workflows pinned to this version keep working.")
        self.confirm.ask(text, lambda: self._discontinue(version), ok_label="Discontinue version")

    @shows_errors
    def _discontinue(self, version: str) -> None:
        self.messages.clear()
        self.owner.apply(self.g.discontinue_version(self.content_id, version))
        self.fill()
        self.messages.ok(f"Version {version} discontinued.")

    # -- add a version -----------------------------------------------------------------------------
    @shows_errors
    def _on_add_version(self, _button=None) -> None:
        """Open a PublishForm in "Add asset version" mode, set to this asset."""
        from ..publish import PublishForm

        if self.add_form is None:
            self.add_form = PublishForm(self.g, namespace=self.owner.namespace, mode="add",
                                        content_id=self.content_id, on_published=self._published)
            close = w.Button(description="Close", layout=w.Layout(width="auto"))
            close.on_click(lambda _b: hidden(self.add_area))
            self.add_area.children = (self.add_form, w.HBox([close]))
        hidden(self.add_area, False)

    def _published(self, asset) -> None:
        # the publish result names the asset; draw it as the service has it now (no extra view)
        self.owner.apply(self.g.asset(self.content_id, count_view=False))
