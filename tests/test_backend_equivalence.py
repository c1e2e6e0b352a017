"""SQLite and PostgreSQL answer every market query alike (S1, S2, V1, V2, V5).

Both databases are seeded with the same catalogue of 3,000 assets (bulk rows, as
``benchmarks/seed.py`` does, but with random visibility, whitelists on some versions,
several versions per asset with discontinued ones, discontinued assets, flags,
favorites and accented titles), then asked the same searches page after page: the same
content ids in the same order, the same totals and the same "exact or capped" answer.
The two paths share no query code past the core's SQL filters (FTS5 facet tokens on
SQLite, structured filters plus a GIN word set on PostgreSQL), so this is what keeps them
from drifting apart. Relevance ranks differently by design (FTS5's bm25 vs ``ts_rank``),
so for it the test compares totals and the set of assets, not their order.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy
from sqlalchemy import insert, select

import gallery_widgets as gw
from gallery_widgets.core.taxonomy import all_categories
from gallery_widgets.store.schema import (
    AssetCategoryRow,
    AssetRow,
    AssetTextRow,
    FavoriteRow,
    UserRow,
    VersionRow,
    WhitelistRow,
)
from gallery_widgets.store.search import TOTAL_CAP, facets, without_accents

from conftest import POSTGRES_URL, _postgres_schema_url, gw_url

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="PostgreSQL tests need GALLERY_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1/test)"
)

ASSETS = 3000
USERS = ["admin", "pub0", "pub1", "pub2", "pub3", "pub4", "wl-ana", "wl-ben", "plain", "fan"]
WORDS = ["resnet", "model", "data", "forecast", "zanzibarite", "cafe", "café", "reinf lear", "image resnet",
         "pub3", "nowhere"]
CATEGORY_CHOICES = [(), ("Industry/Finance",), ("Scenario/Robot",), ("Industry/Finance", "Scenario/Robot")]
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _catalogue(rng: random.Random):
    """Rows of every table, the same for both databases."""
    categories = all_categories()[:12]
    users = [{"id": i + 1, "username": name, "nickname": name.title(), "email": "", "description": "",
              "role": "admin" if name == "admin" else "user", "created_at": NOW} for i, name in enumerate(USERS)]
    publishers = [u for u in users if u["username"].startswith("pub")]
    titles = ["ResNet image classifier", "Reinforcement learning agent", "Café sales forecast", "BERT text model",
              "Data pipeline", "Prophet forecast", "XGBoost churn model", "Résumé parser"]
    assets, texts, cats, versions, whitelist, favorites = [], [], [], [], [], []
    version_id = 0
    for i in range(1, ASSETS + 1):
        kind = ("algorithm", "model", "workflow")[i % 3]
        publisher = rng.choice(publishers)
        roll = rng.random()
        visibility = "public" if roll < 0.6 else ("group" if roll < 0.85 else "private")
        status = "released" if rng.random() < 0.9 else "discontinued"
        subs = rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 40])  # many ties: the id breaks them
        title = f"{rng.choice(titles)} {i}"
        summary = rng.choice(["fast and robust", "tuned on data", "a model for finance", "robot control"])
        words = rng.choices("model data training accuracy pipeline features evaluation".split(), k=rng.randint(3, 9))
        if i % 997 == 5:
            words.append("zanzibarite")
        description = " ".join(words)
        official, featured = rng.random() < 0.1, rng.random() < 0.1
        chosen = rng.sample(categories, rng.randint(0, 3))
        if rng.random() < 0.15:
            chosen = sorted(set(chosen) | {"Industry/Finance"})
        if rng.random() < 0.15:
            chosen = sorted(set(chosen) | {"Scenario/Robot"})
        audience = {publisher["username"]}
        for number in range(rng.randint(1, 3)):
            version_id += 1
            versions.append({
                "id": version_id, "asset_id": i, "version": f"1.{number}.0", "major": 1, "minor": number, "patch": 0,
                "description": "", "status": "discontinued" if rng.random() < 0.2 else "normal",
                "published_at": NOW, "digest": "0" * 64, "size": 0, "manifest": {}, "constraints": {},
                "findings": [],
            })
            if visibility == "group":
                for user in rng.sample(["wl-ana", "wl-ben", "fan", "pub1"], rng.randint(0, 2)):
                    whitelist.append({"version_id": version_id, "username": user})
                    audience.add(user)
        assets.append({
            "id": i, "content_id": f"eq{i:012d}", "kind": kind, "title": title, "summary": summary, "cover": None,
            "publisher_id": publisher["id"], "official": official, "featured": featured, "visibility": visibility,
            "status": status, "duration_days": None, "auto_renew": False, "paper_title": None, "paper_url": None,
            "code_open": True, "license": "MIT", "views": rng.choice([0, 1, 7, 7, 30]), "favorites": subs // 2,
            "subscriptions": subs, "published_at": NOW - timedelta(minutes=rng.randint(0, 50)), "updated_at": NOW,
        })
        cats.extend({"asset_id": i, "category": c, "position": p} for p, c in enumerate(chosen))
        texts.append({
            "asset_id": i, "description": description, "description_html": "",
            "search_doc": without_accents("\n".join(
                (title, summary, description, publisher["username"], publisher["nickname"]))),
            "facets": facets(kind=kind, status=status, visibility=visibility, official=official, featured=featured,
                             categories=chosen, audience=audience if visibility == "group" else {publisher["username"]}),
        })
        if rng.random() < 0.05:
            favorites.append({"user_id": USERS.index("fan") + 1, "asset_id": i, "created_at": NOW})
    return [(UserRow, users), (AssetRow, assets), (AssetTextRow, texts), (AssetCategoryRow, cats),
            (VersionRow, versions), (WhitelistRow, whitelist), (FavoriteRow, favorites)]


def _seed(url: str, tables, artifacts) -> None:
    gw.open(url, user="admin", artifacts=artifacts).close()  # creates the schema at head
    engine = sqlalchemy.create_engine(gw_url(url))
    with engine.begin() as conn:
        conn.execute(sqlalchemy.delete(UserRow))
        for row_class, rows in tables:
            if rows:
                conn.execute(insert(row_class), rows)
        if engine.dialect.name == "postgresql":
            for table in ("users", "assets", "versions"):
                conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
            conn.exec_driver_sql("ANALYZE")
        assert conn.scalar(select(sqlalchemy.func.count()).select_from(AssetRow)) == ASSETS
    engine.dispose()


@pytest.fixture(scope="module")
def galleries(tmp_path_factory):
    """{user: (sqlite gallery, postgres gallery)} over the same seeded catalogue."""
    folder = tmp_path_factory.mktemp("equivalence")
    tables = _catalogue(random.Random(12))
    schema = f"gw_test_eq_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(gw_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    urls = {"sqlite": f"sqlite:///{folder / 'gallery.db'}", "postgres": _postgres_schema_url(schema)}
    try:
        for name, url in urls.items():
            _seed(url, tables, folder / f"artifacts-{name}")
        opened = {
            user: tuple(gw.open(urls[name], user=user, artifacts=folder / f"artifacts-{name}")
                        for name in ("sqlite", "postgres"))
            for user in USERS
        }
        yield opened
        for pair in opened.values():
            for g in pair:
                g.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _queries(rng: random.Random, count: int):
    for _ in range(count):
        yield dict(
            kind=rng.choice(["algorithm", "model", "workflow"]),
            query=rng.choice(WORDS + ["", "", ""]),
            tab=rng.choice(["all", "all", "featured", "official", "favorites"]),
            categories=rng.choice(CATEGORY_CHOICES),
            sort=rng.choice(["subscriptions", "favorites", "views", "latest", "relevance"]),
        )


def _answer(g, query: dict, page: int, page_size: int):
    result = g.search(**query, page=page, page_size=page_size)
    return result.total, result.total_is_exact, [a.content_id for a in result.items]


@pytest.mark.parametrize("user", USERS)
def test_s1_s2_v1_sqlite_and_postgres_give_the_same_pages_totals_and_order(galleries, user):
    lite, pg = galleries[user]
    rng = random.Random(f"queries-{user}")
    answered = 0
    for query in _queries(rng, 40):
        page_size = rng.choice([7, 20, 50])
        ranked = query["sort"] == "relevance" and query["query"].strip() and query["tab"] != "favorites"
        first = _answer(lite, query, 1, page_size)
        total, exact, _ids = first
        answered += bool(total)
        last_offered = max(1, -(-total // page_size))
        pages = sorted({1, 2, 3, last_offered, last_offered + 1})
        seen = {"sqlite": [], "postgres": []}
        for page in pages:
            a, b = _answer(lite, query, page, page_size), _answer(pg, query, page, page_size)
            where = f"user {user}, {query}, page {page} of size {page_size}"
            assert a[:2] == b[:2], f"totals differ for {where}: SQLite {a[:2]}, PostgreSQL {b[:2]}"
            if ranked:
                seen["sqlite"] += a[2]
                seen["postgres"] += b[2]
            else:
                assert a[2] == b[2], f"pages differ for {where}"
            # The pager is right on every page it offers: those pages are full, the next one is not
            # offered unless the total is a lower bound.
            if page < last_offered:
                assert len(a[2]) == page_size, where
        if ranked and exact and total <= 3 * page_size:
            assert sorted(seen["sqlite"]) == sorted(seen["postgres"])
    assert answered >= 10, "the sampled queries should mostly find something"


@pytest.mark.parametrize("user", ["admin", "pub1", "wl-ana", "plain"])
def test_s1_v1_a_word_narrowed_by_its_facets_gives_the_same_answers(galleries, user, monkeypatch):
    """PostgreSQL reads a common word from the GIN index once the kind, category and tab
    tokens make it rare; at this catalogue's size that takes a low threshold."""
    from gallery_widgets.store import search_postgres

    monkeypatch.setattr(search_postgres, "RARE_WORDS", 25)
    monkeypatch.setattr(search_postgres, "_word_sizes", {})
    lite, pg = galleries[user]
    rng = random.Random(f"narrowed-{user}")
    for query in _queries(rng, 40):
        query["sort"] = query["sort"] if query["sort"] != "relevance" else "latest"
        for page in (1, 2):
            a, b = _answer(lite, query, page, 7), _answer(pg, query, page, 7)
            assert a == b, f"user {user}, {query}, page {page}: SQLite {a}, PostgreSQL {b}"
    narrowed = [key for key, (_at, found) in search_postgres._word_sizes.items()
                if ":D" in key[1] and found <= 25]
    assert narrowed, "no query took the narrowed path; the test would prove nothing"


