"""Paper tab: the linked paper's title and link."""

from __future__ import annotations

import ipywidgets as w

from ...entities import Paper
from ..common import esc
from .tab import DetailTab

WIDE = w.Layout(width="100%")
LABEL = {"description_width": "110px"}


class PaperTab(DetailTab):
    name = "Paper"

    def build(self):
        self.paper_html = w.HTML()
        return self.paper_html

    def build_form(self):
        self.edit_paper_title = w.Text(description="Title", layout=WIDE, style=LABEL)
        self.edit_paper_url = w.Text(description="Link", layout=WIDE, style=LABEL, placeholder="https://…")
        form = w.VBox([self.edit_paper_title, self.edit_paper_url,
                       w.HTML('<span class="gw-muted">Leave both empty to remove the paper.</span>')])
        return form

    def render(self) -> None:
        paper = self.asset.paper
        if paper is None:
            self.paper_html.value = '<div class="gw-empty">No paper linked.</div>'
            return
        self.paper_html.value = (
            f'<table class="gw-table gw-kv"><tr><td>Title</td><td>{esc(paper.title)}</td></tr>'
            f'<tr><td>Link</td><td><a href="{esc(paper.url)}" target="_blank" rel="noopener noreferrer">'
            f"{esc(paper.url)}</a></td></tr></table>"
        )

    def fill(self) -> None:
        paper = self.asset.paper
        self.edit_paper_title.value = paper.title if paper else ""
        self.edit_paper_url.value = paper.url if paper else ""

    def save(self):
        title, url = self.edit_paper_title.value.strip(), self.edit_paper_url.value.strip()
        paper = Paper(title, url) if (title or url) else None
        if paper == self.asset.paper:
            return None
        return self.g.edit_asset(self.content_id, paper=paper)
