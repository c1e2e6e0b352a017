"""The demo catalogue (`gallery-widgets demo`, gallery_widgets.demo.load_demo): what a first run shows."""

from __future__ import annotations

import pytest

import gallery_widgets as gw
from gallery_widgets import demo
from gallery_widgets.cli import main as cli_main


@pytest.fixture
def demo_url(gallery_url, tmp_path, monkeypatch):
    """A fresh gallery (SQLite, and PostgreSQL when configured) with its artifacts under tmp_path."""
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GALLERY_ARTIFACTS", str(tmp_path / "artifacts"))
    return gallery_url


def _as(url, user, tmp_path):
    return gw.open(url, user=user, artifacts=tmp_path / "artifacts")


def test_demo_catalogue_is_idempotent(demo_url, tmp_path):
    first = demo.load_demo(demo_url)
    spec = demo.catalogue()
    keys = [a["key"] for a in spec["assets"]]
    assert first["created"] == keys and not first["existing"] and not first["warnings"]
    assert 25 <= len(keys) <= 40
    assert first["admin"] == "admin" and first["demo_user"] == "sam"

    sam = _as(demo_url, "sam", tmp_path)
    before = {kind: sam.search(kind=kind, page_size=100) for kind in ("algorithm", "model", "workflow")}
    counters_before = {a.content_id: (a.views, a.favorites, a.subscriptions) for p in before.values() for a in p.items}
    comments_before = sam.comments(first["assets"]["holt-winters"]).total

    second = demo.load_demo(demo_url)
    assert second["created"] == [] and second["existing"] == keys
    assert second["assets"] == first["assets"]
    after = {kind: sam.search(kind=kind, page_size=100) for kind in ("algorithm", "model", "workflow")}
    assert {k: p.total for k, p in after.items()} == {k: p.total for k, p in before.items()}
    assert {a.content_id: (a.views, a.favorites, a.subscriptions) for p in after.values() for a in p.items} \
        == counters_before
    assert sam.comments(first["assets"]["holt-winters"]).total == comments_before
    admin = _as(demo_url, "admin", tmp_path)
    assert admin.publishes() == ()  # the operator publishes nothing itself
    assert len({(a.title, a.kind) for u in first["users"] for a in _as(demo_url, u, tmp_path).publishes()}) \
        == len(keys)


def test_demo_catalogue_looks_like_a_real_market(demo_url, tmp_path):
    ids = demo.load_demo(demo_url)["assets"]
    sam = _as(demo_url, "sam", tmp_path)
    omar = _as(demo_url, "omar", tmp_path)
    algorithms = sam.search(kind="algorithm", page_size=100)
    assert algorithms.total >= 10
    assert sam.search(kind="model").total >= 6 and sam.search(kind="workflow").total >= 3
    assert sam.search(kind="algorithm", tab="official").total >= 3
    assert sam.search(kind="algorithm", tab="featured").total >= 2
    assert sam.search(kind="algorithm", tab="favorites").total >= 1
    assert all(a.subscriptions > 0 and a.views > 0 for a in algorithms.items)
    assert sum(a.favorites for a in algorithms.items) > 5
    assert len({a.publisher for a in algorithms.items}) >= 4
    assert all(a.publisher_nickname and a.publisher_nickname != a.publisher for a in algorithms.items)
    assert len({a.published_at.date() for a in algorithms.items}) > 5  # spread over months
    assert sam.search(kind="algorithm", query="forecast").total < algorithms.total

    holt = sam.asset(ids["holt-winters"])
    assert [v.version for v in holt.versions] == ["2.0.0", "1.1.0", "1.0.0"]
    assert holt.duration == gw.Duration(30, auto_renew=True) and holt.featured and holt.cover
    assert holt.paper is not None and "<h2>" in holt.description_html
    assert sam.comments(ids["holt-winters"]).total == 3
    logistic = _as(demo_url, "ai-lab", tmp_path).asset(ids["logistic-regression"])
    assert logistic.official and [(v.version, v.status) for v in logistic.versions] == [
        ("1.2.0", "normal"), ("1.1.0", "normal"), ("1.0.0", "discontinued")]

    # a group asset (whitelisted: sam, lena), a private draft, a discontinued asset
    assert sam.asset(ids["crop-health"]).visibility == "group"
    with pytest.raises(gw.NotFound):
        omar.asset(ids["crop-health"])
    with pytest.raises(gw.NotFound):
        sam.asset(ids["field-clustering-draft"])
    assert "Legacy churn scorer" not in [a.title for a in sam.search(kind="algorithm", page_size=100).items]

    subscriptions = {s.title: s for s in sam.subscriptions()}
    assert subscriptions["Holt-Winters demand forecaster"].remaining_days >= 15
    assert subscriptions["k-means clustering"].status == "cancelled"
    assert subscriptions["Legacy churn scorer"].asset_status == "discontinued"
    assert subscriptions["Daily sales forecasting pipeline"].usable
    assert "Rolling z-score anomaly detector" not in subscriptions  # left for the browser test to subscribe
    assert [a.title for a in sam.publishes()] == ["Feature scaler (pandas)"]
    me = sam.me
    assert me.nickname == "Sam Rivera" and me.avatar and me.email