@pytest.mark.parametrize("user", ["admin", "pub1", "wl-ana", "plain"])
def test_s2_v1_capped_totals_from_public_matches_equal_the_counted_ones(galleries, user, monkeypatch):
    """For a mid-frequency word PostgreSQL counts the word's *public* matches in the GIN index
    first and skips the exact count when they alone pass the cap. A cap of 5 and thresholds
    that make every common word "mid" take that path here; totals must stay SQLite's."""
    from gallery_widgets.store import search, search_postgres

    monkeypatch.setattr(search, "TOTAL_CAP", 5)
    monkeypatch.setattr(search_postgres, "RARE_WORDS", 3)
    monkeypatch.setattr(search_postgres, "MID_WORDS", 10**6)
    monkeypatch.setattr(search_postgres, "_word_sizes", {})
    lite, pg = galleries[user]
    rng = random.Random(f"mid-{user}")
    capped = exact = 0
    for query in _queries(rng, 60):
        query["sort"] = query["sort"] if query["sort"] != "relevance" else "latest"
        if query["tab"] == "favorites" or not query["query"].strip():
            continue
        for page in (1, 2):
            a, b = _answer(lite, query, page, 2), _answer(pg, query, page, 2)
            assert a == b, f"user {user}, {query}, page {page}: SQLite {a}, PostgreSQL {b}"
            capped += not a[1]
            exact += a[1] and a[0] > 0
    assert capped and exact, "both capped and exact totals should occur, or the test proves nothing"


