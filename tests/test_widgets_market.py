"""MarketBrowser (SPEC §5, S1-S3): driven from Python over a real embedded (SQLite) gallery.

"alice" publishes, "bob" browses, "admin" (the first user) marks official / featured.
Widgets are driven the way a browser would: ``.value = …`` and ``.click()``.
"""

from __future__ import annotations

import textwrap

import pytest

import gallery_widgets as gw
from conftest import PNG_1PX
from gallery_widgets.widgets.market import EMPTY_FAVORITES, EMPTY_FILTERS, MarketBrowser


@pytest.fixture
def gallery_url(tmp_path):
    """Widget tests run over SQLite only (the service itself is tested on both backends)."""
    return f"sqlite:///{tmp_path / 'gallery.db'}"


def shown(browser) -> list[str]:
    return [card.content_id for card in browser.cards]


def titles(browser) -> list[str]:
    return [card.summary.title for card in browser.cards]


def service_ids(g, **search) -> list[str]:
    return [a.content_id for a in g.search(**search).items]


@pytest.fixture
def catalogue(admin, alice, bob, publish, clock):
    """Five public algorithms by alice with categories, one private one, and a model."""
    made = {}
    specs = [
        ("Churn forecaster", "Gradient boosting on usage logs", ["Industry/Retail", "Scenario/Forecasting"]),
        ("Robot arm planner", "Reinforcement learning for arms", ["Scenario/Robot", "Engine/PyTorch"]),
        ("Street counter", "Counts people in city areas", ["Scenario/City Area", "Engine/PyTorch"]),
        ("Smart thermostat", "Forecasts room temperature", ["Industry/Smart Home", "Scenario/Forecasting"]),
        ("Face matcher", "Human identity from photos", ["Scenario/Human Identity"]),
    ]
    for title, summary, categories in specs:
        made[title] = publish(alice, title, summary=summary, categories=categories)
        clock.advance(minutes=1)
    made["Secret"] = publish(alice, "Secret sauce", visibility="private")
    return made


# -- first page, cards, kinds -------------------------------------------------------------------


def test_s1_market_browser_shows_the_service_page_as_cards(catalogue, bob):
    browser = MarketBrowser(bob)
    assert shown(browser) == service_ids(bob, kind="algorithm")
    assert len(browser.cards) == 5
    assert browser.page.total == 5
    assert browser.page_label.value == "Page 1 of 1 · 5 assets"
    card = browser.cards[0]
    assert card.open_button.description == "Open"
    body = card.body.value
    assert card.summary.title in body and "alice" in body and " view" in body
    assert "gw-cover" in card.cover.value  # a generated cover: the asset has none
    assert browser.messages.text == ""
    assert "gw-market" in browser._dom_classes and "gw-card" in card._dom_classes


def test_s2_market_browser_shows_only_visible_released_assets(catalogue, alice, bob):
    alice.discontinue(catalogue["Face matcher"].content_id)
    browser = MarketBrowser(bob)
    assert catalogue["Secret"].content_id not in shown(browser)
    assert catalogue["Face matcher"].content_id not in shown(browser)
    assert browser.page_label.value == "Page 1 of 1 · 4 assets"


def test_s1_market_browser_kind_tabs(catalogue, alice, bob, tmp_path):
    folder = tmp_path / "model-src"
    folder.mkdir()
    (folder / "model.yaml").write_text("name: tiny-model\nloader: load:load\n")
    (folder / "load.py").write_text(textwrap.dedent("""
        class P:
            def predict(self, x):
                return x
        def load(path):
            return P()
    """))
    model = alice.publish(gw.Model.from_dir(folder), title="Tiny model", visibility="public", agree=True)
    browser = MarketBrowser(bob)
    assert model.content_id not in shown(browser)
    browser.kind_tabs.value = "model"
    assert shown(browser) == [model.content_id]
    assert browser.page_label.value == "Page 1 of 1 · 1 asset"
    browser.kind_tabs.value = "workflow"
    assert browser.cards == []
    assert EMPTY_FILTERS in browser.empty.value
    assert browser.grid.layout.display == "none"
    browser.kind_tabs.value = "algorithm"
    assert len(browser.cards) == 5
    assert browser.empty.layout.display == "none"


