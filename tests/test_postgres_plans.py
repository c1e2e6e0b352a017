"""PostgreSQL plans the market's statements well at catalogue scale (S1, S2).

Answers alone do not show a slow plan, so this seeds 30,000 assets in SQL (the
distribution of ``benchmarks/seed.py``: "model" in ~88 % of descriptions, "data" in ~95 %,
a rare word in 3), captures the statements each market shape of ``bench_core.py`` sends,
and checks their EXPLAIN: no hash or merge join over a whole posting list, a common word
never read from the GIN index (its 26,000 postings), the page walked along the sort index
instead of sorted, a rare word read from the GIN index. It also checks that no statement is
ever prepared server-side, so PostgreSQL never falls back to a generic plan (the one that
took "model" + a category from 4.5 ms to 230 ms).
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy
from sqlalchemy import event, text

import gallery_widgets as gw
from gallery_widgets.core.taxonomy import all_categories
from gallery_widgets.store.search import _category_token

from conftest import POSTGRES_URL, _postgres_schema_url, gw_url

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="PostgreSQL tests need GALLERY_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1/test)"
)

ASSETS = 30_000
SEED_SQL = """
SELECT setseed(0.42);
INSERT INTO users (id, username, nickname, email, description, role, created_at)
SELECT 1000 + i, 'user' || i, 'User ' || i, '', '', 'user', now() FROM generate_series(0, 299) i;
INSERT INTO assets (id, content_id, kind, title, summary, cover, publisher_id, official, featured, visibility,
                    status, duration_days, auto_renew, paper_title, paper_url, code_open, license, views,
                    favorites, subscriptions, published_at, updated_at)
SELECT i, 'plan' || lpad(i::text, 12, '0'), (ARRAY['algorithm', 'model', 'workflow'])[i % 3 + 1],
       'Asset ' || i, 'summary ' || i, NULL, 1000 + i % 300, random() < 0.02, random() < 0.03,
       CASE WHEN r < 0.9 THEN 'public' WHEN r < 0.95 THEN 'group' ELSE 'private' END,
       CASE WHEN random() < 0.97 THEN 'released' ELSE 'discontinued' END, NULL, false, NULL, NULL, true, 'MIT',
       s * 7, s / 2, s, now() - make_interval(mins => :n - i), now()
FROM (SELECT i, random() AS r, floor(1 / (random() + 0.02))::int AS s FROM generate_series(1, :n) i) x;
INSERT INTO versions (id, asset_id, version, major, minor, patch, description, status, published_at, digest, size,
                      manifest, constraints, findings)
SELECT id, id, '1.0.0', 1, 0, 0, '', 'normal', now(), repeat('0', 64), 0, '{}', '{}', '[]' FROM assets;
INSERT INTO version_whitelist (version_id, username)
SELECT id, CASE WHEN random() < 0.3 THEN 'plan-user' ELSE 'user' || (id % 300) END FROM assets WHERE visibility = 'group';
INSERT INTO asset_categories (asset_id, category, position)
SELECT id, (CAST(:categories AS text[]))[1 + id * 7 % 40], 0 FROM assets;
INSERT INTO asset_categories (asset_id, category, position)
SELECT id, (CAST(:categories AS text[]))[1 + id * 13 % 40 + 1], 1 FROM assets WHERE id % 2 = 0 AND id * 7 % 40 <> id * 13 % 40 + 1;
INSERT INTO asset_texts (asset_id, description, description_html, search_doc, facets)
SELECT id, d, '', title || E'\\n' || d, f FROM (
  SELECT id, title, concat_ws(' ', 'fast robust',
         CASE WHEN random() < 0.88 THEN 'model' END, CASE WHEN random() < 0.95 THEN 'data' END,
         CASE WHEN random() < 0.2 THEN 'forecast' END,
         CASE WHEN id % 10000 = 7 THEN 'zanzibarite' END, 'training accuracy',
         (SELECT string_agg(substr(md5(g::text || id::text), 1, 5), ' ') FROM generate_series(1, 40) g)) AS d,
         concat_ws(' ', CASE WHEN status = 'released' THEN 'zzr' || kind END,
                   CASE WHEN status = 'released' AND visibility = 'public' THEN 'zzp' || kind END,
                   CASE WHEN featured THEN 'zzfeatured' END, CASE WHEN official THEN 'zzofficial' END,
                   (SELECT string_agg((CAST(:tokens AS text[]))[array_position(CAST(:categories AS text[]), c.category)], ' ')
                    FROM asset_categories c WHERE c.asset_id = assets.id)) AS f
  FROM assets) t;
