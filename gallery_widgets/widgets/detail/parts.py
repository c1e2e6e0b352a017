"""What the pieces of the details page share: its style, showing/hiding, and small formatters."""

from __future__ import annotations

import re

import ipywidgets as w

from ..common import Confirm, esc  # noqa: F401 - Confirm is re-exported for the tabs

DETAIL_STYLE = """
<style>
.gw-detail .gw-header-info { padding: 0 14px; }
.gw-detail .gw-meta { margin: 2px 0 6px 0; }
.gw-detail .gw-summary { font-size: 14px; margin: 4px 0 8px 0; }
.gw-detail .widget-html-content, .gw-detail .jupyter-widget-html-content { line-height: 1.4; }
.gw-detail img.gw-cover-img { width: 100%; object-fit: cover; border-radius: 6px; display: block; }
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
.gw-confirm { border: 1px solid #f5c2c0; background: #fff8f7; border-radius: 8px; padding: 8px 12px; margin: 6px 0; }
</style>
"""

VISIBILITY_ORDER = ("private", "group", "public")
VISIBILITY_LABELS = {"private": "Only me", "group": "Specific users", "public": "Public"}


def hidden(widget, hide: bool = True):
    widget.layout.display = "none" if hide else None
    return widget


def is_hidden(widget) -> bool:
    return widget.layout.display == "none"


def names(text: str) -> list[str]:
    """Usernames typed into a text box, separated by commas, semicolons or spaces."""
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def constraints_html(constraints) -> str:
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


def duration_text(duration) -> str:
    if duration is None:
        return "Unlimited"
    text = f"{duration.days} day{'s' if duration.days != 1 else ''}"
    return text + (", auto-renew" if duration.auto_renew else "")
