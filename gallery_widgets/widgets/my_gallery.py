"""MyGallery: My Publishes, My Subscriptions and My Information (SPEC M1-M3, P9; §5)."""

from __future__ import annotations

from types import SimpleNamespace

import ipywidgets as w

from .common import (
    Confirm,
    Messages,
    badges,
    cover_html,
    default_gallery,
    esc,
    shows_errors,
    style,
    when,
)
from .jobs import GAP_STYLE, hbox
from .subscriptions import SubscriptionsTable

KIND_OPTIONS = [("Algorithms", "algorithm"), ("Models", "model"), ("Workflows", "workflow")]
_KIND_PLURAL = {"algorithm": "algorithms", "model": "models", "workflow": "workflows"}
_VISIBILITY = {"private": "Only me", "group": "Specific users", "public": "Public"}
_DW = {"description_width": "110px"}

MY_STYLE = """
<style>
.gw-pub-row { border-bottom: 1px solid var(--jp-border-color2, #eaeef2); padding: 8px 4px; }
.gw-pub-row:hover { background: var(--jp-layout-color2, #f6f8fa); }
.gw-pub-meta { color: var(--jp-ui-font-color2, #656d76); font-size: 12px; }
.gw-pub-meta span { margin-right: 14px; }
.gw-pill { display: inline-block; font-size: 11px; font-weight: 600; border-radius: 10px; padding: 1px 8px; margin-left: 6px; }
.gw-pill-released { background: #e8f5e9; color: #1b5e20; }
.gw-pill-discontinued { background: #eceff1; color: #37474f; }
.gw-pill-visibility { background: #e3f2fd; color: #0d47a1; }
.gw-confirm { background: #fff8e1; border: 1px solid #ffe0a3; border-radius: 6px; padding: 4px 8px; }
.gw-avatar { width: 64px; height: 64px; border-radius: 50%; display: flex; align-items: center; justify-content: center;
             color: #fff; font-size: 24px; font-weight: 700; background: #4f46e5; }
</style>
""" + GAP_STYLE


class PublishRow(w.VBox):
    """One of my assets with its status, counters and Release / Discontinue / Delete."""

    def __init__(self, asset):
        super().__init__()
        self.asset = asset
        self.content_id = asset.content_id
        status_class = "gw-pill-released" if asset.status == "released" else "gw-pill-discontinued"
        self.cover = w.HTML(cover_html(asset, height=44), layout=w.Layout(width="64px", flex="0 0 64px"))
        self.info = w.HTML(
            f'<div><span class="gw-title">{esc(asset.title)}</span>'
            f'<span class="gw-pill {status_class}">{esc(asset.status.capitalize())}</span>'
            f'<span class="gw-pill gw-pill-visibility">{esc(_VISIBILITY.get(asset.visibility, asset.visibility))}'
            f"</span> {badges(_flags_only(asset))}</div>"
            + (f'<div class="gw-muted">{esc(asset.summary)}</div>' if asset.summary else "")
            + f'<div class="gw-pub-meta"><span>Published at {esc(when(asset.published_at))}</span>'
            f'<span>Views {asset.views:,}</span><span>Favorites {asset.favorites:,}</span>'
            f'<span>Subscriptions {asset.subscriptions:,}</span>'
            f"<span>id <code>{esc(asset.content_id)}</code></span></div>",
            layout=w.Layout(flex="1 1 auto"),
        )
        self.release_button = w.Button(description="Release", icon="play", button_style="success",
                                       tooltip="Put it back on the market")
        self.release_button.add_class("gw-pub-release")
        self.discontinue_button = w.Button(description="Discontinue", icon="pause",
                                           tooltip="Take it off the market; subscribers keep using it")
        self.discontinue_button.add_class("gw-pub-discontinue")
        self.delete_button = w.Button(description="Delete", icon="trash", button_style="danger",
                                      tooltip="Delete it for good (only without subscribers)")
        self.delete_button.add_class("gw-pub-delete")
        released = asset.status == "released"
        self.release_button.layout.display = "none" if released else ""
        self.discontinue_button.layout.display = "" if released else "none"

        subscribers = getattr(asset, "subscriptions", 0) or 0
        self.confirm_text = w.HTML(
            f"Delete <b>{esc(asset.title)}</b> and all its versions for good? This cannot be undone."
            + (f" It has {subscribers:,} active subscriber{'s' if subscribers != 1 else ''}: the gallery refuses "
               "to delete an asset anyone subscribed to — discontinue it instead." if subscribers else "")
        )
        self.confirm_delete_button = w.Button(description="Yes, delete", button_style="danger", icon="check")
        self.confirm_delete_button.add_class("gw-pub-confirm-delete")
        self.cancel_delete_button = w.Button(description="Keep it")
        self.cancel_delete_button.add_class("gw-pub-cancel-delete")
        self.confirm_box = hbox([self.confirm_text, self.confirm_delete_button, self.cancel_delete_button],
                                gap=8, display="none", align_items="center")
        self.confirm_box.add_class("gw-confirm")
        self.delete_button.on_click(lambda _b: self.ask_delete(True))
        self.cancel_delete_button.on_click(lambda _b: self.ask_delete(False))

        self.children = [
            hbox([
                self.cover,
                self.info,
                hbox([self.release_button, self.discontinue_button, self.delete_button], gap=6,
                     align_items="center", flex="0 0 auto"),
            ], gap=10, align_items="center", width="100%"),
            self.confirm_box,
        ]
        self.add_class("gw-pub-row")

    @property
    def confirming(self) -> bool:
        return self.confirm_box.layout.display != "none"

    def ask_delete(self, ask: bool) -> None:
        self.confirm_box.layout.display = "" if ask else "none"
        self.delete_button.disabled = ask


