"""The asset market (SPEC S1, §5 MarketBrowser): kind tabs, quick tabs, categories, sort,
keyword search, a page of cards, a pager; a card opens ``AssetDetail`` in place.

The widget holds no business rules: every query goes to ``g.search`` and the page it
returns is drawn as it is. Memory is bounded by one page: the card widgets of a page
are created once and reused for every later page, filter or sort.
"""

from __future__ import annotations

from collections import OrderedDict

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle

from .common import (  # image_data_uri, cover_image_html and row live in common (shared with detail/)
    Messages,
    badges,
    counters,
    cover_html,
    default_gallery,
    cover_image_html,
    esc,
    image_data_uri,
    in_background,
    log,
    row,
    shows_errors,
    style,
    when,
)

KIND_OPTIONS = (("Algorithms", "algorithm"), ("Models", "model"), ("Workflows", "workflow"))
TAB_OPTIONS = (("All", "all"), ("Featured", "featured"), ("Official", "official"), ("My Favorites", "favorites"))
SORT_OPTIONS = (
    ("Most subscriptions", "subscriptions"),
    ("Most favorites", "favorites"),
    ("Most views", "views"),
    ("Latest published", "latest"),
    ("Relevance", "relevance"),
)
EMPTY_FILTERS = "No assets match these filters"
EMPTY_FAVORITES = "No favorites yet — open an asset and click ☆ to add it"

MARKET_STYLE = """
<style>
.gw-gap-6 { gap: 6px; } .gw-gap-8 { gap: 8px; } .gw-gap-12 { gap: 12px; }
.gw-category-panel { border: 1px solid var(--jp-border-color2, #d0d7de); border-radius: 8px; }
.gw-market-grid { gap: 12px; }
.gw-card { overflow: hidden; }
.gw-card .gw-card-summary { font-size: 13px; line-height: 1.35; height: 2.7em; overflow: hidden;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical; margin: 4px 0 6px 0; }
.gw-card .gw-card-badges { min-height: 18px; margin: 6px 0 2px 0; }
.gw-card .gw-title { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.gw-card .widget-html-content, .gw-card .jupyter-widget-html-content,
.gw-detail .widget-html-content, .gw-detail .jupyter-widget-html-content,
.gw-market .gw-category-panel .widget-html-content { line-height: 1.4; }
.gw-card img.gw-cover-img { width: 100%; height: 72px; object-fit: cover; border-radius: 6px; display: block; }
.gw-pager-label { text-align: center; }
.gw-loading { color: var(--jp-ui-font-color2, #656d76); font-size: 12px; }
.gw-chip { display: inline-block; font-size: 11px; border-radius: 10px; padding: 1px 8px; margin: 0 4px 2px 0;
  background: #f1f3f5; color: #374151; }
</style>
"""

_COVER_CACHE_SIZE = 64


def card_parts() -> dict:
    return dict(
        html_layout=w.Layout(),
        html_style=HTMLStyle(),
        button_layout=w.Layout(width="auto", align_self="flex-end"),
        button_style=w.ButtonStyle(),
        card_layout=w.Layout(min_width="0", justify_content="space-between"),
    )


class MarketCard(w.VBox):
    """One asset of the page: cover, badges, title, publisher, summary, counters and Open.

    Cards are reused from page to page; ``content_id`` names the asset shown now.
    """

    def __init__(self, on_open, parts: dict | None = None):
        # ``parts``: Layout / Style models shared by every card of a browser (fewer widgets to
        # create and sync per card: a page of cards is the hottest thing the market draws)
        parts = parts if parts is not None else card_parts()
        self.content_id: str | None = None
        self.summary = None
        self.cover = w.HTML(layout=parts["html_layout"], style=parts["html_style"])
        self.cover.add_class("gw-card-cover")
        self.body = w.HTML(layout=parts["html_layout"], style=parts["html_style"])
        self.body.add_class("gw-card-body")
        self.open_button = w.Button(description="Open", icon="arrow-right", tooltip="Open the asset's details",
                                    layout=parts["button_layout"], style=parts["button_style"])
        self.open_button.add_class("gw-card-open")
        self._on_open = on_open
        self.open_button.on_click(self._clicked)
        super().__init__([self.cover, self.body, self.open_button], layout=parts["card_layout"])
        self.add_class("gw-card")

    def _clicked(self, _button) -> None:
        if self.content_id is not None:
            self._on_open(self.content_id)

    def show(self, item, cover: bytes | None = None) -> None:
        self.content_id = item.content_id
        self.summary = item
        self.cover.value = cover_image_html(cover) if cover else cover_html(item)
        publisher = item.publisher_nickname or item.publisher
        who = esc(publisher) if publisher == item.publisher else f"{esc(publisher)} <span>({esc(item.publisher)})</span>"
        self.body.value = (
            f'<div class="gw-card-badges">{badges(item)}</div>'
            f'<div class="gw-title" title="{esc(item.title)}">{esc(item.title)}</div>'
            f'<div class="gw-muted">by {who} · {esc(when(item.published_at)[:10])}</div>'
            f'<div class="gw-card-summary">{esc(item.summary) or "<i>No summary</i>"}</div>'
            f"{counters(item)}"
        )
        self.open_button.tooltip = f"Open {item.title}"


