"""Widget speed at catalogue scale (SPEC §5 MarketBrowser / AssetDetail).

Seeds N assets (default 100,000) into a fresh SQLite gallery in a temporary folder (or
reuses ``--db PATH`` when that file already holds a seeded catalogue), opens it as
"bench-user" and prints p50/p95 in ms of:

- building a ``MarketBrowser`` and its first page (target ≤ 150 ms);
- a change of search / filter / sort / page on a built browser (target ≤ 100 ms), per
  kind of change and over all of them;
- opening an ``AssetDetail`` (one ``g.asset`` + comments; target ≤ 60 ms);
- building the Train form of a 20-hyperparameter algorithm (target ≤ 50 ms);
- building a ``MyGallery`` (its bell, My Publishes, My Subscriptions) for reference.

    python benchmarks/bench_widgets.py
    python benchmarks/bench_widgets.py --assets 20000 --repeat 50

The figures are kernel-side: widget construction, service calls and state updates, with
no front end attached (ipywidgets then opens no comm and sends no messages), so the
browser's rendering time is not in them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import gallery_widgets as gw  # noqa: E402
from seed import RARE_WORD, seed  # noqa: E402

TARGET_BUILD_MS = 150
TARGET_CHANGE_MS = 100
TARGET_DETAIL_MS = 60
TARGET_TRAIN_FORM_MS = 50
TWENTY_PARAMS = {"name": "twenty", "entrypoint": "train:main", "inputs": [{"name": "data"}],
                 "outputs": [{"name": "model"}],
                 "hyperparameters": (
                     [{"name": f"f{i}", "type": "float", "default": 0.5, "range": [0.0, 1.0], "required": False,
                       "description": "a float", "choices": None} for i in range(8)]
                     + [{"name": f"i{i}", "type": "int", "default": 3, "range": [1, 10], "required": True,
                         "description": "", "choices": None} for i in range(5)]
                     + [{"name": f"c{i}", "type": "str", "default": "a", "range": None, "choices": ["a", "b", "c"],
                         "required": False, "description": ""} for i in range(3)]
                     + [{"name": f"b{i}", "type": "bool", "default": True, "range": None, "choices": None,
                         "required": False, "description": ""} for i in range(2)]
                     + [{"name": f"s{i}", "type": "str", "default": None, "range": None, "choices": None,
                         "required": False, "description": ""} for i in range(2)])}


class _Algorithm:
    """What the Train form reads of an algorithm: its manifest and title."""
    title = "Twenty parameters"
    manifest = TWENTY_PARAMS


def figures(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {"p50": statistics.median(samples), "p95": samples[max(0, int(len(samples) * 0.95) - 1)],
            "n": len(samples)}


def timed(fn, repeat: int, warm: int = 2) -> list[float]:
    for i in range(warm):
        fn(i)
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _ensure_seeded(url: str, assets: int, artifacts: Path) -> None:
    g = gw.open(url, user="bench-admin", artifacts=artifacts)
    try:
        total = sum(g.search(kind=k, page_size=1).total for k in ("algorithm", "model", "workflow"))
    finally:
        g.close()
    if total:
        print(f"reusing the seeded gallery at {url} ({total:,} assets visible to the admin)")
        return
    start = time.perf_counter()
    seed(url, assets, artifacts=artifacts)
    print(f"seeded {assets:,} assets in {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40, help="samples per measurement")
    parser.add_argument("--db", help="a SQLite file to seed once and reuse (default: a temporary one)")
    args = parser.parse_args()

    from gallery_widgets.widgets.detail import AssetDetail
    from gallery_widgets.widgets.market import MarketBrowser
    from gallery_widgets.widgets.my_gallery import MyGallery
    from gallery_widgets.widgets.train import TrainForm

    if args.db:
        db = Path(args.db).resolve()
    else:
        db = Path(tempfile.mkdtemp(prefix="gw-bench-widgets-")) / "gallery.db"
    url, artifacts = f"sqlite:///{db}", db.parent / "artifacts"
    _ensure_seeded(url, args.assets, artifacts)
    g = gw.open(url, user="bench-user", artifacts=artifacts)
    kinds = ("algorithm", "model", "workflow")

    # time spent in g.search, to tell the service's share from the widget's
    service_ms: list[float] = []
    search = g.search

    def timed_search(**query):
        start = time.perf_counter()
        try:
            return search(**query)
        finally:
            service_ms.append((time.perf_counter() - start) * 1000)

    g.search = timed_search

    def timed_with_service(fn, repeat):
        del service_ms[:]
        total = timed(fn, repeat)
        service = service_ms[-len(total):] if len(service_ms) >= len(total) else service_ms
        return total, service

    results: dict[str, list[float]] = {}
    service: dict[str, list[float]] = {}
    name = "build MarketBrowser + first page"
    results[name], service[name] = timed_with_service(lambda i: MarketBrowser(g, kind=kinds[i % 3]), args.repeat)

    browser = MarketBrowser(g)
    assert browser.cards, browser.messages.text
    categories = ["Scenario/Robot", "Industry/Finance", "Engine/PyTorch", "Deployment Environment/Edge"]
    sorts = ("favorites", "views", "latest", "subscriptions")
    queries = ("model", "resnet image", RARE_WORD, "forecast retail", "")

    def reset():
        browser.search.value = ""
        browser.categories.value = []
        browser.quick_tabs.value = "all"
        browser.sort.value = "subscriptions"

    changes = {
        "change: sort": lambda i: setattr(browser.sort, "value", sorts[i % len(sorts)]),
        "change: one category": lambda i: setattr(browser.categories, "value", [categories[i % len(categories)]]),
        "change: keyword search": lambda i: setattr(browser.search, "value", queries[i % len(queries)]),
        "change: quick tab featured/official": lambda i: setattr(browser.quick_tabs, "value",
                                                               ("featured", "official")[i % 2]),
        "change: quick tab My Favorites": lambda i: setattr(browser.quick_tabs, "value",
                                                          ("favorites", "all")[i % 2]),
        "change: next / prev page": lambda i: (browser.next_button if i % 2 == 0 else browser.prev_button).click(),
        "change: kind tab": lambda i: setattr(browser.kind_tabs, "value", kinds[(i + 1) % 3]),
    }
    every_change: list[float] = []
    for name, change in changes.items():
        reset()
        samples, service[name] = timed_with_service(change, args.repeat)
        assert not browser.messages.text, browser.messages.text
        results[name] = samples
        every_change += samples
    results["change: all of the above"] = every_change

    reset()
    cids = [card.content_id for card in browser.cards]
    results["open AssetDetail (g.asset + comments)"] = timed(
        lambda i: AssetDetail(g, content_id=cids[i % len(cids)]), args.repeat)
    results["build Train form, 20 hyperparameters"] = timed(lambda i: TrainForm(_Algorithm()), args.repeat)
    results["build MyGallery (bell, publishes, subs)"] = timed(lambda i: MyGallery(g, namespace={}), args.repeat)

    print(f"SQLite, {args.assets:,} assets, user bench-user, {args.repeat} samples each")
    for name, samples in results.items():
        f = figures(samples)
        target = (TARGET_BUILD_MS if name.startswith("build MarketBrowser") else TARGET_CHANGE_MS
                  if name.startswith("change") else TARGET_DETAIL_MS if name.startswith("open AssetDetail")
                  else TARGET_TRAIN_FORM_MS if name.startswith("build Train form") else None)
        verdict = "" if target is None else ("  ok" if f["p95"] <= target else f"  over {target} ms at p95")
        share = ""
        if service.get(name):
            sf = figures(service[name])
            share = f"   (g.search p50 {sf['p50']:6.1f} / p95 {sf['p95']:6.1f})"
        print(f"{name:<40} p50 {f['p50']:6.1f} ms  p95 {f['p95']:6.1f} ms{share}{verdict}")
    g.close()


if __name__ == "__main__":
    main()
