"""Restrictions tab: who sees the asset (widening only), its whitelist and the free duration
(SPEC V3-V5, SUB3)."""

from __future__ import annotations

import ipywidgets as w

from ...entities import Duration
from ..common import esc, row
from .parts import VISIBILITY_LABELS, VISIBILITY_ORDER, duration_text, hidden, names
from .tab import DetailTab

WIDE = w.Layout(width="100%")
LABEL = {"description_width": "110px"}


def whitelist(asset) -> list[str]:
    users: list[str] = []
    for version in asset.versions:
        users.extend(u for u in version.whitelist if u not in users)
    return users


class RestrictionsTab(DetailTab):
    name = "Restrictions"

    def build(self):
        self.restrictions_html = w.HTML()
        return self.restrictions_html

    def build_form(self):
        self.edit_visibility = w.Dropdown(description="Visible to", style=LABEL)
        self.edit_whitelist = w.Text(description="Users", style=LABEL, layout=WIDE,
                                     placeholder="usernames, separated by commas (for Specific users)")
        self.edit_visibility.observe(lambda change: hidden(self.edit_whitelist, change["new"] != "group"),
                                     names="value")
        self.edit_duration_on = w.Checkbox(description="Limit the free duration", indent=False)
        self.edit_duration_days = w.BoundedIntText(value=30, min=1, max=36_500, description="Days", style=LABEL)
        self.edit_auto_renew = w.Checkbox(description="Auto-renew", indent=False)
        self.edit_duration_on.observe(lambda _c: self._duration_enabled(), names="value")
        form = w.VBox([
            self.edit_visibility,
            w.HTML('<span class="gw-muted">Visibility can only be widened: Only me → Specific users → Public.</span>'),
            self.edit_whitelist,
            row([self.edit_duration_on, self.edit_duration_days, self.edit_auto_renew], align_items="center"),
        ])
        return form

    def render(self) -> None:
        a = self.asset
        rows = [("Visible to", esc(VISIBILITY_LABELS.get(a.visibility, a.visibility)))]
        if a.visibility == "group" and self.owner.can_edit:
            rows.append(("Users", esc(", ".join(whitelist(a))) or "—"))
        rows.append(("Billing mode", "Free"))
        rows.append(("Maximum duration", esc(duration_text(a.duration))))
        body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
        self.restrictions_html.value = f'<table class="gw-table gw-kv">{body}</table>'

    def fill(self) -> None:
        a = self.asset
        start = VISIBILITY_ORDER.index(a.visibility) if a.visibility in VISIBILITY_ORDER else 0
        self.edit_visibility.options = [(VISIBILITY_LABELS[v], v) for v in VISIBILITY_ORDER[start:]]
        self.edit_visibility.value = a.visibility
        self.edit_visibility.disabled = a.visibility == "public"
        hidden(self.edit_whitelist, a.visibility != "group")
        self.edit_whitelist.value = ", ".join(whitelist(a))
        self.edit_duration_on.value = a.duration is not None
        self.edit_duration_days.value = a.duration.days if a.duration else 30
        self.edit_auto_renew.value = bool(a.duration and a.duration.auto_renew)
        self._duration_enabled()

    def _duration_enabled(self) -> None:
        off = not self.edit_duration_on.value
        self.edit_duration_days.disabled = off
        self.edit_auto_renew.disabled = off

    def save(self):
        a = self.asset
        changes = {}
        if self.edit_visibility.value != a.visibility:
            changes["visibility"] = self.edit_visibility.value
        if names(self.edit_whitelist.value) != whitelist(a):
            changes["group_users"] = names(self.edit_whitelist.value)
        duration = (Duration(int(self.edit_duration_days.value), bool(self.edit_auto_renew.value))
                    if self.edit_duration_on.value else None)
        if duration != a.duration:
            changes["duration"] = duration
        return self.g.set_restrictions(self.content_id, **changes) if changes else None
