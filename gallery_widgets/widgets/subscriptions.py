"""SubscriptionsTable: My Subscriptions (SPEC M2, SUB3, SUB4; §5).

Per kind, with a keyword and a status filter; each row shows title, publisher, subscribed
at, status ("Subscribed" / "Subscription canceled" / "Expired") and remaining quota, with
Cancel (after a confirmation) / Retrieve / Import. Import opens the ImportPanel for an
algorithm or a model (version, kernel variable, Import; the line of Python under "Show code")
and, for a workflow, the line of Python and the ImportWorkflowDialog.
"""

from __future__ import annotations

import ipywidgets as w

from .common import Confirm, Messages, default_gallery, esc, quota, shows_errors, style, when
from .import_workflow import ImportWorkflowDialog, as_identifier, kernel_namespace
from .jobs import GAP_STYLE, hbox

KIND_OPTIONS = [("All", "all"), ("Algorithms", "algorithm"), ("Models", "model"), ("Workflows", "workflow")]
STATUS_OPTIONS = [("All", "all"), ("Active", "active"), ("Expired", "expired"), ("Cancelled", "cancelled")]
_KIND_LABELS = {"algorithm": "Algorithm", "model": "Model", "workflow": "Workflow"}

TABLE_STYLE = """
<style>
.gw-sub-row { border-bottom: 1px solid var(--jp-border-color2, #eaeef2); padding: 8px 4px; }
.gw-sub-row:hover { background: var(--jp-layout-color2, #f6f8fa); }
.gw-sub-meta { color: var(--jp-ui-font-color2, #656d76); font-size: 12px; }
.gw-sub-meta span { margin-right: 14px; }
.gw-pill { display: inline-block; font-size: 11px; font-weight: 600; border-radius: 10px; padding: 1px 8px; margin-left: 6px; }
.gw-pill-subscribed { background: #e8f5e9; color: #1b5e20; }
.gw-pill-canceled { background: #eceff1; color: #37474f; }
.gw-pill-expired { background: #fff3e0; color: #b45309; }
.gw-pill-kind { background: #ede9fe; color: #5b21b6; }
.gw-code textarea { font-family: var(--jp-code-font-family, monospace); font-size: 12px; }
</style>
""" + GAP_STYLE


def subscription_status(sub) -> str:
    """How the seed labels a subscription."""
    if sub.status == "cancelled":
        return "Subscription canceled"
    if sub.expired:
        return "Expired"
    return "Subscribed"


_PILLS = {"Subscribed": "gw-pill-subscribed", "Subscription canceled": "gw-pill-canceled", "Expired": "gw-pill-expired"}


def import_line(sub, gallery_name: str = "g") -> str:
    """The one line of Python that imports a subscribed asset into the kernel."""
    variable = as_identifier(sub.title, fallback=sub.kind)
    return f"{variable} = {gallery_name}.import_{sub.kind}({sub.content_id!r})"