def test_s1_market_browser_opens_on_the_kind_given(catalogue, bob):
    assert MarketBrowser(bob, kind="workflow").cards == []
    browser = MarketBrowser(bob, kind="dataset")
    assert browser.kind_tabs.value == "algorithm" and len(browser.cards) == 5
    assert "no 'dataset' market" in browser.messages.text


# -- quick tabs, categories, sort, search --------------------------------------------------------


def test_s1_market_browser_quick_tabs(catalogue, admin, bob):
    official = catalogue["Street counter"].content_id
    featured = catalogue["Churn forecaster"].content_id
    admin.set_official(official, True)
    admin.set_featured(featured, True)
    browser = MarketBrowser(bob)
    card = next(c for c in browser.cards if c.content_id == official)
    assert "Official" in card.body.value
    browser.quick_tabs.value = "official"
    assert shown(browser) == [official]
    browser.quick_tabs.value = "featured"
    assert shown(browser) == [featured]
    assert "Featured" in browser.cards[0].body.value
    browser.quick_tabs.value = "favorites"
    assert browser.cards == []
    assert EMPTY_FAVORITES in browser.empty.value
    bob.favorite(featured)
    browser.refresh()
    assert shown(browser) == [featured]
    browser.quick_tabs.value = "all"
    assert len(browser.cards) == 5


def test_s1_market_browser_categories_match_every_chosen_one(catalogue, bob):
    browser = MarketBrowser(bob)
    browser.categories.value = ["Engine/PyTorch"]
    assert set(titles(browser)) == {"Robot arm planner", "Street counter"}
    browser.categories.value = ["Engine/PyTorch", "Scenario/Robot"]
    assert titles(browser) == ["Robot arm planner"]
    assert browser.category_toggle.description == "2 categories"
    browser.categories.value = ["Engine/PyTorch", "Industry/Retail"]
    assert browser.cards == [] and EMPTY_FILTERS in browser.empty.value
    browser.category_clear.click()
    assert len(browser.cards) == 5
    assert browser.category_toggle.description == "All categories"


def test_s1_market_browser_category_picker_by_dimension(catalogue, bob):
    browser = MarketBrowser(bob)
    browser.category_toggle.click()
    assert browser.category_panel.layout.display != "none"
    browser.category_dimension.value = "Scenario"
    assert "Forecasting" in browser.category_leaves.options
    browser.category_leaves.value = ("Forecasting",)
    assert list(browser.categories.value) == ["Scenario/Forecasting"]
    assert set(titles(browser)) == {"Churn forecaster", "Smart thermostat"}
    browser.category_dimension.value = "Industry"
    assert browser.category_leaves.value == ()
    browser.category_leaves.value = ("Smart Home",)
    assert list(browser.categories.value) == ["Scenario/Forecasting", "Industry/Smart Home"]
    assert titles(browser) == ["Smart thermostat"]
    browser.category_dimension.value = "Scenario"
    assert browser.category_leaves.value == ("Forecasting",)  # the picker shows what is chosen


def test_s1_market_browser_sort(catalogue, alice, bob, admin, open_as):
    carol = open_as("carol")
    street, robot = catalogue["Street counter"].content_id, catalogue["Robot arm planner"].content_id
    for g in (bob, carol):
        g.favorite(street)
    admin.favorite(robot)
    for _ in range(3):
        carol.asset(robot)
    browser = MarketBrowser(bob)
    assert browser.sort.value == "subscriptions"
    browser.sort.value = "favorites"
    assert shown(browser)[0] == street
    assert shown(browser) == service_ids(bob, kind="algorithm", sort="favorites")
    browser.sort.value = "views"
    assert shown(browser)[0] == robot
    browser.sort.value = "latest"
    assert titles(browser)[0] == "Face matcher"
    assert [label for label, _ in browser.sort.options] == [
        "Most subscriptions", "Most favorites", "Most views", "Latest published", "Relevance"]


def test_s1_market_browser_search_narrows_cards(catalogue, bob):
    browser = MarketBrowser(bob)
    assert browser.search.continuous_update is False  # searches on Enter, not on every key
    browser.search.value = "forecast"
    assert set(titles(browser)) == {"Churn forecaster", "Smart thermostat"}
    browser.search.value = "forecast room"
    assert titles(browser) == ["Smart thermostat"]
    browser.sort.value = "relevance"
    assert titles(browser) == ["Smart thermostat"]
    browser.search.value = "alice"  # the publisher is searched too
    assert len(browser.cards) == 5
    browser.search.value = "nothing-like-this"
    assert browser.cards == [] and EMPTY_FILTERS in browser.empty.value
    assert browser.page_label.value == "Page 1 of 1 · 0 assets"