def _flags_only(asset):
    """``badges`` without the status pill (the row shows the status itself)."""
    return SimpleNamespace(official=asset.official, featured=asset.featured, status="released")


class MyGallery(w.VBox):
    """My Publishes, My Subscriptions, My Information (SPEC M1-M3)."""

    def __init__(self, g=None, *, namespace: dict | None = None):
        super().__init__()
        self.g = default_gallery(g)
        self.namespace = namespace
        self.messages = Messages()
        self.confirm = Confirm(self.messages)
        self.header = w.HTML()

        # -- My Publishes ------------------------------------------------------------------
        self.publishes_kind = w.ToggleButtons(options=KIND_OPTIONS, value="algorithm",
                                              style={"button_width": "100px"})
        self.publishes_kind.add_class("gw-pubs-kind")
        self.publishes_refresh = w.Button(icon="refresh", tooltip="Refresh", layout=w.Layout(width="40px"))
        self.publish_rows: list[PublishRow] = []
        self.publishes_list = w.VBox()
        self.publishes_list.add_class("gw-pubs-list")
        self.publishes_kind.observe(lambda _c: self.refresh_publishes(), names="value")
        self.publishes_refresh.on_click(lambda _b: self.refresh_publishes())
        publishes_panel = w.VBox([
            hbox([self.publishes_kind, self.publishes_refresh], gap=8, align_items="center"),
            self.confirm,
            self.publishes_list,
        ])
        publishes_panel.add_class("gw-my-publishes")

        # -- My Subscriptions ---------------------------------------------------------------
        self.subscriptions_table = SubscriptionsTable(self.g, namespace=namespace)

        # -- My Information --------------------------------------------------------------------
        self.avatar_view = w.Box(layout=w.Layout(width="72px", height="72px"))
        self.avatar_upload = w.FileUpload(accept="image/png,image/jpeg", multiple=False, description="Avatar",
                                          tooltip="PNG or JPEG, at most 1 MiB")
        self.avatar_upload.add_class("gw-profile-avatar-upload")
        self.avatar_note = w.HTML('<span class="gw-muted">PNG or JPEG, at most 1 MiB; saved with Save.</span>')
        self.avatar_upload.observe(self._on_avatar_chosen, names="value")
        self.account = w.Text(description="Account", disabled=True, style=_DW, layout=w.Layout(width="440px"),
                              tooltip="Your account name cannot change")
        self.account.add_class("gw-profile-account")
        self.nickname = w.Text(description="Nickname", style=_DW, layout=w.Layout(width="440px"))
        self.nickname.add_class("gw-profile-nickname")
        self.email = w.Text(description="Email", placeholder="you@example.com", style=_DW,
                            layout=w.Layout(width="440px"))
        self.email.add_class("gw-profile-email")
        self.description = w.Textarea(description="Description", placeholder="a few words about you", style=_DW,
                                      layout=w.Layout(width="560px", height="90px"))
        self.description.add_class("gw-profile-description")
        self.save_profile_button = w.Button(description="Save", button_style="primary", icon="save")
        self.save_profile_button.add_class("gw-profile-save")
        self.save_profile_button.on_click(self._on_save_profile)
        info_panel = w.VBox([
            hbox([self.avatar_view, w.VBox([self.avatar_upload, self.avatar_note])], gap=14, align_items="center",
                 margin="4px 0 8px 0"),
            self.account,
            self.nickname,
            self.email,
            self.description,
            w.HBox([self.save_profile_button], layout=w.Layout(margin="6px 0 0 110px")),
        ])
        info_panel.add_class("gw-my-information")

        self.tabs = w.Tab(children=[publishes_panel, self.subscriptions_table, info_panel],
                          titles=("My Publishes", "My Subscriptions", "My Information"))
        self.tabs.add_class("gw-my-tabs")

        from .notifications import NotificationBell

        self.bell = NotificationBell(self.g)  # W5
        top = w.HBox([self.header, self.bell], layout=w.Layout(justify_content="space-between",
                                                               align_items="flex-start"))
        self.children = [style(), w.HTML(MY_STYLE), top, self.messages, self.tabs]
        self.add_class("gw-root")
        self.add_class("gw-my-gallery")
        self.refresh_profile()
        self.refresh_publishes()  # the subscriptions table loaded itself

    # -- loading -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload everything from the gallery."""
        self.refresh_profile()
        self.refresh_publishes()
        self.subscriptions_table.refresh()

    @shows_errors
    def refresh_profile(self) -> None:
        me = self.g.me
        self._me = me
        self.header.value = (
            f'<div class="gw-h1">My Gallery</div><div class="gw-muted">{esc(me.nickname or me.username)} '
            f"({esc(me.username)}){' · admin' if me.role == 'admin' else ''}</div>"
        )
        self.account.value = me.username
        self.nickname.value = me.nickname
        self.email.value = me.email
        self.description.value = me.description
        self._show_avatar(me)

    def _show_avatar(self, me) -> None:
        image = self.g.avatar_image(me.username) if me.avatar else None
        if image:
            fmt = "jpeg" if image[:3] == b"\xff\xd8\xff" else "png"
            self.avatar_image = w.Image(value=image, format=fmt, width=64, height=64)
            self.avatar_image.add_class("gw-profile-avatar")
            self.avatar_view.children = [self.avatar_image]
        else:
            self.avatar_image = None
            initial = esc((me.nickname or me.username or "?")[:1].upper())
            self.avatar_view.children = [w.HTML(f'<div class="gw-avatar">{initial}</div>')]

    @shows_errors
    def refresh_publishes(self) -> None:
        kind = self.publishes_kind.value
        self.publishes_list.children = [w.HTML('<div class="gw-muted">Loading…</div>')]
        try:
            assets = self.g.publishes(kind=kind)
        except Exception:
            self.publishes_list.children = []
            self.publish_rows = []
            raise
        self.publish_rows = [self._publish_row(asset) for asset in assets]
        if self.publish_rows:
            self.publishes_list.children = self.publish_rows
        else:
            self.publishes_list.children = [w.HTML(
                f'<div class="gw-empty">You have not published any {_KIND_PLURAL[kind]} yet. '
                "Publish one with <code>gw.PublishForm()</code> or <code>g.publish(…)</code>.</div>"
            )]

    def publish_row(self, content_id: str) -> PublishRow:
        """The row of one of my assets (for scripts and tests)."""
        for row in self.publish_rows:
            if row.content_id == content_id:
                return row
        raise KeyError(f"No row for {content_id!r} in My Publishes ({self.publishes_kind.value}).")

    def _publish_row(self, asset) -> PublishRow:
        row = PublishRow(asset)
        cid = asset.content_id
        row.release_button.on_click(lambda _b: self._release(cid))
        row.discontinue_button.on_click(lambda _b: self.ask_discontinue(row))
        row.confirm_delete_button.on_click(lambda _b: self._delete(row))
        return row

    # -- My Publishes actions -------------------------------------------------------------------
    @shows_errors
    def _release(self, content_id: str) -> None:
        self.messages.clear()
        asset = self.g.release(content_id)
        self.refresh_publishes()
        self.messages.ok(f"{asset.title!r} is released: it is back on the market.")

    def ask_discontinue(self, row: PublishRow) -> None:
        """Say what discontinuing does (and to how many subscribers); discontinue on OK (W4)."""
        subscribers = getattr(row.asset, "subscriptions", 0) or 0
        self.confirm.ask(
            f"Discontinue <b>{esc(row.asset.title)}</b>? It leaves the market and nobody new can subscribe; "
            f"its {subscribers:,} subscriber{'s keep' if subscribers != 1 else ' keeps'} using it within "
            f"{'their' if subscribers != 1 else 'the'} quota. "
            "Release brings it back.",
            lambda: self._discontinue(row.content_id), ok_label="Discontinue")

    @shows_errors
    def _discontinue(self, content_id: str) -> None:
        self.messages.clear()
        asset = self.g.discontinue(content_id)
        self.refresh_publishes()
        self.messages.ok(
            f"{asset.title!r} is discontinued: it is off the market; its subscribers keep using it within their quota."
        )

    @shows_errors
    def _delete(self, row: PublishRow) -> None:
        self.messages.clear()
        row.ask_delete(False)
        self.g.delete(row.content_id)
        self.refresh_publishes()
        self.messages.ok(f"{row.asset.title!r} was deleted.")

    # -- My Information actions --------------------------------------------------------------------
    def _on_avatar_chosen(self, change) -> None:
        files = change["new"]
        if files:
            item = files[0]
            self.avatar_note.value = (
                f'<span class="gw-muted">{esc(item.get("name", "image"))} ({int(item.get("size", 0)):,} bytes) '
                "— press Save to use it.</span>"
            )

    @shows_errors
    def _on_save_profile(self, _=None):
        self.messages.clear()
        changes = {"nickname": self.nickname.value, "email": self.email.value.strip(),
                       "description": self.description.value}
        if self.avatar_upload.value:
            changes["avatar"] = bytes(self.avatar_upload.value[0]["content"])
        try:
            me = self.g.update_profile(**changes)
        finally:
            if "avatar" in changes:
                self.avatar_upload.value = ()
                self.avatar_note.value = '<span class="gw-muted">PNG or JPEG, at most 1 MiB; saved with Save.</span>'
        self.refresh_profile()
        self.messages.ok("Your profile is saved." + (" New avatar in place." if "avatar" in changes else ""))
        return me