class SubscriptionRow(w.HBox):
    """One subscription: what it is, where it stands, and what can be done with it."""

    def __init__(self, sub):
        super().__init__()
        self.subscription = sub
        self.content_id = sub.content_id
        self.status_text = subscription_status(sub)
        discontinued = (
            '<span class="gw-pill gw-pill-canceled">Discontinued</span>' if sub.asset_status != "released" else ""
        )
        self.info = w.HTML(
            f'<div><span class="gw-title">{esc(sub.title)}</span>'
            f'<span class="gw-pill gw-pill-kind">{esc(_KIND_LABELS.get(sub.kind, sub.kind))}</span>'
            f'<span class="gw-pill {_PILLS[self.status_text]}">{esc(self.status_text)}</span>{discontinued}</div>'
            f'<div class="gw-sub-meta"><span>Publisher <b>{esc(sub.publisher)}</b></span>'
            f"<span>Subscribed at {esc(when(sub.subscribed_at))}</span>"
            f"<span>Remaining quota <b>{esc(quota(sub))}</b></span>"
            + (f"<span>Expires {esc(when(sub.expires_at))}{' (auto-renew)' if sub.auto_renew else ''}</span>"
               if sub.expires_at else "")
            + "</div>"
        )
        self.info.layout = w.Layout(flex="1 1 auto")
        self.cancel_button = w.Button(description="Cancel Subscription", icon="times", layout=w.Layout(width="auto"),
                                      tooltip="Stop using it; you can retrieve it later under the same quota")
        self.cancel_button.add_class("gw-sub-cancel")
        self.retrieve_button = w.Button(description="Retrieve Subscription", icon="undo", button_style="info",
                                        layout=w.Layout(width="auto"), tooltip="Use it again under its original quota")
        self.retrieve_button.add_class("gw-sub-retrieve")
        self.import_button = w.Button(description="Import", icon="download", button_style="primary",
                                      tooltip="Use it in this notebook")
        self.import_button.add_class("gw-sub-import")
        active = sub.status == "active"
        self.cancel_button.layout.display = "" if active else "none"
        self.retrieve_button.layout.display = "" if sub.status == "cancelled" else "none"
        self.import_button.disabled = not sub.usable
        if not sub.usable:
            self.import_button.tooltip = (
                "Retrieve the subscription to import it again" if sub.status == "cancelled"
                else "The subscription expired; renew it from the asset's page"
            )
        self.children = [
            self.info,
            hbox([self.import_button, self.cancel_button, self.retrieve_button], gap=6, align_items="center",
                 flex="0 0 auto"),
        ]
        self.layout = w.Layout(align_items="center", width="100%")
        self.add_class("gw-sub-row")


