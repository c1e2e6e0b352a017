"""Description tab: the Markdown description; its form also edits title, summary, categories and
cover (SPEC P7)."""

from __future__ import annotations

import ipywidgets as w

from ..common import row
from .tab import DetailTab

WIDE = w.Layout(width="100%")
LABEL = {"description_width": "110px"}


class DescriptionTab(DetailTab):
    name = "Description"

    def build(self):
        self.description_html = w.HTML()
        self.description_html.add_class("gw-description")
        return self.description_html

    def build_form(self):
        self.edit_title = w.Text(description="Title", layout=WIDE, style=LABEL)
        self.edit_summary = w.Text(description="Summary", layout=WIDE, style=LABEL)
        self.edit_categories = w.TagsInput(allowed_tags=list(self.g.categories()), allow_duplicates=False,
                                           placeholder="add a category (Dimension/Leaf)")
        self.edit_cover = w.FileUpload(accept=".png,.jpg,.jpeg", multiple=False, description="Upload cover")
        self.remove_cover = w.Checkbox(description="Remove the cover", indent=False)
        self.edit_description = w.Textarea(description="Description", rows=12, layout=WIDE, style=LABEL,
                                           placeholder="Markdown: background, introduction, usage, constraints…")
        form = w.VBox([
            self.edit_title, self.edit_summary,
            w.HBox([w.Label("Categories", layout=w.Layout(width="110px")), self.edit_categories]),
            row([w.Label("Cover", layout=w.Layout(width="110px")), self.edit_cover, self.remove_cover,
                 w.HTML('<span class="gw-muted">PNG or JPEG ≤ 1 MiB, 360×200 recommended</span>')],
                align_items="center"),
            self.edit_description,
        ])
        return form

    def render(self) -> None:
        body = self.asset.description_html.strip() if self.asset.description_html else ""
        self.description_html.value = (
            f'<div class="gw-description">{body}</div>' if body
            else '<div class="gw-empty">No description yet.</div>'
        )

    def fill(self) -> None:
        a = self.asset
        self.edit_title.value = a.title
        self.edit_summary.value = a.summary
        self.edit_categories.value = list(a.categories)
        self.edit_description.value = a.description
        self.edit_cover.value = ()
        self.remove_cover.value = False

    def save(self):
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
