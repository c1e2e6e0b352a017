"""An asset's details page (SPEC §5 AssetDetail): header with counters and the favorite
toggle, the subscribe flow (constraints → agreements → Subscribed), Import / Run once
usable, and the tabs Description, Versions, Restrictions, Paper, Code and Comments —
each (but Comments) with an Edit form for the publisher.

The widget holds no business rules: it calls the service and draws what it returns;
every error the service raises is shown inline in ``messages``. Opening it calls
``g.asset`` exactly once (that counts one view, SPEC S3); later changes are drawn from
the ``Asset`` each edit call returns.
"""

from __future__ import annotations

import re

import ipywidgets as w

from ..core import agreements
from ..core.taxonomy import all_categories
from ..core.validate import LICENSES
from ..entities import Duration, Paper
from ..errors import AgreementRequired, GalleryError
from .common import (
    Messages,
    badges,
    counters,
    cover_html,
    default_gallery,
    esc,
    in_background,
    shows_errors,
    style,
    when,
)
from .market import MARKET_STYLE, cover_image_html, row

TAB_NAMES = ("Description", "Versions", "Restrictions", "Paper", "Code", "Comments")
EDITABLE_TABS = ("Description", "Versions", "Restrictions", "Paper", "Code")
VISIBILITY_ORDER = ("private", "group", "public")
VISIBILITY_LABELS = {"private": "Only me", "group": "Specific users", "public": "Public"}
IMPORT_CALLS = {"algorithm": ("algo", "import_algorithm"), "model": ("model", "import_model")}
COMMENT_LIMIT = 2_000

DETAIL_STYLE = """
<style>
.gw-detail .gw-header-info { padding: 0 14px; }
.gw-detail .gw-meta { margin: 2px 0 6px 0; }
.gw-detail .gw-summary { font-size: 14px; margin: 4px 0 8px 0; }
.gw-detail .gw-panel { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 10px; padding: 10px 14px;
  margin: 8px 0; background: var(--jp-layout-color1, #fff); }
.gw-detail .gw-panel, .gw-detail .gw-tab-page { overflow-x: hidden; }
.gw-detail .gw-agreement { border-left: 3px solid #d0d7de; padding: 4px 10px; margin: 6px 0; font-size: 13px; }
.gw-detail .gw-agreement b { display: block; margin-bottom: 2px; }
.gw-detail .gw-comment { border-bottom: 1px solid #eaeef2; padding: 6px 0; }
.gw-detail .gw-comment-text { white-space: pre-wrap; font-size: 13px; margin-top: 2px; }
.gw-detail pre.gw-code { background: #f6f8fa; border-radius: 6px; padding: 8px 10px; font-size: 12px;
  max-height: 360px; overflow: auto; white-space: pre; }
.gw-detail .gw-kv td:first-child { color: var(--jp-ui-font-color2, #656d76); width: 160px; }
.gw-chip { display: inline-block; font-size: 11px; border-radius: 10px; padding: 1px 8px; margin: 0 4px 2px 0;
  background: #f1f3f5; color: #374151; }
</style>
"""


def _hidden(widget, hidden: bool = True):
    widget.layout.display = "none" if hidden else None
    return widget


def _is_hidden(widget) -> bool:
    return widget.layout.display == "none"


def _names(text: str) -> list[str]:
    """Usernames typed into a text box, separated by commas, semicolons or spaces."""
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def _constraints_html(constraints) -> str:
    if constraints is None or constraints.empty:
        return '<span class="gw-muted">None</span>'
    parts = []
    if constraints.python:
        parts.append(f"Python {esc(constraints.python)}")
    if constraints.requirements:
        parts.append("packages " + ", ".join(f"<code>{esc(r)}</code>" for r in constraints.requirements))
    if constraints.resources:
        parts.append("resources " + ", ".join(f"{esc(k)}={esc(v)}" for k, v in constraints.resources.items()))
    return "<br>".join(parts)


def _duration_text(duration) -> str:
    if duration is None:
        return "Unlimited"
    text = f"{duration.days} day{'s' if duration.days != 1 else ''}"
    return text + (", auto-renew" if duration.auto_renew else "")


