"""Pieces every widget shares: the inline error area, background work, styles and formatting."""

from __future__ import annotations

import base64
import functools
import html
import logging
from datetime import datetime, timezone

import ipywidgets as w

from ..errors import GalleryError

log = logging.getLogger("gallery_widgets.widgets")

STYLE = """
<style>
.gw-root { font-family: var(--jp-ui-font-family, system-ui, sans-serif); color: var(--jp-ui-font-color1, #1f2328); }
.gw-error { background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0; border-radius: 6px; padding: 6px 10px; margin: 4px 0; }
.gw-ok { background: #e8f5e9; color: #1b5e20; border: 1px solid #b7dfb9; border-radius: 6px; padding: 6px 10px; margin: 4px 0; }
.gw-muted { color: var(--jp-ui-font-color2, #656d76); font-size: 12px; }
.gw-root .widget-html-content { line-height: 1.45; }
.gw-title { font-size: 15px; font-weight: 600; margin: 0; line-height: 1.3;
            overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.gw-description blockquote { border-left: 3px solid #d0d7de; margin: 6px 0; padding: 2px 10px; color: #57606a; }
.gw-h1 { font-size: 20px; font-weight: 650; margin: 0 0 2px 0; }
.gw-badge { display: inline-block; font-size: 11px; font-weight: 600; border-radius: 10px; padding: 1px 8px; margin-right: 4px; }
.gw-badge-official { background: #e3f2fd; color: #0d47a1; }
.gw-badge-featured { background: #fff3e0; color: #b45309; }
.gw-badge-status { background: #eceff1; color: #37474f; }
.gw-counters { color: var(--jp-ui-font-color2, #656d76); font-size: 12px; }
.gw-counters span { margin-right: 12px; }
.gw-card { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 10px; padding: 10px 12px; background: var(--jp-layout-color1, #fff); }
.gw-card:hover { border-color: #8c959f; box-shadow: 0 1px 4px rgba(0,0,0,.08); }
.gw-cover { width: 100%; height: 72px; border-radius: 6px; display: flex; align-items: center; justify-content: center;
            color: #fff; font-size: 26px; font-weight: 700; letter-spacing: 1px; }
.gw-empty { padding: 28px; text-align: center; color: var(--jp-ui-font-color2, #656d76); border: 1px dashed #d0d7de; border-radius: 10px; }
.gw-description h1, .gw-description h2, .gw-description h3 { margin: 8px 0 4px 0; }
.gw-gap-4 { gap: 4px; } .gw-gap-6 { gap: 6px; } .gw-gap-8 { gap: 8px; } .gw-gap-10 { gap: 10px; } .gw-gap-12 { gap: 12px; }
.gw-confirm { border: 1px solid #f5c2c0; background: #fff8f7; border-radius: 8px; padding: 8px 12px; margin: 6px 0; }
.gw-table { border-collapse: collapse; width: 100%; font-size: 13px; }
.gw-table th, .gw-table td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; }
</style>
"""

_COVER_COLOURS = ("#4f46e5", "#0891b2", "#059669", "#d97706", "#db2777", "#7c3aed", "#2563eb", "#dc2626")


def style() -> w.HTML:
    return w.HTML(STYLE)


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def badges(asset) -> str:
    parts = []
    if getattr(asset, "official", False):
        parts.append('<span class="gw-badge gw-badge-official">Official</span>')
    if getattr(asset, "featured", False):
        parts.append('<span class="gw-badge gw-badge-featured">Featured</span>')
    if getattr(asset, "status", "released") != "released":
        parts.append(f'<span class="gw-badge gw-badge-status">{esc(asset.status.capitalize())}</span>')
    return "".join(parts)


def counters(asset) -> str:
    return (
        f'<div class="gw-counters"><span title="views">{asset.views:,} view{"" if asset.views == 1 else "s"}</span>'
        f'<span title="favorites">☆ {asset.favorites:,}</span>'
        f'<span title="subscriptions">⬇ {asset.subscriptions:,} subscribed</span></div>'
    )


def cover_html(asset, height: int = 72) -> str:
    """A generated cover (initials on a colour picked from the id) when the asset has none."""
    colour = _COVER_COLOURS[sum(map(ord, asset.content_id)) % len(_COVER_COLOURS)]
    initials = "".join(word[0] for word in asset.title.split()[:2]).upper() or "?"
    return f'<div class="gw-cover" style="background:{colour};height:{height}px">{esc(initials)}</div>'


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


