"""AssetDetail: the header (cover, title, counters, favorite toggle), the subscribe flow, Import
into the kernel / Run once usable, the admin's Official / Featured toggles, and the tabs — each
tab its own small widget (description.py, versions.py, restrictions.py, paper.py, code.py,
comments.py).

The page holds no business rules: it calls the service and draws what it returns; every error
the service raises is shown inline in ``messages``. Opening it calls ``g.asset`` exactly once
(that counts one view, SPEC S3); later changes are drawn from the ``Asset`` each call returns.
"""

from __future__ import annotations

import ipywidgets as w

from ...errors import AgreementRequired, GalleryError
from ..common import (
    Messages,
    badges,
    cover_html,
    cover_image_html,
    counters,
    default_gallery,
    esc,
    shows_errors,
    style,
    when,
)
from ..kernel_loop import KernelLoop
from .code import CodeTab
from .comments import CommentsTab
from .description import DescriptionTab
from .paper import PaperTab
from .parts import DETAIL_STYLE, hidden
from .restrictions import RestrictionsTab
from .subscribe import SubscribePanel
from .versions import VersionsTab

TABS = (DescriptionTab, VersionsTab, RestrictionsTab, PaperTab, CodeTab, CommentsTab)
TAB_NAMES = tuple(t.name for t in TABS)
EDITABLE_TABS = ("Description", "Versions", "Restrictions", "Paper", "Code")
IMPORTABLE = ("algorithm", "model")