def _demo_algorithms():
    seen, items = set(), []
    for item in demo.catalogue()["assets"]:
        if item["kind"] == "algorithm" and item["source"] not in seen:
            seen.add(item["source"])
            items.append(item)
    return items


def test_demo_algorithms_really_train(tmp_path, monkeypatch):
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "home"))
    items = _demo_algorithms()
    assert len(items) >= 10
    jobs = {}
    for item in items:  # started together, waited for together
        algorithm = gw.Algorithm.from_dir(demo.DEMO_DIR / item["source"])
        example = item["example"]
        inputs = {name: demo.dataset(data) for name, data in example["inputs"].items()}
        jobs[item["key"]] = algorithm.train(example.get("params") or {}, inputs, output_dir=tmp_path / item["key"])
    failures = {}
    for key, job in jobs.items():
        job.wait(timeout=120)
        if job.status != "succeeded" or not job.metrics:
            failures[key] = (job.status, job.error, job.logs[-2000:])
    assert not failures
    assert jobs["logistic-regression"].metrics["accuracy"] > 0.7
    assert jobs["naive-bayes"].metrics["accuracy"] > 0.8
    assert jobs["linear-regression"].metrics["r2"] > 0.9
    assert (tmp_path / "holt-winters" / "model" / "forecast.csv").read_text().count("\n") == 15


def test_demo_models_predict_and_workflow_runs(demo_url, tmp_path):
    ids = demo.load_demo(demo_url)["assets"]
    for item in demo.catalogue()["assets"]:
        if item["kind"] != "model":
            continue
        subscriber = item["subscribers"][0]  # every demo model has one
        predictor = _as(demo_url, subscriber, tmp_path).import_model(ids[item["key"]])
        predictions = predictor.predict(item["example"])
        assert len(predictions) == len(item["example"]), item["key"]
    assert _as(demo_url, "arjun", tmp_path).import_model(ids["sentiment"]).predict(
        ["Love it, works perfectly", "Not good, stopped working"]) == ["positive", "negative"]

    sam = _as(demo_url, "sam", tmp_path)
    pipeline = sam.import_workflow(ids["sales-pipeline"], name="sales_test")
    assert [s["name"] for s in pipeline.steps] == ["prep", "train"]
    run = pipeline.run().wait(timeout=120)
    assert run.status == "succeeded", {n: (s.status, s.error) for n, s in run.steps.items()}
    assert run.jobs["prep"].metrics["rows_train"] > 100
    assert run.jobs["train"].metrics["mae"] > 0


def test_demo_command_fills_the_embedded_gallery(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "home"))
    assert cli_main(["demo"]) == 0
    assert f"{len(demo.catalogue()['assets'])} added" in capsys.readouterr().out
    assert cli_main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "0 added" in out and "GALLERY_USER=sam" in out
    assert (tmp_path / "home" / "gallery.db").exists()
    other = tmp_path / "other"
    result = demo.load_demo(home=other)
    assert (other / "gallery.db").exists() and result["created"]


def test_demo_uses_the_existing_admin_of_a_gallery(tmp_path, monkeypatch):
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "home"))
    alice = gw.open(user="alice")  # the first user: the admin
    result = demo.load_demo(alice)
    assert result["admin"] == "alice" and not result["warnings"]
    assert gw.open(user="admin").me.role == "user"
    assert alice.search(kind="algorithm", tab="official").total >= 3


def test_demo_dataset_names_what_it_ships():
    assert demo.dataset("sales").name == "sales.csv" and demo.dataset("churn.csv").is_file()
    with pytest.raises(gw.InvalidInput, match="sales"):
        demo.dataset("nope")
    png = demo.gradient_png("#000000", "#ffffff")
    assert png.startswith(b"\x89PNG") and len(png) < 1024 * 1024