class SubscriptionsTable(w.VBox):
    """My Subscriptions with filters, remaining quota and Cancel / Retrieve / Import (SPEC M2)."""

    def __init__(self, g=None, kind: str | None = None, *, namespace: dict | None = None):
        super().__init__()
        self._default_gallery = g is None
        self.g = default_gallery(g)
        self.namespace = namespace
        self.messages = Messages()
        self.rows: list[SubscriptionRow] = []
        self.import_dialog: ImportWorkflowDialog | None = None
        self.import_panel = None  # the ImportPanel of the algorithm or model being imported
        self.confirm = Confirm(self.messages)

        self.kind = w.ToggleButtons(options=KIND_OPTIONS, value=kind or "all", style={"button_width": "96px"})
        self.kind.add_class("gw-subs-kind")
        self.query = w.Text(placeholder="Enter a keyword (title or publisher)", continuous_update=False,
                            layout=w.Layout(width="300px"))
        self.query.add_class("gw-subs-query")
        self.status = w.Dropdown(options=STATUS_OPTIONS, value="all", description="Status",
                                 style={"description_width": "50px"}, layout=w.Layout(width="190px"))
        self.status.add_class("gw-subs-status")
        self.refresh_button = w.Button(icon="refresh", tooltip="Refresh", layout=w.Layout(width="40px"))
        self.count = w.HTML()
        self.list = w.VBox()
        self.list.add_class("gw-subs-list")
        self.import_code = w.Textarea(value="", rows=1, disabled=False, layout=w.Layout(width="100%", display="none"))
        self.import_code.add_class("gw-code")
        self.import_code.add_class("gw-subs-import-code")
        self.import_hint = w.HTML()
        self.dialog_area = w.VBox()

        for control in (self.kind, self.query, self.status):
            control.observe(lambda _change: self.refresh(), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())

        self.children = [
            style(),
            w.HTML(TABLE_STYLE),
            self.kind,
            hbox([self.status, self.query, self.refresh_button, self.count], gap=8, align_items="center",
                 margin="6px 0"),
            self.messages,
            self.confirm,
            self.list,
            self.import_hint,
            self.import_code,
            self.dialog_area,
        ]
        self.add_class("gw-root")
        self.add_class("gw-subscriptions")
        self.refresh()

    # -- data ------------------------------------------------------------------------
    @shows_errors
    def refresh(self) -> None:
        """Ask the gallery again with the current filters and rebuild the rows."""
        self.list.children = [w.HTML('<div class="gw-muted">Loading…</div>')]
        kind = None if self.kind.value == "all" else self.kind.value
        status = None if self.status.value == "all" else self.status.value
        query = self.query.value.strip() or None
        try:
            subscriptions = self.g.subscriptions(kind=kind, status=status, query=query)
        except Exception:
            self.list.children = []
            self.rows = []
            raise
        self.rows = [self._row(sub) for sub in subscriptions]
        if self.rows:
            self.list.children = self.rows
        elif kind is None and status is None and query is None:
            self.list.children = [w.HTML('<div class="gw-empty">No subscriptions yet. Subscribe to an asset in the '
                                         'market and it shows up here.</div>')]
        else:
            self.list.children = [w.HTML('<div class="gw-empty">No subscriptions match these filters.</div>')]
        self.count.value = f'<span class="gw-muted">{len(self.rows)} subscription{"s" if len(self.rows) != 1 else ""}</span>'

    def row(self, content_id: str) -> SubscriptionRow:
        """The row of one asset (for scripts and tests)."""
        for row in self.rows:
            if row.content_id == content_id:
                return row
        raise KeyError(f"No row for {content_id!r} with the current filters.")

    def _row(self, sub) -> SubscriptionRow:
        row = SubscriptionRow(sub)
        row.cancel_button.on_click(lambda _b, s=sub: self.ask_cancel(s))
        row.retrieve_button.on_click(lambda _b, cid=sub.content_id: self._retrieve(cid))
        row.import_button.on_click(lambda _b, s=sub: self._import(s))
        return row

    # -- actions -----------------------------------------------------------------------
    def ask_cancel(self, sub) -> None:
        """Say what cancelling does; cancel on OK (W4)."""
        until = f" (it runs until {when(sub.expires_at)})" if sub.expires_at else ""
        self.confirm.ask(
            f"Cancel your subscription to <b>{esc(sub.title)}</b>? You can no longer import or run it, and "
            "workflows you imported that use it stop at that step. You can retrieve it later under its "
            f"original quota{esc(until)}; cancelling does not extend it.",
            lambda: self._cancel(sub.content_id), ok_label="Cancel subscription")

    @shows_errors
    def _cancel(self, content_id: str) -> None:
        self.messages.clear()
        sub = self.g.cancel_subscription(content_id)
        self.refresh()
        self.messages.ok(
            f"Subscription to {sub.title!r} canceled: it can no longer be imported or run. "
            "Retrieve it to use it again under its original quota."
        )

    @shows_errors
    def _retrieve(self, content_id: str) -> None:
        self.messages.clear()
        sub = self.g.retrieve_subscription(content_id)
        self.refresh()
        self.messages.ok(f"Subscription to {sub.title!r} retrieved; remaining quota: {quota(sub)}.")

    @shows_errors
    def _import(self, sub) -> None:
        self.messages.clear()
        if self.import_dialog is not None:
            self.import_dialog.close()
            self.import_dialog = None
        if sub.kind != "workflow":  # straight into the kernel (W2); the line of code is an extra
            from .import_asset import ImportPanel

            self.import_code.layout.display = "none"
            self.import_hint.value = ""
            self.import_panel = ImportPanel(self.g, sub.content_id, sub.kind, sub.title, namespace=self.namespace,
                                            gallery_name=self._gallery_name())
            self.dialog_area.children = [self.import_panel]
            return
        self.import_code.value = import_line(sub, self._gallery_name())
        self.import_code.layout.display = ""
        self.import_hint.value = (
            f'<div class="gw-muted">Run this line in a cell to import <b>{esc(sub.title)}</b> '
            "(copy it from the box below), or use the dialog:</div>"
        )
        self.import_dialog = ImportWorkflowDialog(self.g, content_id=sub.content_id, namespace=self.namespace)
        self.dialog_area.children = [self.import_dialog]

    def _gallery_name(self) -> str:
        """The kernel variable that holds this table's gallery, for the import line."""
        namespace = kernel_namespace(self.namespace) or {}
        for name, value in namespace.items():
            if value is self.g and not name.startswith("_"):
                return name
        return "gw.open()" if self._default_gallery else "g"