def quota(subscription) -> str:
    if subscription.remaining_days is None:
        return "Unlimited"
    if subscription.remaining_days == 0:
        return "Expired"
    return f"{subscription.remaining_days} day{'s' if subscription.remaining_days != 1 else ''}"


def image_data_uri(data: bytes) -> str:
    """A ``data:`` URI for PNG or JPEG bytes (shared by the market and the detail page)."""
    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def cover_image_html(data: bytes, height: int = 72) -> str:
    return (f'<img class="gw-cover-img" style="height:{height}px;width:100%;object-fit:cover;border-radius:6px" '
            f'src="{image_data_uri(data)}" alt="cover">')


def row(children, gap: int = 8, **layout) -> w.HBox:
    """An HBox whose children are ``gap`` px apart (ipywidgets' Layout has no ``gap``)."""
    box = w.HBox(list(children), layout=w.Layout(**layout))
    box.add_class(f"gw-gap-{gap}")
    return box


class Messages(w.HTML):
    """Where a widget tells the user what went wrong (or right), inline, never as a traceback."""

    def __init__(self, **kwargs):
        super().__init__(value="", **kwargs)
        self.add_class("gw-messages")

    def error(self, text: str) -> None:
        self.value = f'<div class="gw-error">{esc(text)}</div>'

    def ok(self, text: str) -> None:
        self.value = f'<div class="gw-ok">{esc(text)}</div>'

    def clear(self) -> None:
        self.value = ""

    @property
    def text(self) -> str:
        """The message shown, as plain text (for tests and screen readers)."""
        return html.unescape(self.value.split(">", 1)[1].rsplit("<", 1)[0]) if self.value else ""


def shows_errors(method):
    """Run a widget callback; a GalleryError (or any surprise) lands in ``self.messages``."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except GalleryError as exc:
            self.messages.error(str(exc))
        except Exception as exc:  # a widget must never dump a traceback on the user
            log.exception("unexpected error in %s", method.__qualname__)
            self.messages.error(f"Something went wrong ({type(exc).__name__}: {exc}).")
        return None

    return wrapper


def in_background(work, on_done, on_error, kernel=None):
    """Run ``work()`` off the kernel thread; then ``on_done(result)`` or ``on_error(exc)`` ON the
    kernel thread (handed back through its event loop; see kernel_loop.py). Returns the
    ``Background`` (``join()`` waits for it)."""
    from .kernel_loop import Background, KernelLoop

    return Background(kernel or KernelLoop.here(), work, on_done, on_error)


class Confirm(w.VBox):
    """The seed's OK dialog, inline: says what will happen; OK runs ``action``, Cancel closes.

    ``ask(text, action, ok_label)`` shows it; ``ok_button`` / ``cancel_button`` answer it.
    """

    def __init__(self, messages):
        super().__init__()
        self.messages = messages
        self.text = w.HTML()
        self.ok_button = w.Button(description="OK", button_style="danger")
        self.ok_button.add_class("gw-confirm-ok")
        self.cancel_button = w.Button(description="Cancel")
        self.cancel_button.add_class("gw-confirm-cancel")
        self.ok_button.on_click(self._on_ok)
        self.cancel_button.on_click(lambda _b: self.close_dialog())
        self._action = None
        self.children = (self.text, row([self.ok_button, self.cancel_button]))
        self.add_class("gw-confirm")
        self.layout.display = "none"

    def ask(self, text: str, action, ok_label: str = "OK") -> None:
        self.text.value = f"<div>{text}</div>"
        self.ok_button.description = ok_label
        self._action = action
        self.layout.display = None

    @property
    def is_open(self) -> bool:
        return self.layout.display != "none"

    def close_dialog(self) -> None:
        self._action = None
        self.layout.display = "none"

    @shows_errors
    def _on_ok(self, _button=None) -> None:
        action, self._action = self._action, None
        self.layout.display = "none"
        if action is not None:
            action()


def default_gallery(g):
    if g is not None:
        return g
    from ..gallery import open as open_gallery

    return open_gallery()
