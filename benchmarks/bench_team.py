"""A team deployment under load (issue 10; targets: ≥ 300 requests/s, p95 ≤ 80 ms, 0 errors):
PostgreSQL with 100,000 assets, artifacts in S3 (moto's standalone server on loopback), two
``gallery-widgets serve`` processes, 64 concurrent clients.

Setup (not timed): a temporary PostgreSQL schema seeded by ``seed.py``; ``--artifacts-count``
small algorithms really published (scanned, stored in S3); one user and token per client, each
subscribed to its own share of those algorithms. Then for ``--seconds`` every client loops over
a mixed workload against one of the servers (client *i* → server *i* mod *processes*):

    35 % market search (a random topic word, a random page of the first five)
    25 % an asset's details (a random seeded asset)
    10 % its comments          10 % My Subscriptions          10 % favorite / unfavorite
     5 % My Information (/me)   5 % an import of a distinct artifact: usable version →
                                    download (sha256 checked) → record the import

and the script prints requests/s, latency percentiles per kind, and errors (any status ≥ 400).

    python benchmarks/bench_team.py [--pg postgresql://…] [--assets 100000] [--clients 64]
                                    [--seconds 30] [--processes 2] [--artifacts-count 400]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from gallery_widgets.server.state import THREADS  # noqa: E402

API = "/gallery/api/v1"
WEIGHTS = {"search": 35, "asset": 25, "comments": 10, "subscriptions": 10, "favorite": 10, "me": 5, "import": 5}


def percentile(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, max(0, round(len(samples) * q) - 1))] if samples else float("nan")


def setup(url: str, artifacts: str, args) -> dict:
    """Seed, publish the importable algorithms, create the clients and their subscriptions."""
    from sqlalchemy import insert, select

    import gallery_widgets as gw
    from gallery_widgets.core.tokens import create_token_for, ensure_account
    from gallery_widgets.store.schema import AssetRow, SubscriptionRow
    from seed import seed

    started = time.perf_counter()
    seed(url, args.assets, artifacts=artifacts)
    print(f"seeded {args.assets:,} assets in {time.perf_counter() - started:.0f} s", flush=True)

    started = time.perf_counter()
    publisher = gw.open(url, user="bench-pub", artifacts=artifacts)
    published = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.artifacts_count):
            folder = Path(tmp) / f"algo{index}"
            folder.mkdir()
            (folder / "algorithm.yaml").write_text(f"name: team-bench-{index}\nentrypoint: train:main\n")
            (folder / "train.py").write_text(f"def main(params, inputs, outputs):\n    return {{'id': {index}}}\n")
            asset = publisher.publish(gw.Algorithm.from_dir(folder), title=f"Team bench {index}", visibility="public",
                                      agree=True)
            published.append((asset.content_id, asset.versions[0].digest))
    print(f"published {len(published)} algorithms to {artifacts} in {time.perf_counter() - started:.0f} s",
          flush=True)

    context = publisher._ctx
    clients = []
    for index in range(args.clients):
        identity = ensure_account(context, f"client{index:02d}")
        token = create_token_for(context, identity, "bench")
        clients.append({"user_id": identity.user_id, "token": token.secret, "imports": []})
    with context.db.write() as s:
        ids = dict(s.execute(select(AssetRow.content_id, AssetRow.id)
                             .where(AssetRow.content_id.in_([cid for cid, _ in published]))).all())
        rows = []
        for position, (cid, digest) in enumerate(published):
            client = clients[position % len(clients)]
            client["imports"].append((cid, digest))
            rows.append({"user_id": client["user_id"], "asset_id": ids[cid], "subscribed_at": publisher._now(),
                         "expires_at": None, "period_days": None, "auto_renew": False, "status": "active"})
        s.execute(insert(SubscriptionRow), rows)
        # Assets every client may see: the market's public, released ones.
        sample = [cid for (cid,) in s.execute(
            select(AssetRow.content_id).where(AssetRow.content_id.like("bench%"), AssetRow.visibility == "public",
                                              AssetRow.status == "released").limit(5000))]
    return {"clients": clients, "sample": sample}


def start_servers(url: str, artifacts: str, count: int, threads: int, env: dict) -> list:
    servers = []
    for _ in range(count):
        process = subprocess.Popen(
            [sys.executable, "-m", "gallery_widgets", "serve", "--url", url, "--artifacts", artifacts, "--port", "0",
             "--threads", str(threads)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True)
        line = process.stdout.readline()
        match = re.search(r"http://[\d.]+:(\d+)", line)
        if not match:
            raise SystemExit(f"serve did not start: {line}")
        servers.append((process, f"http://127.0.0.1:{match.group(1)}{API}"))
    return servers


async def client_loop(index: int, client: dict, base: str, sample: list, deadline: float, results: list,
                      rng: random.Random, load_client: str = "raw", interval: float = 0.0,
                      warming: bool = False) -> None:
    """``interval``: seconds between this client's requests (paced; 0: closed loop), each
    latency counted from when the request was due. ``warming``: no imports (they use up the
    distinct artifacts the measured run imports)."""
    from seed import TOPICS

    kinds, weights = zip(*WEIGHTS.items())
    headers = {"Authorization": f"Bearer {client['token']}"}
    favored: set[str] = set()
    if load_client == "httpx":
        import httpx

        from bench_server import _Httpx

        connection, failures = _Httpx(httpx.AsyncClient(base_url=base, headers=headers, timeout=30)), httpx.HTTPError
    else:
        from loadclient import LoadClient

        connection, failures = LoadClient(base, headers, timeout=30), (OSError, asyncio.TimeoutError, ValueError,
                                                                         asyncio.IncompleteReadError)
    async with connection as http:

        due = time.perf_counter() + interval * rng.random()
        owed: list[float] = []  # paced: when this round's first request was due (its latency counts from then)

        async def call(kind, method, path, params=None, json=None):
            started = owed.pop() if owed else time.perf_counter()
            try:
                status, body = await http.request(method, path, params=params, json_body=json)
            except failures as exc:
                status, body = 599, str(exc).encode()
            results.append((kind, status, time.perf_counter() - started))
            return status, body

        while time.perf_counter() < deadline:
            if interval:
                due += interval
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
                owed[:] = [due]
            kind = rng.choices(kinds, weights)[0]
            if kind == "import" and (warming or not client["imports"]):
                kind = "search"
            cid = rng.choice(sample)
            if kind == "search":
                await call(kind, "GET", "/assets", params={"kind": rng.choice(["algorithm", "model"]),
                                                            "query": rng.choice(TOPICS).split()[0],
                                                            "page": rng.randint(1, 5)})
            elif kind == "asset":
                await call(kind, "GET", f"/assets/{cid}")
            elif kind == "comments":
                await call(kind, "GET", f"/assets/{cid}/comments")
            elif kind == "subscriptions":
                await call(kind, "GET", "/subscriptions")
            elif kind == "me":
                await call(kind, "GET", "/me")
            elif kind == "favorite":
                method = "DELETE" if cid in favored else "PUT"
                (favored.discard if method == "DELETE" else favored.add)(cid)
                await call(kind, method, f"/assets/{cid}/favorite")
            else:
                target, digest = client["imports"].pop()
                status, body = await call("import: usable", "GET", f"/assets/{target}/usable",
                                          params={"kind": "algorithm"})
                if status == 200:
                    status, data = await call("import: download", "GET", f"/artifacts/{digest}")
                    if status == 200 and hashlib.sha256(data).hexdigest() != digest:
                        results.append(("import: download", 598, 0.0))
                    version = json.loads(body)["version"]
                    await call("import: record", "POST", f"/assets/{target}/versions/{version}/imports",
                               json={})


async def load(clients: list, servers: list, sample: list, seconds: float, load_client: str = "raw",
               rate: float | None = None, warming: bool = False) -> list:
    """Closed loop, or with ``rate`` the clients together send that many requests/s."""
    results: list = []
    deadline = time.perf_counter() + seconds
    rng = random.Random(11)
    interval = len(clients) / rate if rate else 0.0
    await asyncio.gather(*(client_loop(i, c, servers[i % len(servers)][1], sample, deadline, results,
                                       random.Random(rng.random()), load_client, interval, warming)
                           for i, c in enumerate(clients)))
    return results


def report(results: list, seconds: float) -> None:
    by_kind = defaultdict(list)
    errors = defaultdict(int)
    for kind, status, latency in results:
        by_kind[kind].append(latency)
        if status >= 400:
            errors[(kind, status)] += 1
    total = len(results)
    every = [latency for _, _, latency in results]
    print(f"\n{total:,} requests in {seconds:.0f} s: {total / seconds:,.0f} requests/s   "
          f"min {min(every) * 1000:.1f} ms   p50 {statistics.median(every) * 1000:.1f} ms   p95 {percentile(every, 0.95) * 1000:.1f} ms   "
          f"p99 {percentile(every, 0.99) * 1000:.1f} ms   errors {sum(errors.values())}")
    for kind, samples in sorted(by_kind.items()):
        print(f"  {kind:18} {len(samples):7,}   p50 {statistics.median(samples) * 1000:7.1f} ms   "
              f"p95 {percentile(samples, 0.95) * 1000:7.1f} ms")
    for (kind, status), count in sorted(errors.items()):
        print(f"  error: {kind} answered {status} ×{count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("GALLERY_TEST_POSTGRES_URL",
                                                      "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=THREADS, help=f"worker threads per server process (default {THREADS}, serve's)")
    parser.add_argument("--load-client", choices=("raw", "httpx"), default="raw",
                        help="the clients: loadclient.LoadClient (default, ~0.1 ms CPU a request) or httpx (~2 ms)")
    parser.add_argument("--artifacts-count", type=int, default=400, help="distinct artifacts to import")
    parser.add_argument("--rate", type=float,
                        help="paced load: the clients together send this many requests/s (latency counted from "
                             "when each request was due); closed loop if not given")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of the same load (without imports) before the measured run; 0: none")
    args = parser.parse_args()

    from bench_core import postgres_schema_url
    from s3server import MotoS3

    s3 = MotoS3()
    os.environ.update(s3.env)
    s3.create_bucket("team-bench")
    artifacts = "s3://team-bench/artifacts"
    url, drop = postgres_schema_url(args.pg)
    servers = []
    try:
        prepared = setup(url, artifacts, args)
        env = {**os.environ, **s3.env}
        servers = start_servers(url, artifacts, args.processes, args.threads, env)
        print(f"{args.processes} server process(es), {args.clients} clients, {args.seconds:.0f} s", flush=True)
        from bench_server import cpu_per_request, load_average, machine_speed

        if args.warmup:  # a fresh server's first seconds open database connections and fill its caches
            asyncio.run(load(prepared["clients"], servers, prepared["sample"], args.warmup, args.load_client,
                             args.rate, warming=True))
        shape = f"paced at {args.rate:.0f}/s" if args.rate else "closed loop"
        print(f"before the load: {load_average()}; {machine_speed()}; {shape}", flush=True)
        started = time.perf_counter()
        results, (cpu_servers, cpu_pg, cpu_client) = cpu_per_request(
            lambda: asyncio.run(load(prepared["clients"], servers, prepared["sample"], args.seconds, args.load_client,
                                     args.rate)),
            [process for process, _ in servers], len)
        report(results, time.perf_counter() - started)
        print(f"  CPU per request: servers {cpu_servers:.2f} ms, PostgreSQL {cpu_pg:.2f} ms, load generator "
              f"{cpu_client:.2f} ms ({args.load_client} clients); {load_average()}")
    finally:
        for process, _ in servers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)
        drop()
        s3.stop()


if __name__ == "__main__":
    main()