# -- paging ----------------------------------------------------------------------------------------


def test_s1_market_browser_pager_and_label(catalogue, bob):
    browser = MarketBrowser(bob, page_size=2)
    assert browser.page_label.value == "Page 1 of 3 · 5 assets"
    assert browser.prev_button.disabled and not browser.next_button.disabled
    first = shown(browser)
    browser.next_button.click()
    assert browser.page_label.value == "Page 2 of 3 · 5 assets"
    assert shown(browser) == service_ids(bob, kind="algorithm", page=2, page_size=2)
    assert not set(first) & set(shown(browser))
    browser.next_button.click()
    assert browser.page_label.value == "Page 3 of 3 · 5 assets"
    assert len(browser.cards) == 1 and browser.next_button.disabled
    browser.prev_button.click()
    assert browser.page.page == 2
    browser.search.value = "forecast"  # a new filter starts again at page 1
    assert browser.page_label.value == "Page 1 of 1 · 2 assets"
    assert browser.prev_button.disabled and browser.next_button.disabled


def test_market_browser_reuses_card_widgets(catalogue, bob):
    browser = MarketBrowser(bob, page_size=2)
    before = list(browser.cards)
    browser.next_button.click()
    assert [id(c) for c in browser.cards] == [id(c) for c in before]
    assert len(browser._pool) == 2  # memory is bounded by the page


def test_market_browser_real_cover_image(catalogue, alice, bob):
    cid = catalogue["Churn forecaster"].content_id
    alice.edit_asset(cid, cover=PNG_1PX)
    browser = MarketBrowser(bob)
    browser._cover_thread.join(10)
    card = next(c for c in browser.cards if c.content_id == cid)
    assert "data:image/png;base64," in card.cover.value
    others = [c for c in browser.cards if c.content_id != cid]
    assert all("data:image" not in c.cover.value for c in others)


# -- opening an asset and going back --------------------------------------------------------------


def test_s3_market_browser_opens_detail_and_goes_back_to_the_same_page(catalogue, alice, bob):
    browser = MarketBrowser(bob, page_size=2)
    browser.next_button.click()
    card = browser.cards[1]
    cid = card.content_id
    card.open_button.click()
    assert browser.detail is not None and browser.detail.asset.content_id == cid
    assert browser.back_button in browser.children and browser.detail in browser.children
    assert browser.grid not in browser.children
    assert {a.content_id: a.views for a in alice.publishes()}[cid] == 1  # one view (S3)
    browser.detail.favorite_button.click()
    browser.back_button.click()
    assert browser.detail is None and browser.grid in browser.children
    assert browser.page_label.value == "Page 2 of 3 · 5 assets"
    card = next(c for c in browser.cards if c.content_id == cid)
    assert "☆ 1" in card.body.value  # counters drawn again from the service


def test_market_browser_deleted_asset_shows_not_found_inline(catalogue, alice, bob):
    browser = MarketBrowser(bob)
    cid = catalogue["Face matcher"].content_id
    card = next(c for c in browser.cards if c.content_id == cid)
    alice.delete(cid)
    card.open_button.click()  # must not raise
    assert browser.detail is None
    assert "No asset" in browser.messages.text and "gw-error" in browser.messages.value
    assert browser.grid in browser.children
    assert cid not in shown(browser)  # the page was drawn again


def test_market_browser_bad_query_is_shown_inline(catalogue, bob):
    browser = MarketBrowser(bob)
    browser.search.value = "x" * 201
    assert "query" in browser.messages.text and "200" in browser.messages.text
    assert len(browser.cards) == 5  # the last good page stays
    browser.search.value = "forecast"
    assert browser.messages.text == ""


def test_market_browser_loading_state_is_cleared(catalogue, bob, monkeypatch):
    browser = MarketBrowser(bob)
    seen = []
    original = bob.search

    def spy(**query):
        seen.append(browser.loading.value)
        return original(**query)

    monkeypatch.setattr(bob, "search", spy)
    browser.sort.value = "views"
    assert seen and "Loading" in seen[0]
    assert browser.loading.value == ""
