"""The notification bell (rule W5): the unread count on a button; opening it lists the
notifications (scan failures, new versions of what you subscribed to, subscriptions about to
expire), each with "Mark read", and "Mark all read". MarketBrowser and MyGallery show one.

The widget holds no rules: ``g.notifications()`` says what there is (and adds the expiring-soon
ones), ``g.mark_notifications_read(ids)`` marks them.
"""

from __future__ import annotations

import ipywidgets as w
from traitlets import Int

from .common import Messages, esc, shows_errors, when

BELL_STYLE = """
<style>
.gw-bell-list { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 8px; padding: 6px 10px;
  max-height: 360px; overflow-y: auto; background: var(--jp-layout-color1, #fff); }
.gw-note { border-bottom: 1px solid #eaeef2; padding: 4px 0; }
.gw-note-unread .gw-note-subject { font-weight: 650; }
.gw-note-body { font-size: 12px; color: var(--jp-ui-font-color2, #656d76); white-space: pre-wrap; }
</style>
"""


class NotificationBell(w.VBox):
    """``NotificationBell(g)``. Parts: ``button`` (🔔 and the unread count), ``panel`` (once
    opened), ``items``
    (notification id → its row), ``read_buttons`` (id → Mark read), ``mark_all_button``,
    ``refresh()``; ``unread`` is the count."""

    unread = Int(0, help="How many notifications are unread (shown on the bell)")

    def __init__(self, g):
        super().__init__()
        self.g = g
        self.notes = ()
        self.items: dict[int, w.Widget] = {}
        self.read_buttons: dict[int, w.Button] = {}
        self.panel = None  # the list, built the first time the bell opens (most views never open it)
        self.button = w.ToggleButton(value=False, icon="bell", tooltip="Notifications",
                                     layout=w.Layout(width="auto"))
        self.button.add_class("gw-bell")
        self.button.observe(lambda c: self._toggle(c["new"]), names="value")
        self.messages = Messages()
        self.children = (self.button,)
        self.add_class("gw-bell-area")
        self.layout.align_items = "flex-end"
        self.observe(lambda c: self._draw_count(), names="unread")
        self.refresh()

    def _build_panel(self) -> None:
        self.mark_all_button = w.Button(description="Mark all read", icon="check", layout=w.Layout(width="auto"))
        self.mark_all_button.add_class("gw-bell-mark-all")
        self.mark_all_button.on_click(self._on_mark_all)
        self.list = w.VBox([])
        self.panel = w.VBox([w.HTML(BELL_STYLE), w.HBox([w.HTML('<b>Notifications</b>'), self.mark_all_button],
                                                        layout=w.Layout(justify_content="space-between",
                                                                        align_items="center")),
                             self.messages, self.list], layout=w.Layout(display="none", width="520px"))
        self.panel.add_class("gw-bell-list")
        self.children = (self.button, self.panel)

    @property
    def is_open(self) -> bool:
        return self.panel is not None and self.panel.layout.display != "none"

    @shows_errors
    def refresh(self) -> None:
        """Read the notifications again and redraw the count and the list."""
        self.notes = self.g.notifications()
        self.unread = sum(not n.read for n in self.notes)
        self._draw_count()
        if self.panel is not None:
            self._draw_list()

    def _draw_count(self) -> None:
        self.button.description = f"{self.unread}" if self.unread else ""
        self.button.button_style = "warning" if self.unread else ""
        self.button.tooltip = f"{self.unread} unread notification{'s' if self.unread != 1 else ''}"

    def _draw_list(self) -> None:
        self.items, self.read_buttons = {}, {}
        if not self.notes:
            self.list.children = (w.HTML('<div class="gw-muted">No notifications yet.</div>'),)
            self.mark_all_button.disabled = True
            return
        rows = []
        for note in self.notes:
            text = w.HTML(f'<div class="gw-note-subject">{esc(note.subject)}</div>'
                          f'<div class="gw-muted">{esc(when(note.created_at))}</div>'
                          f'<div class="gw-note-body">{esc(note.body)}</div>', layout=w.Layout(flex="1 1 auto"))
            parts = [text]
            if not note.read:
                button = w.Button(description="Mark read", layout=w.Layout(width="auto", min_width="90px"))
                button.add_class("gw-note-read")
                button.on_click(lambda _b, i=note.id: self._on_mark(i))
                self.read_buttons[note.id] = button
                parts.append(button)
            item = w.HBox(parts, layout=w.Layout(align_items="flex-start"))
            item.add_class("gw-note")
            item.add_class("gw-note-read-done" if note.read else "gw-note-unread")
            self.items[note.id] = item
            rows.append(item)
        self.list.children = tuple(rows)
        self.mark_all_button.disabled = not self.unread

    def _toggle(self, opened: bool) -> None:
        if opened:
            if self.panel is None:
                self._build_panel()
            self.refresh()
        if self.panel is not None:
            self.panel.layout.display = None if opened else "none"

    @shows_errors
    def _on_mark(self, note_id: int) -> None:
        self.messages.clear()
        self.g.mark_notifications_read([note_id])
        self.refresh()

    @shows_errors
    def _on_mark_all(self, _button=None) -> None:
        self.messages.clear()
        self.g.mark_notifications_read()
        self.refresh()
