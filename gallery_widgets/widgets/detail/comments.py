"""Comments tab: post a comment, read the newest ones (SPEC F)."""

from __future__ import annotations

import ipywidgets as w

from ..common import esc, shows_errors, when
from .tab import DetailTab

COMMENT_LIMIT = 2_000


class CommentsTab(DetailTab):
    name = "Comments"

    def build(self):
        self.comments_box = w.VBox([])
        self.comments_box.add_class("gw-comments")
        self.comment_text = w.Textarea(placeholder="Write a comment (plain text, up to 2,000 characters)",
                                       rows=3, layout=w.Layout(width="100%"))
        self.comment_text.add_class("gw-comment-text")
        self.comment_count = w.HTML()
        self.post_button = w.Button(description="Post", button_style="primary", icon="paper-plane")
        self.post_button.add_class("gw-post")
        self.post_button.on_click(self._on_post)
        self.comment_text.observe(lambda _c: self._count(), names="value")
        view = w.VBox([
            self.comment_text,
            w.HBox([self.comment_count, self.post_button],
                   layout=w.Layout(justify_content="space-between", align_items="center")),
            self.comments_box,
        ])
        return view

    def render(self) -> None:
        page = self.owner.comments  # read by the page when it opened, again after a post
        items = page.items if page is not None else ()
        if not items:
            self.comments_box.children = (w.HTML('<div class="gw-empty">No comments yet — be the first.</div>'),)
        else:
            self.comments_box.children = tuple(
                w.HTML(f'<div class="gw-comment"><b>{esc(c.author)}</b> '
                       f'<span class="gw-muted">{esc(when(c.created_at))}</span>'
                       f'<div class="gw-comment-text">{esc(c.text)}</div></div>')
                for c in items
            )
        self._count()

    def _count(self) -> None:
        size = len(self.comment_text.value)
        colour = "#8a1c1c" if size > COMMENT_LIMIT else "inherit"
        self.comment_count.value = f'<span class="gw-muted" style="color:{colour}">{size:,} / {COMMENT_LIMIT:,}</span>'

    @shows_errors
    def _on_post(self, _button=None) -> None:
        self.messages.clear()
        self.g.comment(self.content_id, self.comment_text.value)
        self.comment_text.value = ""
        self.owner._load_comments()
        self.render()
        self.owner.retitle()