class AssetDetail(w.VBox):
    """The details page of one asset.

    ``AssetDetail(g=None, content_id=…, on_back=None, namespace=None)``; with ``on_back`` a
    "← Back" button calls it; ``namespace`` is where Import binds the object (default: the
    IPython user namespace). Parts: ``favorite_button``, ``subscribe_button``,
    ``subscribe_panel`` (SubscribePanel), ``import_button`` and ``import_panel`` (an
    ImportPanel once opened), ``run_button``, ``official_toggle`` / ``featured_toggle``
    (admins), ``tabs`` and ``pages`` (tab name → its widget: ``description_tab``,
    ``versions_tab``, ``restrictions_tab``, ``paper_tab``, ``code_tab``, ``comments_tab``),
    ``edit_buttons`` / ``save_buttons`` / ``cancel_buttons`` (tab name → button), ``messages``
    and ``asset`` (the last ``Asset`` the service returned, None when it could not be opened).
    """

    def __init__(self, g=None, content_id: str | None = None, on_back=None, *, namespace: dict | None = None):
        super().__init__()
        self.add_class("gw-root")
        self.add_class("gw-detail")
        self.kernel = KernelLoop.here()
        self.g = default_gallery(g)
        self.content_id = content_id
        self.on_back = on_back
        self.namespace = namespace
        self.asset = None
        self.comments = None
        self._drawn = False
        self.can_edit = self.is_publisher = self.is_admin = False
        self.messages = Messages()
        self.pages: dict[str, w.Widget] = {}
        self.import_panel = None
        self.dialog = None
        self.back_button = None
        top = [style(), w.HTML(DETAIL_STYLE)]
        if on_back is not None:
            self.back_button = w.Button(description="← Back", layout=w.Layout(width="auto"))
            self.back_button.add_class("gw-back")
            self.back_button.on_click(lambda _b: on_back())
            top.append(self.back_button)
        self._top = tuple(top)
        self.children = self._top + (self.messages, w.HTML('<div class="gw-empty">⏳ Loading the asset…</div>'))
        if not (self._load() and self._show()):
            self.asset = None
            self.children = self._top + (self.messages,)

    @shows_errors
    def _load(self) -> bool:
        self.asset = self.g.asset(self.content_id)  # counts one view (SPEC S3): called once
        self.content_id = self.asset.content_id
        self.is_publisher = self.asset.publisher == self.g.username
        self.is_admin = self.g.me.role == "admin"
        self.can_edit = self.is_publisher or self.is_admin  # P10: the publisher or an admin
        return True

    @shows_errors
    def _show(self) -> bool:
        self._build_header()
        self.subscribe_panel = SubscribePanel(self._on_continue)
        self.import_area = w.VBox([])
        self.import_area.add_class("gw-import-area")
        self.dialog_area = w.VBox([])
        self.dialog_area.add_class("gw-dialog-area")
        # A tab is built when it is first shown (a viewer opens the page faster, SPEC speed target);
        # for who may edit, all are built at once so every Edit button is there.
        self.pages = {}
        self.edit_buttons, self.save_buttons, self.cancel_buttons = {}, {}, {}
        self.tabs = w.Tab(children=[w.Box() for _ in TAB_NAMES])
        self.tabs.titles = TAB_NAMES
        self.tabs.add_class("gw-detail-tabs")
        self.tabs.observe(self._on_tab, names="selected_index")
        self.children = self._top + (self.header, self.messages, self.subscribe_panel, self.import_area,
                                     self.dialog_area, self.tabs)
        self._load_comments()
        for name in TAB_NAMES if self.can_edit else TAB_NAMES[:1]:
            self.page(name)
        self._render()
        self._drawn = True
        return True

    def page(self, name: str):
        """The widget of tab ``name``, built (and drawn) the first time it is asked for."""
        if name not in self.pages:
            tab = TABS[TAB_NAMES.index(name)](self)
            self.pages[name] = tab
            for buttons, button in ((self.edit_buttons, tab.edit_button), (self.save_buttons, tab.save_button),
                                    (self.cancel_buttons, tab.cancel_button)):
                if button is not None:
                    buttons[name] = button
            children = list(self.tabs.children)
            children[TAB_NAMES.index(name)] = tab
            self.tabs.children = tuple(children)
            if self._drawn:  # built after the page was drawn: draw it now
                tab.render()
        return self.pages[name]

    description_tab = property(lambda self: self.page("Description"))
    versions_tab = property(lambda self: self.page("Versions"))
    restrictions_tab = property(lambda self: self.page("Restrictions"))
    paper_tab = property(lambda self: self.page("Paper"))
    code_tab = property(lambda self: self.page("Code"))
    comments_tab = property(lambda self: self.page("Comments"))

    def _load_comments(self) -> None:
        """Read the comments (a query of its own; an edit of the asset does not change them)."""
        try:
            self.comments = self.g.comments(self.content_id)
        except GalleryError as exc:
            self.comments = None
            self.messages.error(str(exc))

    def _build_header(self) -> None:
        self.cover = w.HTML(layout=w.Layout(width="200px", min_width="200px"))
        self.cover.add_class("gw-detail-cover")
        self.title_html = w.HTML()
        self.title_html.add_class("gw-detail-title")
        self.meta_html, self.summary_html, self.counters_html = w.HTML(), w.HTML(), w.HTML()
        self.counters_html.add_class("gw-detail-counters")
        info = w.VBox([self.title_html, self.meta_html, self.summary_html, self.counters_html],
                      layout=w.Layout(flex="1 1 auto", min_width="0"))
        info.add_class("gw-header-info")
        self.favorite_button = w.Button(layout=w.Layout(width="auto"))
        self.favorite_button.add_class("gw-favorite")
        self.favorite_button.on_click(self._on_favorite)
        wide = w.Layout(width="170px")
        self.subscribe_button = w.Button(description="Subscribe", button_style="primary", layout=wide)
        self.subscribe_button.add_class("gw-subscribe")
        self.subscribe_button.on_click(self._on_subscribe)
        self.import_button = w.Button(description="Import", icon="download", layout=w.Layout(width="170px"),
                                      tooltip="Import it into this kernel")
        self.import_button.add_class("gw-import")
        self.import_button.on_click(self._on_import)
        self.run_button = w.Button(description="Run", icon="play", button_style="success",
                                   layout=w.Layout(width="170px"), tooltip="Import this workflow and run it")
        self.run_button.add_class("gw-run")
        self.run_button.on_click(self._on_run)
        self.status_html = w.HTML()
        self.status_html.add_class("gw-subscription-status")
        # SPEC S: official and featured are set by an admin only (the service refuses anyone else);
        # the toggles exist only on an admin's page
        self.official_toggle = self.featured_toggle = None
        self.admin_flags = w.HBox([])
        self.admin_flags.add_class("gw-admin-flags")
        if self.is_admin:
            self.official_toggle = w.ToggleButton(description="Official", icon="certificate",
                                                  layout=w.Layout(width="auto"))
            self.official_toggle.add_class("gw-official-toggle")
            self.featured_toggle = w.ToggleButton(description="Featured", icon="star", layout=w.Layout(width="auto"))
            self.featured_toggle.add_class("gw-featured-toggle")
            self.official_toggle.observe(lambda c: self._on_flag("official", c["new"]), names="value")
            self.featured_toggle.observe(lambda c: self._on_flag("featured", c["new"]), names="value")
            self.admin_flags.children = (self.official_toggle, self.featured_toggle)
        hidden(self.admin_flags, not self.is_admin)
        actions = w.VBox([self.favorite_button, self.subscribe_button, self.import_button, self.run_button,
                          self.status_html, self.admin_flags], layout=w.Layout(align_items="flex-end", min_width="180px"))
        actions.add_class("gw-actions")
        self.header = w.HBox([self.cover, info, actions],
                             layout=w.Layout(align_items="flex-start", padding="6px 0 10px 0"))
        self.header.add_class("gw-detail-header")

    @property
    def usable(self) -> bool:
        """The asset can be imported / run now: you publish it, or your subscription is active."""
        return bool(self.asset) and (self.can_edit or self.asset.subscription_status == "active")

    # -- tabs -------------------------------------------------------------------------------
    def show_tab(self, name: str) -> None:
        self.tabs.selected_index = TAB_NAMES.index(name)

    def tab_shown(self, name: str) -> bool:
        return self.tabs.selected_index == TAB_NAMES.index(name)

    def _on_tab(self, change) -> None:
        if change["new"] is None:
            return
        page = self.page(TAB_NAMES[change["new"]])
        if page.name == "Code" and page.readable and self.asset.kind == "algorithm":
            page.load_code()

    def start_edit(self, name: str) -> None:
        self.pages[name].start_edit()

    def stop_edit(self, name: str) -> None:
        self.pages[name].stop_edit()

    def editing(self, name: str) -> bool:
        return self.pages[name].editing

    def retitle(self) -> None:
        titles = list(TAB_NAMES)
        total = self.comments.total if self.comments is not None else 0
        titles[TAB_NAMES.index("Comments")] = f"Comments ({total})" if total else "Comments"
        self.tabs.titles = tuple(titles)

    # -- drawing ---------------------------------------------------------------------------
    def apply(self, asset) -> None:
        """Draw a new ``Asset`` returned by the service (every part but the comments)."""
        self.asset = asset
        self._render(comments=False)

    def _render(self, *, comments: bool = True) -> None:
        self._render_header()
        self._render_actions()
        for name, page in list(self.pages.items()):
            if comments or name != "Comments":
                page.render()
        self.retitle()

    def _render_header(self) -> None:
        a = self.asset
        data = None
        if a.cover:
            try:
                data = self.g.cover_image(a.content_id)
            except Exception:  # noqa: BLE001 - a missing cover falls back to the generated one
                data = None
        self.cover.value = cover_image_html(data, height=112) if data else cover_html(a, height=112)
        self.title_html.value = f'<div class="gw-h1">{esc(a.title)}</div><div>{badges(a)}</div>'
        publisher = a.publisher_nickname or a.publisher
        who = esc(publisher) + (f" ({esc(a.publisher)})" if publisher != a.publisher else "")
        latest = a.latest_version
        chips = "".join(f'<span class="gw-chip">{esc(c)}</span>' for c in a.categories)
        self.meta_html.value = (
            f'<div class="gw-muted gw-meta">{esc(a.kind.capitalize())} · by <b>{who}</b> · published '
            f"{esc(when(a.published_at))}"
            + (f" · latest version {esc(latest.version)}" if latest else "")
            + f" · id <code>{esc(a.content_id)}</code></div>"
            + (f"<div>{chips}</div>" if chips else "")
        )
        self.summary_html.value = f'<div class="gw-summary">{esc(a.summary) or "<i>No summary yet.</i>"}</div>'
        self.counters_html.value = counters(a)
        star = "★" if a.favorited else "☆"
        self.favorite_button.description = f"{star} {a.favorites:,}"
        self.favorite_button.tooltip = "Remove from My Favorites" if a.favorited else "Add to My Favorites"
        self.favorite_button.button_style = "warning" if a.favorited else ""
        if self.official_toggle is not None:
            self._drawing_flags = True  # drawing the toggles must not call the service back
            try:
                self.official_toggle.value = bool(a.official)
                self.featured_toggle.value = bool(a.featured)
            finally:
                self._drawing_flags = False

    def _render_actions(self) -> None:
        a = self.asset
        state = a.subscription_status
        button = self.subscribe_button
        if self.can_edit:
            hidden(button)
            who = "You publish this asset" if self.is_publisher else "You manage this asset as a gallery admin"
            self.status_html.value = f'<span class="gw-muted">{who}</span>'
        else:
            hidden(button, False)
            labels = {
                None: ("Subscribe", "primary", False, "plus"),
                "active": ("Subscribed", "success", True, "check"),
                "expired": ("Renew subscription", "primary", False, "refresh"),
                "cancelled": ("Retrieve subscription", "info", False, "undo"),
            }
            button.description, button.button_style, button.disabled, button.icon = labels.get(state, labels[None])
            notes = {"expired": "Your subscription expired", "cancelled": "Subscription canceled"}
            self.status_html.value = f'<span class="gw-muted">{notes[state]}</span>' if state in notes else ""
        usable = self.usable
        hidden(self.import_button, not (usable and a.kind in IMPORTABLE))
        hidden(self.run_button, not (usable and a.kind == "workflow"))
        if not usable:
            self.import_area.children = ()
            self.import_panel = None
            self.dialog_area.children = ()

    # -- favorite / subscribe / import / run / admin flags ----------------------------------
    @shows_errors
    def _on_favorite(self, _button=None) -> None:
        self.messages.clear()
        call = self.g.unfavorite if self.asset.favorited else self.g.favorite
        self.apply(call(self.content_id))

    @shows_errors
    def _on_subscribe(self, _button=None) -> None:
        self.messages.clear()
        if self.asset.subscription_status == "cancelled":
            self._subscribed(self.g.retrieve_subscription(self.content_id))
            self.messages.ok("Subscription retrieved under its original quota.")
            return
        try:  # nothing to accept (an official asset without constraints) subscribes at once
            subscription = self.g.subscribe(self.content_id)
        except AgreementRequired as exc:
            self.subscribe_panel.ask(exc.missing, self.asset, lambda: self.g.constraints(self.content_id),
                                     self.g.agreements())
            return
        self._subscribed(subscription)

    @shows_errors
    def _on_continue(self, _button=None) -> None:
        self.messages.clear()
        panel = self.subscribe_panel
        subscription = self.g.subscribe(self.content_id, accept_constraints=bool(panel.accept_constraints.value),
                                        accept_agreements=bool(panel.accept_agreements.value))
        self._subscribed(subscription)

    def _subscribed(self, subscription) -> None:
        state = "expired" if subscription.expired else subscription.status
        # Fresh counters from the service, without counting another view (SPEC S3).
        self.asset = self.g.asset(self.content_id, count_view=False)
        hidden(self.subscribe_panel)
        self._render_header()
        self._render_actions()
        if "Code" in self.pages:
            self.code_tab.render()
        if state == "active":
            left = ("unlimited" if subscription.remaining_days is None
                    else f"{subscription.remaining_days} day{'s' if subscription.remaining_days != 1 else ''} left")
            self.status_html.value = f'<span class="gw-muted">Subscribed · {left}</span>'
            if not self.messages.value:
                self.messages.ok(f"Subscribed to {self.asset.title} ({left}).")

    @shows_errors
    def _on_import(self, _button=None) -> None:
        """Open the import panel: version, kernel variable, Import (rule W2)."""
        from ..import_asset import ImportPanel

        if self.import_panel is None:
            a = self.asset
            self.import_panel = ImportPanel(self.g, a.content_id, a.kind, a.title, a.versions,
                                            namespace=self.namespace)
            close = w.Button(description="Close", layout=w.Layout(width="auto"))
            close.on_click(lambda _b: hidden(self.import_area))
            self.import_area.children = (self.import_panel, w.HBox([close]))
        hidden(self.import_area, False)

    @shows_errors
    def _on_run(self, _button=None) -> None:
        from ..import_workflow import ImportWorkflowDialog

        self.messages.clear()
        self.dialog = ImportWorkflowDialog(self.g, content_id=self.content_id, namespace=self.namespace)
        self.dialog_area.children = (self.dialog,)

    @shows_errors
    def _on_flag(self, flag: str, value: bool) -> None:
        if getattr(self, "_drawing_flags", False) or self.asset is None or bool(getattr(self.asset, flag)) == value:
            return
        self.messages.clear()
        try:
            self.apply(getattr(self.g, f"set_{flag}")(self.content_id, value))
        finally:
            self._render_header()  # the toggle shows what the service holds, also after a refusal
        self.messages.ok(f"{self.asset.title} is {'now' if value else 'no longer'} {flag}.")