ANALYZE;
"""


@pytest.fixture(scope="module")
def big_gallery(tmp_path_factory):
    schema = f"gw_test_plans_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(gw_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = _postgres_schema_url(schema)
    artifacts = tmp_path_factory.mktemp("plans") / "artifacts"
    try:
        gw.open(url, user="admin", artifacts=artifacts).close()
        engine = sqlalchemy.create_engine(gw_url(url))
        categories = all_categories()[:41]
        tokens = [_category_token(c) for c in categories]
        with engine.begin() as conn:
            for statement in SEED_SQL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"n": ASSETS, "categories": list(categories), "tokens": tokens}
                                 if ":" in statement.replace("::", "") else {})
        engine.dispose()
        g = gw.open(url, user="plan-user", artifacts=artifacts)
        yield g, categories
        g.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _plans(g, *, analyze: bool = False, **search) -> list[str]:
    """EXPLAIN of each assets statement one ``g.search(**search)`` sends, planned as it was
    (``analyze``: and run, showing what was never executed)."""
    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    engine = g._db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        g.search(**search)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    plans = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in sent:
            # The market statements; not a read of rows by their ids.
            if "FROM assets" in statement and "assets.id IN (%(" not in statement:
                options = "ANALYZE, COSTS OFF, TIMING OFF" if analyze else "COSTS OFF"
                cursor.execute(f"EXPLAIN ({options}) " + statement, parameters)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    finally:
        raw.rollback()
        raw.close()
    assert plans, "the search sent no market statement"
    return plans


def _no_whole_list_joins(plans):
    for plan in plans:
        assert "Hash Join" not in plan and "Merge Join" not in plan, plan
        assert "Seq Scan on asset_search" not in plan and "Seq Scan on assets" not in plan, plan


def test_s1_common_word_and_category_reads_the_words_postings_only_intersected_with_the_facets(big_gallery):
    g, categories = big_gallery
    # "model" is in 88 % of the 30,000 assets, but in ~330 released algorithms of one category:
    # the GIN index intersects the word's postings with the kind's and the category's tokens.
    plans = _plans(g, kind="algorithm", query="model", categories=[categories[3]], sort="subscriptions")
    _no_whole_list_joins(plans)
    token = _category_token(categories[3])
    word_reads = [line for plan in plans for line in plan.splitlines() if "Index Cond: (vector @@" in line]
    assert word_reads, plans
    assert all(token in line and "zzralgorithm" in line for line in word_reads), word_reads
    page = plans[-1]
    assert "Bitmap Index Scan on ix_asset_search" in page and "Seq Scan on asset" not in page, page
    assert g.search(kind="algorithm", query="model", categories=[categories[3]]).items


def test_s1_common_word_common_in_its_facets_walks_the_sort_index_never_the_words_postings(big_gallery):
    g, _categories = big_gallery
    plans = _plans(g, kind="algorithm", query="model", sort="subscriptions")
    _no_whole_list_joins(plans)
    page = plans[-1]
    assert "Index Scan Backward using ix_assets_market_subscriptions" in page and "Sort" not in page, page
    assert "Bitmap Index Scan on ix_asset_search" not in page, page  # ~8,800 postings of the kind
    assert "Limit" in plans[0], plans[0]  # the total stops counting at the cap


def test_s1_common_word_deep_page_walks_the_sort_index(big_gallery):
    g, _categories = big_gallery
    plans = _plans(g, kind="model", query="data", page=3, analyze=True)
    assert len(plans) == 1, plans
    plan = plans[0]
    _no_whole_list_joins(plans)
    assert "Limit" in plan and "ix_asset_search" not in plan, plan  # the capped count stops; no posting lists
    assert "Index Scan Backward using ix_assets_market_subscriptions" in plan, plan  # the page: a walk in order
    # Only the page's 20 rows are sorted again and get their categories: not the 40 its OFFSET skips.
    assert plan.startswith("Sort") and plan.count("Sort Key") == 1, plan
    categories = [line for line in plan.splitlines() if "on asset_categories" in line]
    assert categories and all("loops=20)" in line for line in categories), categories


def test_s1_market_without_keyword_and_featured_tab_read_their_indexes_in_order(big_gallery):
    g, _categories = big_gallery
    plans = _plans(g, kind="algorithm")
    _no_whole_list_joins(plans)
    assert "Index Scan Backward using ix_assets_market_subscriptions" in plans[-1] and "Sort" not in plans[-1]
    featured = _plans(g, kind="workflow", tab="featured")
    _no_whole_list_joins(featured)
    assert all("ix_assets_market_featured" in plan for plan in featured), featured


def test_s1_rare_word_is_read_from_the_gin_index(big_gallery):
    g, _categories = big_gallery
    plans = _plans(g, kind="model", query="zanzibarite", sort="favorites")
    _no_whole_list_joins(plans)
    assert all("Bitmap Index Scan on ix_asset_search" in plan for plan in plans), plans
    assert g.search(kind="model", query="zanzibarite").total_is_exact


def test_s2_mid_frequency_word_total_comes_from_its_public_matches_without_the_walk(big_gallery):
    g, _categories = big_gallery
    # "forecast" is in ~20 % of descriptions: ~2,000 released algorithms, ~1,800 of them public.
    from gallery_widgets.store import search_postgres

    search = dict(kind="algorithm", query="forecast", sort="latest")
    search_postgres._word_sizes.clear()
    found = g.search(**search)
    assert found.total == 200 and not found.total_is_exact
    public = [n for key, (_at, n) in search_postgres._word_sizes.items() if "zzpalgorithm" in key[1]]
    assert public == [201], search_postgres._word_sizes  # counted in the GIN index up to the cap + 1
    plans = _plans(g, analyze=True, **search)  # and kept: the page is all that runs now
    assert len(plans) == 1 and "InitPlan" not in plans[0], plans  # no exact capped count
    assert "Hash Join" not in plans[0] and "Merge Join" not in plans[0], plans[0]


def test_s2_page_without_words_takes_its_capped_total_from_the_public_matches_of_its_facets(big_gallery):
    """A category page's exact capped count joined ~700 category rows to their assets on every
    request; when more than the cap of the kind's public assets have the category, the total
    is "200+" without it (kept PUBLIC_TTL_S for every user)."""
    g, categories = big_gallery
    from gallery_widgets.store import search_postgres

    search = dict(kind="algorithm", categories=(categories[3],), sort="latest")
    search_postgres._word_sizes.clear()
    found = g.search(**search)
    assert found.total == 200 and not found.total_is_exact and len(found.items) == 20
    token = _category_token(categories[3])
    public = [n for key, (_at, n) in search_postgres._word_sizes.items() if "zzpalgorithm" in key[1] and token in key[1]]
    assert public == [201], search_postgres._word_sizes
    plans = _plans(g, analyze=True, **search)
    assert len(plans) == 1 and "InitPlan" not in plans[0], plans  # the page alone: no capped count


def test_s2_market_statements_are_prepared_but_always_planned_with_their_values(big_gallery):
    """Prepared statements save PostgreSQL the parsing; force_custom_plan keeps a generic plan
    (blind to how common a word or category is) from ever being used."""
    g, categories = big_gallery
    for _ in range(8):  # on the pool's one connection here, which the check below reuses
        g.search(kind="algorithm", query="model", categories=[categories[3]])
        g.search(kind="algorithm")
    with g._db.engine.connect() as conn:
        assert conn.connection.driver_connection.prepare_threshold == 2
        prepared, generic, custom = conn.exec_driver_sql(
            "SELECT count(*), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) "
            "FROM pg_prepared_statements").one()
    assert prepared >= 2 and custom >= 12, (prepared, custom)  # both market statements, run 6+ times each prepared
    assert generic == 0


def test_s2_gallery_db_prepare_0_turns_preparing_off(monkeypatch):
    from gallery_widgets.store import engine

    monkeypatch.setenv("GALLERY_DB_PREPARE", "0")
    assert engine._prepare_threshold() is None
    monkeypatch.setenv("GALLERY_DB_PREPARE", "five")
    with pytest.raises(gw.InvalidInput, match="GALLERY_DB_PREPARE"):
        engine._prepare_threshold()


def test_s1_every_pooled_connection_plans_for_pages_not_for_whole_tables(big_gallery):
    g, _categories = big_gallery
    with g._db.engine.connect() as conn:
        shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                 for name in ("enable_hashjoin", "enable_mergejoin", "max_parallel_workers_per_gather", "jit",
                                 "plan_cache_mode")}
        conn.rollback()  # a transaction ending in rollback keeps the settings (they are not LOCAL)
        assert conn.exec_driver_sql("SHOW enable_hashjoin").scalar() == "off"
    assert shown == {"enable_hashjoin": "off", "enable_mergejoin": "off", "max_parallel_workers_per_gather": "0",
                     "jit": "off", "plan_cache_mode": "force_custom_plan"}