class MarketBrowser(w.VBox):
    """The market of one kind of asset (SPEC S1): browse, filter, search and open assets.

    ``MarketBrowser(g=None, kind="algorithm", page_size=20)``. Parts tests and notebooks
    drive: ``kind_tabs``, ``quick_tabs``, ``categories`` (a TagsInput of
    "Dimension/Leaf"), ``sort``, ``search``, ``cards`` (each with ``content_id`` and
    ``open_button``), ``prev_button``, ``next_button``, ``page_label``, ``messages``,
    ``detail`` (the open ``AssetDetail`` or None), ``back_button`` and ``page`` (the last
    ``Page`` the service returned).
    """

    def __init__(self, g=None, kind: str = "algorithm", *, page_size: int = 20):
        super().__init__()
        self.add_class("gw-root")
        self.add_class("gw-market")
        self.g = default_gallery(g)
        self.page_size = page_size
        self.page = None
        self.detail = None
        self.cards: list[MarketCard] = []
        self._pool: list[MarketCard] = []
        self._card_parts = None
        self._page_number = 1
        self._generation = 0
        self._covers: OrderedDict[str, bytes] = OrderedDict()
        self._cover_thread = None
        self._syncing = False
        self.messages = Messages()

        # -- filters ----------------------------------------------------------------------
        kinds = {v: label for label, v in KIND_OPTIONS}
        self.kind_tabs = w.ToggleButtons(options=KIND_OPTIONS, value=kind if kind in kinds else "algorithm",
                                         style={"button_width": "110px"})
        self.kind_tabs.add_class("gw-kind-tabs")
        self.quick_tabs = w.ToggleButtons(options=TAB_OPTIONS, value="all", style={"button_width": "112px"})
        self.quick_tabs.add_class("gw-quick-tabs")
        self.search = w.Text(placeholder="Search title, summary, description or publisher — press Enter",
                             continuous_update=False, layout=w.Layout(flex="1 1 auto", width="auto"))
        self.search.add_class("gw-search")
        self.sort = w.Dropdown(options=SORT_OPTIONS, value="subscriptions", layout=w.Layout(width="180px"))
        self.sort.add_class("gw-sort")

        # Category picker: dimension → leaves, synced with the chosen tags.
        self._taxonomy = self.g.taxonomy()  # the service's (over REST: the server's)
        self.categories = w.TagsInput(allowed_tags=list(self.g.categories()), allow_duplicates=False, value=[],
                                      placeholder="type to add a category",
                                      layout=w.Layout(flex="1 1 auto", width="auto"))
        self.categories.add_class("gw-categories")
        self.category_dimension = w.Dropdown(options=list(self._taxonomy), layout=w.Layout(width="220px"),
                                             description="Dimension", style={"description_width": "70px"})
        self.category_leaves = w.SelectMultiple(options=[], rows=6, layout=w.Layout(width="260px"))
        self.category_toggle = w.Button(description="All categories", icon="filter", layout=w.Layout(width="auto"),
                                        tooltip="Pick categories: an asset matches when it has every chosen one")
        self.category_toggle.add_class("gw-category-toggle")
        self.category_clear = w.Button(description="Clear", layout=w.Layout(width="auto"))
        self.category_panel = w.VBox([
            w.HTML('<span class="gw-muted">An asset matches when it has <b>every</b> chosen category.</span>'),
            row([self.category_dimension, self.category_leaves]),
            row([self.categories, self.category_clear]),
        ], layout=w.Layout(display="none", padding="8px", margin="4px 0"))
        self.category_panel.add_class("gw-category-panel")
        self._sync_leaves()

        self.loading = w.HTML("")
        self.loading.add_class("gw-loading")

        # -- results ----------------------------------------------------------------------
        self.grid = w.GridBox([], layout=w.Layout(grid_template_columns="repeat(3, minmax(0, 1fr))",
                                                  grid_gap="12px", width="100%"))
        self.grid.add_class("gw-market-grid")
        self.empty = w.HTML("", layout=w.Layout(display="none"))
        self.empty.add_class("gw-market-empty")
        self.prev_button = w.Button(description="Prev", icon="chevron-left", layout=w.Layout(width="90px"))
        self.next_button = w.Button(description="Next", icon="chevron-right", layout=w.Layout(width="90px"))
        self.page_label = w.HTML("", layout=w.Layout(margin="0 12px"))
        self.page_label.add_class("gw-pager-label")
        self.pager = w.HBox([self.prev_button, self.page_label, self.next_button],
                            layout=w.Layout(justify_content="center", align_items="center", margin="8px 0"))
        self.pager.add_class("gw-pager")
        self.back_button = w.Button(description="← Back to market", layout=w.Layout(width="auto", align_self="flex-start"))
        self.back_button.add_class("gw-back")

        from .notifications import NotificationBell

        self.bell = NotificationBell(self.g)  # W5: the unread count, the list, mark read
        header = w.HBox([w.HTML('<div class="gw-h1">Asset market</div>'
                                '<div class="gw-muted">Find, favorite and subscribe to shared assets.</div>'),
                         self.bell], layout=w.Layout(justify_content="space-between", align_items="flex-start"))
        filters = row([self.quick_tabs, self.category_toggle, self.sort], align_items="center",
                      flex_flow="row wrap")
        filters.add_class("gw-filters")
        search_row = row([self.search, self.loading], align_items="center")
        self._market_children = (
            style(), w.HTML(MARKET_STYLE), header, self.kind_tabs, filters, self.category_panel, search_row,
            self.messages, self.grid, self.empty, self.pager,
        )
        self.children = self._market_children
        self.layout.padding = "4px"

        # -- events -------------------------------------------------------------------------
        for control in (self.kind_tabs, self.quick_tabs, self.sort, self.search, self.categories):
            control.observe(self._filters_changed, names="value")
        self.category_dimension.observe(lambda _change: self._sync_leaves(), names="value")
        self.category_leaves.observe(self._leaves_changed, names="value")
        self.category_toggle.on_click(self._toggle_categories)
        self.category_clear.on_click(lambda _b: setattr(self.categories, "value", []))
        self.prev_button.on_click(lambda _b: self.go_to(self._page_number - 1))
        self.next_button.on_click(lambda _b: self.go_to(self._page_number + 1))
        self.back_button.on_click(lambda _b: self.show_market())

        self.refresh()
        if kind not in kinds:
            self.messages.error(f"There is no {kind!r} market; showing algorithms. Use kind='algorithm', "
                                "'model' or 'workflow'.")

    # -- querying -------------------------------------------------------------------------------
    def _query(self) -> dict:
        return dict(
            kind=self.kind_tabs.value,
            query=self.search.value,
            tab=self.quick_tabs.value,
            categories=tuple(self.categories.value),
            sort=self.sort.value,
            page=self._page_number,
            page_size=self.page_size,
        )

    def _filters_changed(self, change) -> None:
        if change["owner"] is self.categories:
            self._sync_leaves()
            self._label_categories()
        self.go_to(1)

    def go_to(self, page: int) -> None:
        """Show page ``page`` of the current filters."""
        self._page_number = max(1, int(page))
        self.refresh()

    @shows_errors
    def refresh(self) -> None:
        """Ask the service for the current page again and draw it."""
        self.loading.value = "⏳ Loading…"
        try:
            result = self.g.search(**self._query())
            if result.total and not result.items and self._page_number > result.pages:
                # the catalogue shrank under us (e.g. an unfavorite): show its last page
                self._page_number = result.pages
                result = self.g.search(**self._query())
        finally:
            self.loading.value = ""
        self._page_number = result.page
        self.page = result
        self.messages.clear()
        self._render(result)

    # -- drawing --------------------------------------------------------------------------------
    def _render(self, result) -> None:
        self._generation += 1
        items = result.items
        while len(self._pool) < len(items):
            if self._card_parts is None:
                self._card_parts = card_parts()
            self._pool.append(MarketCard(self.open_asset, self._card_parts))
        missing = []
        for card, item in zip(self._pool, items):
            cached = self._covers.get(item.cover) if item.cover else None
            card.show(item, cached)
            if item.cover and cached is None:
                missing.append((card, item.content_id, item.cover))
        cards = self._pool[: len(items)]
        self.cards = cards
        if tuple(self.grid.children) != tuple(cards):
            self.grid.children = tuple(cards)
        if items:
            self.empty.layout.display = "none"
            self.grid.layout.display = None
        else:
            favorites_only = (self.quick_tabs.value == "favorites" and not self.search.value.strip()
                              and not self.categories.value)
            text = EMPTY_FAVORITES if favorites_only else EMPTY_FILTERS
            self.empty.value = f'<div class="gw-empty">{esc(text)}</div>'
            self.empty.layout.display = None
            self.grid.layout.display = "none"
        total = result.total
        # A capped total (the search stopped counting) reads "200+": at least that many, and
        # Next stays on past the last page counted, which then counts further.
        exact = getattr(result, "total_is_exact", True)
        shown = f"{total:,}" if exact else f"{total:,}+"
        pages = f"{result.pages}" if exact else f"{result.pages}+"
        self.page_label.value = f"Page {result.page} of {pages} · {shown} asset{'s' if total != 1 else ''}"
        self.prev_button.disabled = result.page <= 1
        self.next_button.disabled = exact and result.page >= result.pages
        if missing:
            self._load_covers(missing, self._generation)

    def _load_covers(self, missing, generation) -> None:
        """Fetch real cover images off the main thread; the generated covers show meanwhile."""
        g = self.g

        def work():
            return [(card, cid, digest, g.cover_image(cid)) for card, cid, digest in missing]

        def done(results):
            for card, cid, digest, data in results:
                if not data:
                    continue
                self._covers[digest] = data
                while len(self._covers) > _COVER_CACHE_SIZE:
                    self._covers.popitem(last=False)
                if self._generation == generation and card.content_id == cid:
                    card.cover.value = cover_image_html(data)

        def failed(exc):  # a missing cover is not worth an error message: keep the generated one
            log.debug("cover images not loaded: %s", exc)

        self._cover_thread = in_background(work, done, failed)

    # -- categories -----------------------------------------------------------------------------
    def _toggle_categories(self, _button=None) -> None:
        shown = self.category_panel.layout.display != "none"
        self.category_panel.layout.display = "none" if shown else None

    def _label_categories(self) -> None:
        count = len(self.categories.value)
        self.category_toggle.description = (
            "All categories" if not count else f"{count} categor{'y' if count == 1 else 'ies'}")

    def _sync_leaves(self) -> None:
        dimension = self.category_dimension.value
        leaves = self._taxonomy.get(dimension, ())
        prefix = f"{dimension}/"
        chosen = tuple(c[len(prefix):] for c in self.categories.value if c.startswith(prefix)
                       and c[len(prefix):] in leaves)
        self._syncing = True
        try:
            if tuple(self.category_leaves.options) != tuple(leaves):
                self.category_leaves.value = ()
                self.category_leaves.options = leaves
            self.category_leaves.value = chosen
        finally:
            self._syncing = False

    def _leaves_changed(self, change) -> None:
        if self._syncing:
            return
        prefix = f"{self.category_dimension.value}/"
        others = [c for c in self.categories.value
                  if not (c.startswith(prefix) and c[len(prefix):] in self.category_leaves.options)]
        self.categories.value = others + [prefix + leaf for leaf in change["new"]]

    # -- details --------------------------------------------------------------------------------
    @shows_errors
    def open_asset(self, content_id: str) -> None:
        """Open an asset's details in place of the market (one view is counted, SPEC S3)."""
        from .detail import AssetDetail

        self.messages.clear()
        placeholder = w.HTML('<div class="gw-empty">⏳ Opening the asset…</div>')
        self.children = (self._market_children[0], self._market_children[1], self.back_button, placeholder)
        try:
            detail = AssetDetail(self.g, content_id=content_id)
        except BaseException:
            self.show_market()
            raise
        if detail.asset is None:  # e.g. deleted or hidden since the page was listed
            problem = detail.messages.text or f"Could not open {content_id!r}."
            self.show_market()
            self.messages.error(problem)
            return
        self.detail = detail
        self.children = (self._market_children[0], self._market_children[1], self.back_button, detail)

    def show_market(self) -> None:
        """Close the details and show the market again, at the same page and filters."""
        self.detail = None
        self.children = self._market_children
        self.refresh()


__all__ = ["MarketBrowser", "MarketCard", "image_data_uri", "cover_image_html", "row"]