class AssetDetail(w.VBox):
    """The details page of one asset.

    ``AssetDetail(g=None, content_id=…, on_back=None)``; with ``on_back`` a "← Back"
    button calls it. Parts tests and notebooks drive: ``favorite_button``,
    ``subscribe_button``, ``accept_constraints``, ``accept_agreements``,
    ``continue_button``, ``import_button``, ``import_code``, ``run_button``, ``tabs``,
    ``comment_text``, ``post_button``, ``comments_box``, ``edit_buttons`` /
    ``save_buttons`` / ``cancel_buttons`` (tab name → button), the edit form widgets
    (``edit_title``, ``edit_summary``, ``edit_description``, ``edit_categories``,
    ``edit_cover``, ``remove_cover``, ``version_descriptions``, ``version_whitelists``,
    ``discontinue_buttons``, ``edit_visibility``, ``edit_whitelist``,
    ``edit_duration_on``, ``edit_duration_days``, ``edit_auto_renew``,
    ``edit_paper_title``, ``edit_paper_url``, ``edit_code_open``, ``edit_license``),
    ``messages`` and ``asset`` (the last ``Asset`` the service returned, None when it
    could not be opened).
    """

    def __init__(self, g=None, content_id: str | None = None, on_back=None):
        super().__init__()
        self.add_class("gw-root")
        self.add_class("gw-detail")
        self.g = default_gallery(g)
        self.content_id = content_id
        self.on_back = on_back
        self.asset = None
        self.comments = None
        self.can_edit = False
        self.is_publisher = False
        self.messages = Messages()
        self.edit_buttons: dict[str, w.Button] = {}
        self.save_buttons: dict[str, w.Button] = {}
        self.cancel_buttons: dict[str, w.Button] = {}
        self.version_descriptions: dict[str, w.Text] = {}
        self.version_whitelists: dict[str, w.Text] = {}
        self.discontinue_buttons: dict[str, w.Button] = {}
        self.code_thread = None
        self._code_handle = None
        self._code_loaded = False
        self.back_button = None
        self.dialog = None
        top = [style(), w.HTML(MARKET_STYLE + DETAIL_STYLE)]
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
    def _show(self) -> bool:
        self._build()
        self._render()
        return True

    # -- loading ------------------------------------------------------------------------------
    @shows_errors
    def _load(self) -> bool:
        self.asset = self.g.asset(self.content_id)  # counts one view (SPEC S3): called once
        self.content_id = self.asset.content_id
        self.is_publisher = self.asset.publisher == self.g.username
        self.can_edit = self.is_publisher or self.g.me.role == "admin"  # P10: the publisher or an admin
        try:
            self.comments = self.g.comments(self.content_id)
        except GalleryError as exc:
            self.messages.error(str(exc))
        return True

    @property
    def usable(self) -> bool:
        """The asset can be imported / run now: you publish it, or your subscription is active."""
        return bool(self.asset) and (self.can_edit or self.asset.subscription_status == "active")

    # -- building -----------------------------------------------------------------------------
    def _build(self) -> None:
        self._build_header()
        self._build_subscribe_panel()
        self._build_import_panel()
        self.dialog_area = w.VBox([])
        self.dialog_area.add_class("gw-dialog-area")
        self._build_tabs()
        self.children = self._top + (
            self.header, self.messages, self.subscribe_panel, self.import_panel, self.dialog_area, self.tabs,
        )

    def _build_header(self) -> None:
        self.cover = w.HTML(layout=w.Layout(width="200px", min_width="200px"))
        self.cover.add_class("gw-detail-cover")
        self.title_html = w.HTML()
        self.title_html.add_class("gw-detail-title")
        self.meta_html = w.HTML()
        self.summary_html = w.HTML()
        self.counters_html = w.HTML()
        self.counters_html.add_class("gw-detail-counters")
        info = w.VBox([self.title_html, self.meta_html, self.summary_html, self.counters_html],
                      layout=w.Layout(flex="1 1 auto", min_width="0"))
        info.add_class("gw-header-info")
        self.favorite_button = w.Button(layout=w.Layout(width="auto"))
        self.favorite_button.add_class("gw-favorite")
        self.favorite_button.on_click(self._on_favorite)
        self.subscribe_button = w.Button(description="Subscribe", button_style="primary",
                                         layout=w.Layout(width="170px"))
        self.subscribe_button.add_class("gw-subscribe")
        self.subscribe_button.on_click(self._on_subscribe)
        self.import_button = w.Button(description="Import", icon="download", layout=w.Layout(width="170px"),
                                      tooltip="Show the line of Python that imports it into this kernel")
        self.import_button.add_class("gw-import")
        self.import_button.on_click(self._on_import)
        self.run_button = w.Button(description="Run", icon="play", button_style="success",
                                   layout=w.Layout(width="170px"), tooltip="Import this workflow and run it")
        self.run_button.add_class("gw-run")
        self.run_button.on_click(self._on_run)
        self.status_html = w.HTML()
        self.status_html.add_class("gw-subscription-status")
        actions = w.VBox([self.favorite_button, self.subscribe_button, self.import_button, self.run_button,
                          self.status_html], layout=w.Layout(align_items="flex-end", min_width="180px"))
        actions.add_class("gw-actions")
        self.header = w.HBox([self.cover, info, actions],
                             layout=w.Layout(align_items="flex-start", padding="6px 0 10px 0"))
        self.header.add_class("gw-detail-header")

    def _build_subscribe_panel(self) -> None:
        self.constraints_html = w.HTML()
        self.accept_constraints = w.Checkbox(value=False, description="I accept the constraints", indent=False,
                                             layout=w.Layout(width="auto"))
        self.accept_constraints.add_class("gw-accept-constraints")
        self.agreements_html = w.HTML()
        self.accept_agreements = w.Checkbox(value=False, description="I have read and agree", indent=False,
                                            layout=w.Layout(width="auto"))
        self.accept_agreements.add_class("gw-accept-agreements")
        self.continue_button = w.Button(description="Continue", button_style="primary")
        self.continue_button.add_class("gw-continue")
        self.continue_button.on_click(self._on_continue)
        self.close_subscribe_button = w.Button(description="Cancel")
        self.close_subscribe_button.on_click(lambda _b: _hidden(self.subscribe_panel))
        self._constraints_part = w.VBox([self.constraints_html, self.accept_constraints])
        self._agreements_part = w.VBox([self.agreements_html, self.accept_agreements])
        self.subscribe_panel = w.VBox([
            w.HTML('<div class="gw-title">Subscribe</div>'),
            self._constraints_part,
            self._agreements_part,
            row([self.continue_button, self.close_subscribe_button]),
        ])
        self.subscribe_panel.add_class("gw-panel")
        self.subscribe_panel.add_class("gw-subscribe-panel")
        _hidden(self.subscribe_panel)

    def _build_import_panel(self) -> None:
        self.import_code = w.Textarea(value="", rows=1, layout=w.Layout(width="100%"))
        self.import_code.add_class("gw-import-code")
        close = w.Button(description="Close", layout=w.Layout(width="auto"))
        close.on_click(lambda _b: _hidden(self.import_panel))
        self.import_panel = w.VBox([
            w.HTML('<div class="gw-title">Copy the import code</div>'
                   '<div class="gw-muted">Paste it into a notebook cell; <code>g</code> is your gallery '
                   "(<code>g = gw.open()</code>).</div>"),
            self.import_code,
            close,
        ])
        self.import_panel.add_class("gw-panel")
        self.import_panel.add_class("gw-import-panel")
        _hidden(self.import_panel)

    def _tab_page(self, name: str, view: w.Widget, form: w.Widget | None) -> w.VBox:
        parts = []
        if form is not None and self.can_edit:
            edit = w.Button(description="Edit", icon="pencil", layout=w.Layout(width="auto"))
            edit.add_class("gw-edit")
            edit.on_click(lambda _b, n=name: self.start_edit(n))
            self.edit_buttons[name] = edit
            save = w.Button(description="Save", button_style="primary")
            save.add_class("gw-save")
            save.on_click(lambda _b, n=name: self._save(n))
            cancel = w.Button(description="Cancel")
            cancel.on_click(lambda _b, n=name: self.stop_edit(n))
            self.save_buttons[name], self.cancel_buttons[name] = save, cancel
            parts.append(w.HBox([edit], layout=w.Layout(justify_content="flex-end")))
            parts.append(view)
            form_box = w.VBox([form, row([save, cancel], margin="6px 0 0 0")])
            form_box.add_class("gw-edit-form")
            self._forms[name] = _hidden(form_box)
            parts.append(form_box)
        else:
            parts.append(view)
        page = w.VBox(parts, layout=w.Layout(padding="8px 4px"))
        page.add_class("gw-tab-page")
        page.add_class(f"gw-tab-{name.lower()}")
        self._views[name] = view
        return page

    def _build_tabs(self) -> None:
        self._forms: dict[str, w.VBox] = {}
        self._views: dict[str, w.Widget] = {}
        wide = w.Layout(width="100%")
        label = {"description_width": "110px"}

        # Description (and the header's title, summary, categories and cover)
        self.description_html = w.HTML()
        self.description_html.add_class("gw-description")
        self.edit_title = w.Text(description="Title", layout=wide, style=label)
        self.edit_summary = w.Text(description="Summary", layout=wide, style=label)
        self.edit_categories = w.TagsInput(allowed_tags=list(all_categories()), allow_duplicates=False,
                                           placeholder="add a category (Dimension/Leaf)")
        self.edit_cover = w.FileUpload(accept=".png,.jpg,.jpeg", multiple=False, description="Upload cover")
        self.remove_cover = w.Checkbox(description="Remove the cover", indent=False)
        self.edit_description = w.Textarea(description="Description", rows=12, layout=wide, style=label,
                                           placeholder="Markdown: background, introduction, usage, constraints…")
        description_form = w.VBox([
            self.edit_title, self.edit_summary,
            w.HBox([w.Label("Categories", layout=w.Layout(width="110px")), self.edit_categories]),
            row([w.Label("Cover", layout=w.Layout(width="110px")), self.edit_cover, self.remove_cover,
                 w.HTML('<span class="gw-muted">PNG or JPEG ≤ 1 MiB, 360×200 recommended</span>')],
                align_items="center"),
            self.edit_description,
        ])

        # Versions
        self.versions_html = w.HTML()
        self.versions_form = w.VBox([])

        # Restrictions
        self.restrictions_html = w.HTML()
        self.edit_visibility = w.Dropdown(description="Visible to", style=label)
        self.edit_whitelist = w.Text(description="Users", style=label, layout=wide,
                                     placeholder="usernames, separated by commas (for Specific users)")
        self.edit_visibility.observe(
            lambda change: _hidden(self.edit_whitelist, change["new"] != "group"), names="value")
        self.edit_duration_on = w.Checkbox(description="Limit the free duration", indent=False)
        self.edit_duration_days = w.BoundedIntText(value=30, min=1, max=36_500, description="Days", style=label)
        self.edit_auto_renew = w.Checkbox(description="Auto-renew", indent=False)
        self.edit_duration_on.observe(lambda _c: self._duration_enabled(), names="value")
        restrictions_form = w.VBox([
            self.edit_visibility,
            w.HTML('<span class="gw-muted">Visibility can only be widened: Only me → Specific users → Public.</span>'),
            self.edit_whitelist,
            row([self.edit_duration_on, self.edit_duration_days, self.edit_auto_renew], align_items="center"),
        ])

        # Paper
        self.paper_html = w.HTML()
        self.edit_paper_title = w.Text(description="Title", layout=wide, style=label)
        self.edit_paper_url = w.Text(description="Link", layout=wide, style=label, placeholder="https://…")
        paper_form = w.VBox([self.edit_paper_title, self.edit_paper_url,
                             w.HTML('<span class="gw-muted">Leave both empty to remove the paper.</span>')])

        # Code
        self.code_html = w.HTML()
        self.code_files = w.Dropdown(options=[], description="File", layout=w.Layout(width="420px"))
        self.code_files.observe(self._on_code_file, names="value")
        self.code_preview = w.HTML()
        self.code_preview.add_class("gw-code-preview")
        self.code_area = w.VBox([self.code_files, self.code_preview])
        _hidden(self.code_area)
        code_view = w.VBox([self.code_html, self.code_area])
        self.edit_code_open = w.Checkbox(description="Open source code", indent=False)
        self.edit_license = w.Dropdown(options=list(LICENSES), description="License", style=label)
        code_form = w.VBox([self.edit_code_open, self.edit_license])

        # Comments
        self.comments_box = w.VBox([])
        self.comments_box.add_class("gw-comments")
        self.comment_text = w.Textarea(placeholder="Write a comment (plain text, up to 2,000 characters)",
                                       rows=3, layout=wide)
        self.comment_text.add_class("gw-comment-text")
        self.comment_count = w.HTML()
        self.post_button = w.Button(description="Post", button_style="primary", icon="paper-plane")
        self.post_button.add_class("gw-post")
        self.post_button.on_click(self._on_post)
        self.comment_text.observe(lambda _c: self._count_comment(), names="value")
        comments_view = w.VBox([
            self.comment_text,
            w.HBox([self.comment_count, self.post_button],
                   layout=w.Layout(justify_content="space-between", align_items="center")),
            self.comments_box,
        ])

        pages = [
            self._tab_page("Description", self.description_html, description_form),
            self._tab_page("Versions", self.versions_html, self.versions_form),
            self._tab_page("Restrictions", self.restrictions_html, restrictions_form),
            self._tab_page("Paper", self.paper_html, paper_form),
            self._tab_page("Code", code_view, code_form),
            self._tab_page("Comments", comments_view, None),
        ]
        self.tabs = w.Tab(children=pages)
        self.tabs.titles = TAB_NAMES
        self.tabs.add_class("gw-detail-tabs")
        self.tabs.observe(self._on_tab, names="selected_index")

    # -- drawing ------------------------------------------------------------------------------
    def _render(self, *, comments: bool = True) -> None:
        self._render_header()
        self._render_actions()
        self._render_description()
        self._render_versions()
        self._render_restrictions()
        self._render_paper()
        self._render_code()
        if comments:  # comments are a query of their own; an edit does not change them
            self._render_comments()

    def _render_header(self) -> None:
        a = self.asset
        data = None
        if a.cover:
            try:
                data = self.g.cover_image(a.content_id)
            except GalleryError:
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

    def _render_actions(self) -> None:
        a = self.asset
        state = a.subscription_status
        button = self.subscribe_button
        if self.can_edit:
            _hidden(button)
            who = "You publish this asset" if self.is_publisher else "You manage this asset as a gallery admin"
            self.status_html.value = f'<span class="gw-muted">{who}</span>'
        else:
            _hidden(button, False)
            labels = {
                None: ("Subscribe", "primary", False, "plus"),
                "active": ("Subscribed", "success", True, "check"),
                "expired": ("Renew subscription", "primary", False, "refresh"),
                "cancelled": ("Retrieve subscription", "info", False, "undo"),
            }
            button.description, button.button_style, button.disabled, button.icon = labels.get(
                state, labels[None])
            notes = {
                "expired": "Your subscription expired",
                "cancelled": "Subscription canceled",
            }
            self.status_html.value = (f'<span class="gw-muted">{notes[state]}</span>' if state in notes else "")
        usable = self.usable
        importable = a.kind in IMPORT_CALLS
        _hidden(self.import_button, not (usable and importable))
        _hidden(self.run_button, not (usable and a.kind == "workflow"))
        if usable and importable:
            name, call = IMPORT_CALLS[a.kind]
            self.import_code.value = f'{name} = g.{call}("{a.content_id}")'
        else:
            self.import_code.value = ""
            _hidden(self.import_panel)
        if not usable:
            self.dialog_area.children = ()

    def _render_description(self) -> None:
        a = self.asset
        body = a.description_html.strip() if a.description_html else ""
        self.description_html.value = (
            f'<div class="gw-description">{body}</div>' if body
            else '<div class="gw-empty">No description yet.</div>'
        )

    def _render_versions(self) -> None:
        a = self.asset
        if not a.versions:
            self.versions_html.value = '<div class="gw-empty">No version is available to you.</div>'
            return
        show_whitelist = a.visibility == "group" and self.can_edit
        show_steps = a.kind == "workflow"
        head = "<tr><th>Version</th><th>Published at</th><th>Status</th><th>Description</th><th>Constraints</th>"
        head += "<th>Whitelist</th>" if show_whitelist else ""
        head += "<th>Steps</th>" if show_steps else ""
        rows = []
        for v in a.versions:
            line = (f"<tr><td><b>{esc(v.version)}</b></td><td>{esc(when(v.published_at))}</td>"
                    f"<td>{esc(v.status.capitalize())}</td><td>{esc(v.description) or '—'}</td>"
                    f"<td>{_constraints_html(v.constraints)}</td>")
            if show_whitelist:
                line += f"<td>{esc(', '.join(v.whitelist)) or '—'}</td>"
            if show_steps:
                line += f"<td>{'<br>'.join(f'<code>{esc(d)}</code>' for d in v.dependencies) or '—'}</td>"
            rows.append(line + "</tr>")
        self.versions_html.value = f'<table class="gw-table gw-versions">{head}</tr>{"".join(rows)}</table>'

    def _whitelist(self) -> list[str]:
        users: list[str] = []
        for version in self.asset.versions:
            users.extend(u for u in version.whitelist if u not in users)
        return users

    def _render_restrictions(self) -> None:
        a = self.asset
        visible = VISIBILITY_LABELS.get(a.visibility, a.visibility)
        rows = [("Visible to", esc(visible))]
        if a.visibility == "group" and self.can_edit:
            rows.append(("Users", esc(", ".join(self._whitelist())) or "—"))
        rows.append(("Billing mode", "Free"))
        rows.append(("Maximum duration", esc(_duration_text(a.duration))))
        body = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in rows)
        self.restrictions_html.value = f'<table class="gw-table gw-kv">{body}</table>'

    def _render_paper(self) -> None:
        paper = self.asset.paper
        if paper is None:
            self.paper_html.value = '<div class="gw-empty">No paper linked.</div>'
            return
        self.paper_html.value = (
            f'<table class="gw-table gw-kv"><tr><td>Title</td><td>{esc(paper.title)}</td></tr>'
            f'<tr><td>Link</td><td><a href="{esc(paper.url)}" target="_blank" rel="noopener noreferrer">'
            f"{esc(paper.url)}</a></td></tr></table>"
        )

    def _render_code(self) -> None:
        a = self.asset
        rows = (f"<tr><td>Open source code</td><td>{'Yes' if a.code_open else 'No'}</td></tr>"
                f"<tr><td>License</td><td>{esc(a.license)}</td></tr>")
        if a.kind != "algorithm":
            note = "A file preview is available for algorithms."
        elif not (a.code_open or self.can_edit):
            note = "The code of this asset is not open: you can use it once subscribed, but only its publisher sees the source."
        elif not self.usable:
            note = "Subscribe to preview the code."
        else:
            note = ""
        self.code_html.value = (f'<table class="gw-table gw-kv">{rows}</table>'
                                + (f'<div class="gw-muted" style="margin-top:8px">{esc(note)}</div>' if note else ""))
        previewable = not note
        _hidden(self.code_area, not previewable)
        if not previewable:
            self._code_loaded = False
            self._code_handle = None
        elif self.tabs.selected_index == TAB_NAMES.index("Code"):
            self.load_code()

    def _render_comments(self) -> None:
        page = self.comments
        items = page.items if page is not None else ()
        total = page.total if page is not None else 0
        if not items:
            self.comments_box.children = (w.HTML('<div class="gw-empty">No comments yet — be the first.</div>'),)
        else:
            self.comments_box.children = tuple(
                w.HTML(f'<div class="gw-comment"><b>{esc(c.author)}</b> '
                       f'<span class="gw-muted">{esc(when(c.created_at))}</span>'
                       f'<div class="gw-comment-text">{esc(c.text)}</div></div>')
                for c in items
            )
        titles = list(self.tabs.titles)
        titles[TAB_NAMES.index("Comments")] = f"Comments ({total})" if total else "Comments"
        self.tabs.titles = tuple(titles)
        self._count_comment()

    def _count_comment(self) -> None:
        size = len(self.comment_text.value)
        colour = "#8a1c1c" if size > COMMENT_LIMIT else "inherit"
        self.comment_count.value = f'<span class="gw-muted" style="color:{colour}">{size:,} / {COMMENT_LIMIT:,}</span>'

    def _apply(self, asset) -> None:
        """Draw a new ``Asset`` returned by the service."""
        self.asset = asset
        self._render(comments=False)

    # -- favorite / subscribe / import / run -----------------------------------------------
    @shows_errors
    def _on_favorite(self, _button=None) -> None:
        self.messages.clear()
        call = self.g.unfavorite if self.asset.favorited else self.g.favorite
        self._apply(call(self.content_id))

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
            self._ask_acceptance(exc.missing)
            return
        self._subscribed(subscription)

    def _ask_acceptance(self, missing) -> None:
        """Show what the service says must be accepted: the constraints, the agreements."""
        needs_constraints = agreements.CONSTRAINTS_ID in missing
        texts = [agreements.ALL[m] for m in missing if m in agreements.ALL]
        if needs_constraints:
            constraints = self.g.constraints(self.content_id)
            latest = self.asset.latest_version
            version = f" of version {esc(latest.version)}" if latest else ""
            self.constraints_html.value = (
                f"<div><b>Constraints{version}</b></div>"
                '<div class="gw-muted">Prepare your environment for these before you use the asset.</div>'
                f'<div style="margin:4px 0">{_constraints_html(constraints)}</div>'
            )
        self.agreements_html.value = "".join(
            f'<div class="gw-agreement"><b>{esc(a.title)} (version {esc(a.version)})</b>{esc(a.text)}</div>'
            for a in texts
        )
        self.accept_constraints.value = False
        self.accept_agreements.value = False
        _hidden(self._constraints_part, not needs_constraints)
        _hidden(self._agreements_part, not texts)
        _hidden(self.subscribe_panel, False)

    @shows_errors
    def _on_continue(self, _button=None) -> None:
        self.messages.clear()
        subscription = self.g.subscribe(
            self.content_id,
            accept_constraints=bool(self.accept_constraints.value),
            accept_agreements=bool(self.accept_agreements.value),
        )
        self._subscribed(subscription)

    def _subscribed(self, subscription) -> None:
        state = "expired" if subscription.expired else subscription.status
        # Fresh counters from the service, without counting another view (SPEC S3).
        self.asset = self.g.asset(self.content_id, count_view=False)
        _hidden(self.subscribe_panel)
        self._render_header()
        self._render_actions()
        self._render_code()
        if state == "active":
            left = ("unlimited" if subscription.remaining_days is None
                    else f"{subscription.remaining_days} day{'s' if subscription.remaining_days != 1 else ''} left")
            self.status_html.value = f'<span class="gw-muted">Subscribed · {left}</span>'
            if not self.messages.value:
                self.messages.ok(f"Subscribed to {self.asset.title} ({left}).")

    @shows_errors
    def _on_import(self, _button=None) -> None:
        _hidden(self.import_panel, False)

    @shows_errors
    def _on_run(self, _button=None) -> None:
        self.messages.clear()
        try:
            from .import_workflow import ImportWorkflowDialog
        except ImportError:
            self.messages.error("The Import Workflow dialog is not available in this installation; import it "
                                f'from Python instead: wf = g.import_workflow("{self.content_id}").')
            return
        self.dialog = ImportWorkflowDialog(self.g, content_id=self.content_id)  # it has its own Close
        self.dialog_area.children = (self.dialog,)

    # -- code preview (loaded in the background the first time the Code tab opens) -------------
    def _on_tab(self, change) -> None:
        if change["new"] == TAB_NAMES.index("Code") and not _is_hidden(self.code_area):
            self.load_code()

    def load_code(self):
        """Load the file list and the entrypoint's preview; returns the loading thread (or None)."""
        if self._code_loaded or self.asset is None:
            return self.code_thread
        self._code_loaded = True
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
            self._code_handle = None
            self.code_files.options = files
            self.code_files.value = first if first in files else None
            self._code_handle = handle
            self.code_preview.value = f'<pre class="gw-code">{esc(text)}</pre>'

        def failed(exc):
            self._code_loaded = False
            self.code_preview.value = ""
            if isinstance(exc, GalleryError):
                self.messages.error(str(exc))
            else:
                self.messages.error(f"The code could not be loaded ({type(exc).__name__}: {exc}).")

        self.code_thread = in_background(work, done, failed)
        return self.code_thread

    @shows_errors
    def _on_code_file(self, change) -> None:
        if self._code_handle is None or not change["new"]:
            return
        self.code_preview.value = f'<pre class="gw-code">{esc(self._code_handle.preview(change["new"]))}</pre>'

    # -- comments -------------------------------------------------------------------------------
    @shows_errors
    def _on_post(self, _button=None) -> None:
        self.messages.clear()
        self.g.comment(self.content_id, self.comment_text.value)
        self.comment_text.value = ""
        self.comments = self.g.comments(self.content_id)
        self._render_comments()

    # -- editing (publisher) ----------------------------------------------------------------------
    @shows_errors
    def start_edit(self, name: str) -> None:
        """Turn tab ``name`` into its edit form, filled from the asset."""
        self.messages.clear()
        getattr(self, f"_fill_{name.lower()}")()
        _hidden(self._views[name])
        _hidden(self.edit_buttons[name])
        _hidden(self._forms[name], False)
        self.tabs.selected_index = TAB_NAMES.index(name)

    def stop_edit(self, name: str) -> None:
        """Leave the edit form of tab ``name`` without saving."""
        _hidden(self._forms[name])
        _hidden(self._views[name], False)
        _hidden(self.edit_buttons[name], False)

    def editing(self, name: str) -> bool:
        return name in self._forms and not _is_hidden(self._forms[name])

    @shows_errors
    def _save(self, name: str) -> None:
        self.messages.clear()
        result = getattr(self, f"_save_{name.lower()}")()
        if result is not None:
            self._apply(result)
        self.stop_edit(name)
        self.messages.ok("Saved.")

    # Description: title, summary, categories, cover, description (SPEC P7)
    def _fill_description(self) -> None:
        a = self.asset
        self.edit_title.value = a.title
        self.edit_summary.value = a.summary
        self.edit_categories.value = list(a.categories)
        self.edit_description.value = a.description
        self.edit_cover.value = ()
        self.remove_cover.value = False

    def _save_description(self):
        a = self.asset
        changes = {}
        if self.edit_title.value != a.title:
            changes["title"] = self.edit_title.value
        if self.edit_summary.value != a.summary:
            changes["summary"] = self.edit_summary.value
        if tuple(self.edit_categories.value) != tuple(a.categories):
            changes["categories"] = list(self.edit_categories.value)
        if self.edit_description.value != a.description:
            changes["description"] = self.edit_description.value
        if self.edit_cover.value:
            changes["cover"] = bytes(self.edit_cover.value[0]["content"])
        elif self.remove_cover.value:
            changes["cover"] = None
        return self.g.edit_asset(self.content_id, **changes) if changes else None

    # Versions: descriptions, per-version whitelists, discontinue (SPEC P7, P8, V5)
    def _fill_versions(self) -> None:
        a = self.asset
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
            discontinue.on_click(lambda _b, number=v.version: self._discontinue_version(number))
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

    def _save_versions(self):
        a = self.asset
        result = None
        for v in a.versions:
            text = self.version_descriptions.get(v.version)
            if text is not None and text.value != v.description:
                result = self.g.edit_version(self.content_id, v.version, description=text.value)
                self._apply(result)
        for v in a.versions:
            box = self.version_whitelists.get(v.version)
            if box is None:
                continue
            wanted, current = _names(box.value), list(v.whitelist)
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

    @shows_errors
    def _discontinue_version(self, version: str) -> None:
        self.messages.clear()
        self._apply(self.g.discontinue_version(self.content_id, version))
        self._fill_versions()
        self.messages.ok(f"Version {version} discontinued.")

    # Restrictions: visibility (widening only), whitelist, duration (SPEC V3-V5, SUB3)
    def _fill_restrictions(self) -> None:
        a = self.asset
        start = VISIBILITY_ORDER.index(a.visibility) if a.visibility in VISIBILITY_ORDER else 0
        self.edit_visibility.options = [(VISIBILITY_LABELS[v], v) for v in VISIBILITY_ORDER[start:]]
        self.edit_visibility.value = a.visibility
        self.edit_visibility.disabled = a.visibility == "public"
        _hidden(self.edit_whitelist, a.visibility != "group")
        self.edit_whitelist.value = ", ".join(self._whitelist())
        self.edit_duration_on.value = a.duration is not None
        self.edit_duration_days.value = a.duration.days if a.duration else 30
        self.edit_auto_renew.value = bool(a.duration and a.duration.auto_renew)
        self._duration_enabled()

    def _duration_enabled(self) -> None:
        off = not self.edit_duration_on.value
        self.edit_duration_days.disabled = off
        self.edit_auto_renew.disabled = off

    def _save_restrictions(self):
        a = self.asset
        changes = {}
        if self.edit_visibility.value != a.visibility:
            changes["visibility"] = self.edit_visibility.value
        if _names(self.edit_whitelist.value) != self._whitelist():
            changes["group_users"] = _names(self.edit_whitelist.value)
        duration = (Duration(int(self.edit_duration_days.value), bool(self.edit_auto_renew.value))
                    if self.edit_duration_on.value else None)
        if duration != a.duration:
            changes["duration"] = duration
        return self.g.set_restrictions(self.content_id, **changes) if changes else None

    # Paper
    def _fill_paper(self) -> None:
        paper = self.asset.paper
        self.edit_paper_title.value = paper.title if paper else ""
        self.edit_paper_url.value = paper.url if paper else ""

    def _save_paper(self):
        title, url = self.edit_paper_title.value.strip(), self.edit_paper_url.value.strip()
        paper = Paper(title, url) if (title or url) else None
        if paper == self.asset.paper:
            return None
        return self.g.edit_asset(self.content_id, paper=paper)

    # Code: open + license
    def _fill_code(self) -> None:
        self.edit_code_open.value = bool(self.asset.code_open)
        self.edit_license.value = self.asset.license if self.asset.license in LICENSES else "Unknown"

    def _save_code(self):
        changes = {}
        if self.edit_code_open.value != self.asset.code_open:
            changes["code_open"] = bool(self.edit_code_open.value)
        if self.edit_license.value != self.asset.license:
            changes["license"] = self.edit_license.value
        return self.g.edit_asset(self.content_id, **changes) if changes else None


__all__ = ["AssetDetail", "TAB_NAMES", "EDITABLE_TABS"]