def test_s2_capped_totals_are_lower_bounds_and_every_offered_page_is_full(galleries):
    lite, pg = galleries["admin"]
    for g in (lite, pg):
        first = g.search(kind="algorithm", page_size=20)
        assert (first.total, first.total_is_exact) == (TOTAL_CAP, False)
        last = g.search(kind="algorithm", page=first.pages, page_size=20)
        assert len(last.items) == 20
        beyond = g.search(kind="algorithm", page=first.pages + 1, page_size=20)
        assert len(beyond.items) == 20 and beyond.total >= (first.pages + 1) * 20
        # A deep page counts to its own end; the last page of all is exact.
        every = g.search(kind="algorithm", page=1000, page_size=20)
        assert every.items == () and every.total_is_exact and every.total > TOTAL_CAP
        final = g.search(kind="algorithm", page=every.pages, page_size=20)
        assert final.total == every.total and final.total_is_exact and 1 <= len(final.items) <= 20


def test_s1_cafe_finds_cafe_with_its_accent_on_both(galleries):
    lite, pg = galleries["admin"]
    for g in (lite, pg):
        plain = g.search(kind="model", query="cafe", page_size=100)
        accented = g.search(kind="model", query="Café", page_size=100)
        assert plain.total > 0 and [a.content_id for a in plain] == [a.content_id for a in accented]
        assert all("Café" in a.title or "cafe" in a.title.lower() for a in plain)
        assert g.search(kind="algorithm", query="resume").total > 0  # "Résumé parser"


def test_s1_market_browser_shows_a_capped_total_with_a_plus_and_keeps_next_on(galleries):
    from gallery_widgets.widgets.market import MarketBrowser

    lite, pg = galleries["admin"]
    for g in (lite, pg):
        browser = MarketBrowser(g, kind="algorithm", page_size=20)
        pages = TOTAL_CAP // 20
        assert browser.page_label.value == f"Page 1 of {pages}+ · {TOTAL_CAP:,}+ assets"
        browser.go_to(pages)
        assert not browser.next_button.disabled  # more than the cap: the pager goes on
        browser.next_button.click()
        assert browser.page.page == pages + 1 and len(browser.page.items) == 20
        assert browser.page_label.value.startswith(f"Page {pages + 1} of {pages + 1}+")
        # Narrow enough and the total is exact again, with no "+".
        browser.search.value = "zanzibarite"
        assert "+" not in browser.page_label.value and browser.page.total_is_exact
