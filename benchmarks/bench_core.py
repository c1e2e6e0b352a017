"""Service-core speed at catalogue scale (issue: service core and embedded gallery).

Seeds N assets (default 100,000) into a fresh gallery and prints p50/p95 in ms of
market queries of several shapes, asset details, subscribe and favorite, plus the
time of a fresh ``python -c "import gallery_widgets"``.

    python benchmarks/bench_core.py                 # SQLite in a temporary folder
    python benchmarks/bench_core.py --url postgresql://postgres@127.0.0.1/test
    python benchmarks/bench_core.py --url postgresql://postgres@127.0.0.1/gw_bench --seeded

``--seeded`` measures the database at ``--url`` as it is (seed it once with
``benchmarks/seed.py --url …``; run ``gallery-widgets upgrade --url …`` after a schema
change) instead of seeding a temporary schema or file each run, which takes minutes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import gallery_widgets as gw  # noqa: E402
from seed import RARE_WORD, seed  # noqa: E402


def timed(fn, repeat: int) -> dict:
    fn()  # warm caches and prepared statements
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i) if fn.__code__.co_argcount else fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    # min: the cost when the call gets the CPU at once, a steadier figure on a shared, loaded machine.
    return {"p50": statistics.median(samples), "p95": samples[int(len(samples) * 0.95) - 1], "min": samples[0]}


def import_time(repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import gallery_widgets"], check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def postgres_schema_url(base: str) -> tuple[str, callable]:
    import sqlalchemy
    from sqlalchemy.engine import make_url

    from gallery_widgets.store.engine import normalise_url

    schema = f"gw_bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(normalise_url(base))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop():
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a postgresql:// URL (a temporary schema is used); SQLite by default")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seeded", action="store_true", help="measure the already seeded gallery at --url")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    drop = None
    if args.seeded:
        if not args.url:
            parser.error("--seeded needs --url")
        url = args.url
    elif args.url:
        url, drop = postgres_schema_url(args.url)
    else:
        url = f"sqlite:///{workdir / 'gallery.db'}"
    try:
        if not args.seeded:
            start = time.perf_counter()
            seed(url, args.assets, artifacts=workdir / "artifacts")
            print(f"seeded {args.assets:,} assets in {time.perf_counter() - start:.1f} s")
        print(f"backend: {'postgresql' if 'postgres' in url else 'sqlite'}; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
        g = gw.open(url, user="bench-user", artifacts=workdir / "artifacts")
        kinds = ("algorithm", "model", "workflow")
        shapes = {
            "market, no keyword, sort subscriptions": lambda i=0: g.search(kind=kinds[i % 3]),
            "market, no keyword, category, sort latest": lambda i=0: g.search(
                kind=kinds[i % 3], categories=["Scenario/Robot"], sort="latest"),
            "market, common word + category + sort": lambda i=0: g.search(
                kind=kinds[i % 3], query="model", categories=["Industry/Finance"], sort="subscriptions"),
            "market, common word, page 3": lambda i=0: g.search(kind=kinds[i % 3], query="data", page=3),
            "market, rare word + category + sort": lambda i=0: g.search(
                kind=kinds[i % 3], query=RARE_WORD, sort="favorites"),
            "market, two words, relevance": lambda i=0: g.search(
                kind=kinds[i % 3], query="resnet image", sort="relevance"),
            "market, featured tab": lambda i=0: g.search(kind=kinds[i % 3], tab="featured"),
        }
        results = {name: timed(fn, args.repeat) for name, fn in shapes.items()}
        first = g.search(kind="algorithm").items
        cids = [a.content_id for a in g.search(kind="algorithm", page_size=100).items]
        results["asset details (counts a view)"] = timed(lambda i=0: g.asset(cids[i % len(cids)]), args.repeat)
        results["favorite"] = timed(lambda i=0: g.favorite(cids[i % len(cids)]), min(args.repeat, 100))
        accept = dict(accept_constraints=True, accept_agreements=True)
        results["subscribe"] = timed(lambda i=0: g.subscribe(cids[i % len(cids)], **accept), min(args.repeat, 100))
        results["comment"] = timed(lambda i=0: g.comment(cids[i % len(cids)], f"bench comment {i}"),
                                   min(args.repeat, 100))
        assert first, "no assets visible"
        for name, figures in results.items():
            print(f"{name:<48} p50 {figures['p50']:7.2f} ms   p95 {figures['p95']:7.2f} ms   min {figures['min']:7.2f} ms")
        print(f"{'fresh `import gallery_widgets`':<48} {import_time() * 1000:7.1f} ms")
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
        g.close()
    finally:
        if drop:
            drop()


if __name__ == "__main__":
    main()
