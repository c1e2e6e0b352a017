"""The team server under load (SPEC §6, issue 8), over real `gallery-widgets serve` processes.

Seeds N assets (default 100,000), starts ``--servers`` server processes on loopback over the
same database, and prints:

- one client's market query round trip (p50/p95, sequential, one connection);
- a mixed load from ``--clients`` concurrent clients (70 % market queries, 20 % details,
  10 % favorite/subscribe), bounded by ``--requests`` and ``--seconds``: requests/s, min/p50/p95,
  errors, and the CPU each request cost the server processes, PostgreSQL (when it runs on this
  machine) and the load generator itself. Closed loop by default (each client sends its next
  request when the last one answers: the throughput); ``--rate R`` paces the clients at R
  requests/s together instead (the latency at that rate). ``--warmup`` seconds of the same load
  run first, unmeasured. The clients are ``loadclient.LoadClient`` (keep-alive
  HTTP/1.1, ~0.1 ms of CPU a request) unless ``--load-client httpx`` (~2 ms a request: on a
  2-core machine that is CPU the servers do not get);
- a fresh process doing ``gw.open(url, token=…)`` + ``import_algorithm`` of a cached artifact;
- uploading a 100 MB archive (``PUT /uploads/{sha256}``: transfer and hashing, no scan).

    python benchmarks/bench_server.py                 # SQLite in a temporary folder
    python benchmarks/bench_server.py --url postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import httpx  # noqa: E402

from bench_core import postgres_schema_url  # noqa: E402
from loadclient import LoadClient  # noqa: E402
from seed import seed  # noqa: E402

KINDS = ("algorithm", "model", "workflow")
WORDS = ("model", "forecast", "retail", "BERT", "image", "zanzibarite", "")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def start_server(url: str, artifacts: Path, log: Path, threads: int | None = None) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "gallery_widgets", "serve", "--url", url, "--artifacts", str(artifacts), "--port", "0"]
    if threads:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
    line = process.stdout.readline()
    found = re.search(r"listening on (http://[\d.:]+)", line)
    if not found:
        raise SystemExit(f"server did not start: {line!r} {log.read_text()}")
    return process, found.group(1)


def host_token(url: str, artifacts: Path, user: str) -> str:
    from gallery_widgets.core.sql_gallery import sql_context
    from gallery_widgets.core.tokens import create_token_for, ensure_account

    context = sql_context(url, artifacts)
    return create_token_for(context, ensure_account(context, user), f"bench-{time.time_ns()}").secret


def market_params(rng: random.Random) -> dict:
    params = {"kind": rng.choice(KINDS), "sort": rng.choice(("subscriptions", "latest", "favorites"))}
    word = rng.choice(WORDS)
    if word:
        params["query"] = word
    if rng.random() < 0.3:
        params["categories"] = rng.choice(("Scenario/Robot", "Industry/Finance", "Engine/PyTorch"))
    return params


def single_client(base: str, token: str, repeat: int) -> list[float]:
    rng = random.Random(1)
    samples = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        client.get("/gallery/api/v1/assets")
        for _ in range(repeat):
            start = time.perf_counter()
            client.get("/gallery/api/v1/assets", params=market_params(rng)).raise_for_status()
            samples.append(time.perf_counter() - start)
    return samples


async def mixed_load(bases: list[str], tokens: list[str], ids: list[str], clients: int, requests: int,
                     seconds: float, load_client: str = "raw", rate: float | None = None) -> dict:
    """Closed loop by default: each client sends its next request as soon as the last one answers.
    With ``rate`` the clients together send ``rate`` requests/s on a fixed schedule, and a
    latency counts from the moment a request was due, so a slow answer that delays the next
    request is charged to that request too (no coordinated omission)."""
    samples: list[float] = []
    errors: list[str] = []
    counter = {"sent": 0}
    deadline = time.monotonic() + seconds
    begin = time.perf_counter()

    def connect(n: int):
        headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}"}
        if load_client == "httpx":
            return _Httpx(httpx.AsyncClient(base_url=bases[n % len(bases)], headers=headers, timeout=30))
        return LoadClient(bases[n % len(bases)], headers, timeout=30)

    async def client(n: int) -> None:
        rng = random.Random(n)
        interval = clients / rate if rate else 0.0
        due = begin + interval * n / clients
        async with connect(n) as http:
            while counter["sent"] < requests and time.monotonic() < deadline:
                counter["sent"] += 1
                roll = rng.random()
                cid = rng.choice(ids)
                if rate:
                    due += interval
                    if due > time.perf_counter():
                        await asyncio.sleep(due - time.perf_counter())
                    start = due
                else:
                    start = time.perf_counter()
                if roll < 0.7:
                    status, body = await http.request("GET", "/gallery/api/v1/assets", params=market_params(rng))
                elif roll < 0.9:
                    status, body = await http.request("GET", f"/gallery/api/v1/assets/{cid}")
                elif roll < 0.95:
                    status, body = await http.request("PUT", f"/gallery/api/v1/assets/{cid}/favorite", json_body={})
                else:
                    status, body = await http.request("POST", f"/gallery/api/v1/assets/{cid}/subscription",
                                                      json_body={"accept_constraints": True, "accept_agreements": True})
                samples.append(time.perf_counter() - start)
                if status >= 400 and not (status == 409):
                    errors.append(f"{status} {body[:120].decode(errors='replace')}")

    start = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - start
    return {"requests": len(samples), "seconds": elapsed, "rps": len(samples) / elapsed, "min": min(samples) * 1000,
            "p50": pct(samples, 0.5), "p95": pct(samples, 0.95), "errors": errors}


class _Httpx:
    """httpx.AsyncClient behind LoadClient's interface (``--load-client httpx``)."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    async def request(self, method: str, path: str, *, params=None, json_body=None) -> tuple[int, bytes]:
        response = await self.client.request(method, path, params=params, json=json_body)
        return response.status_code, response.content

    async def __aenter__(self):
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc):
        await self.client.__aexit__(*exc)


def cpu_seconds(pids) -> dict[int, float]:
    """User + system CPU seconds of each of these processes so far (Linux /proc; gone ones left out)."""
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return seconds


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (none when it runs elsewhere)."""
    pids = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == "postgres":
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def cpu_per_request(run, processes, requests_made):
    """``run()``'s result and the CPU ms per request it cost: the servers, PostgreSQL (every
    backend alive at the end, including those the servers' pools opened meanwhile) and this
    process (the load generator)."""
    servers = [p.pid for p in processes]
    before_servers, before_pg, before_me = cpu_seconds(servers), cpu_seconds(postgres_pids()), time.process_time()
    result = run()
    after_servers, after_pg, after_me = cpu_seconds(servers), cpu_seconds(postgres_pids()), time.process_time()
    count = max(1, requests_made(result))

    def spent(before, after):
        return sum(value - before.get(pid, 0.0) for pid, value in after.items()) * 1000 / count

    return result, [spent(before_servers, after_servers), spent(before_pg, after_pg), (after_me - before_me) * 1000 / count]


def machine_speed() -> str:
    """How fast this machine runs plain Python right now: the figures of two runs compare only
    when this does too (the same code measured 216 and 392 requests/s on two VMs of one kind)."""
    start = time.process_time()
    total = 0
    for step in range(10_000_000):
        total += step
    return f"a 10-million-step Python loop takes {time.process_time() - start:.2f} s here"


def load_average() -> str:
    try:
        return "load average " + " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "load average unknown"


FRESH_IMPORT = """
import time, sys
start = time.perf_counter()
import gallery_widgets as gw
g = gw.open(sys.argv[1], token=sys.argv[2])
g.import_algorithm(sys.argv[3])
print(f"{time.perf_counter() - start:.3f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a postgresql:// URL (a temporary schema is used); SQLite by default")
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--upload-mb", type=int, default=100)
    parser.add_argument("--threads", type=int, help="worker threads per server process (serve's default if not given)")
    parser.add_argument("--rate", type=float,
                        help="paced load: the clients together send this many requests/s (latency counted from "
                             "when each request was due); closed loop if not given")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of the same load before the measured run (0: none): a fresh server's "
                             "first seconds open database connections and fill its caches")
    parser.add_argument("--seeded", action="store_true",
                        help="measure the already seeded gallery at --url (benchmarks/seed.py) instead of "
                             "seeding a temporary schema")
    parser.add_argument("--load-client", choices=("raw", "httpx"), default="raw",
                        help="the mixed load's clients: loadclient.LoadClient (default) or httpx.AsyncClient")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-server-"))
    artifacts = workdir / "artifacts"
    drop = None
    url = f"sqlite:///{workdir / 'gallery.db'}"
    if args.seeded:
        if not args.url:
            parser.error("--seeded needs --url")
        url = args.url
    elif args.url:
        url, drop = postgres_schema_url(args.url)
    processes = []
    try:
        if not args.seeded:
            started = time.perf_counter()
            seed(url, args.assets, artifacts=artifacts)
            print(f"seeded {args.assets:,} assets in {time.perf_counter() - started:.1f} s")
        print(f"backend: {'postgresql' if args.url else 'sqlite'}; {args.servers} server process(es)")
        bases = []
        for n in range(args.servers):
            process, base = start_server(url, artifacts, workdir / f"server{n}.log", args.threads)
            processes.append(process)
            bases.append(base)
        tokens = [host_token(url, artifacts, "bench-user")] + [host_token(url, artifacts, f"user{n:04d}")
                                                               for n in range(min(args.clients, 32))]
        with httpx.Client(base_url=bases[0], headers={"Authorization": f"Bearer {tokens[0]}"}) as http:
            # public ones only: every client's user may open them
            ids = [a["content_id"] for kind in KINDS for page in (1, 2, 3)
                   for a in http.get("/gallery/api/v1/assets", params={"kind": kind, "page": page,
                                                                       "page_size": 100}).json()["items"]
                   if a["visibility"] == "public"]

        print(f"before the measures: {load_average()}; {machine_speed()}")
        single = single_client(bases[0], tokens[0], args.repeat)
        print(f"one client (httpx), market query round trip: min {min(single) * 1000:.1f} ms, p50 {pct(single, 0.5):.1f} "
              f"ms, p95 {pct(single, 0.95):.1f} ms (target p50 ≤ 15 ms)")

        if args.warmup:  # a fresh server's first seconds open connections and fill its caches
            asyncio.run(mixed_load(bases, tokens, ids, args.clients, args.requests, args.warmup, args.load_client,
                                   args.rate))
        load, (cpu_servers, cpu_pg, cpu_client) = cpu_per_request(
            lambda: asyncio.run(mixed_load(bases, tokens, ids, args.clients, args.requests, args.seconds,
                                           args.load_client, args.rate)), processes, lambda result: result["requests"])
        paced = f", paced at {args.rate:.0f}/s" if args.rate else ", closed loop"
        print(f"mixed load, {args.clients} clients ({args.load_client}{paced}): {load['requests']:,} requests in "
              f"{load['seconds']:.1f} s = {load['rps']:.0f} requests/s, min {load['min']:.1f} ms, p50 {load['p50']:.1f} "
              f"ms, p95 {load['p95']:.1f} ms, {len(load['errors'])} errors (target ≥ 400/s, p95 ≤ 60 ms, 0 errors); "
              f"{load_average()}")
        cores = os.cpu_count() or 1
        print(f"  CPU per request: servers {cpu_servers:.2f} ms, PostgreSQL {cpu_pg:.2f} ms"
              f"{'' if cpu_pg else ' (not on this machine?)'}, load generator {cpu_client:.2f} ms; {cores} cores "
              f"would serve at most {cores * 1000 / max(0.01, cpu_servers + cpu_pg):.0f} requests/s without the "
              "load generator")
        for error in load["errors"][:5]:
            print("  error:", error)

        # A published algorithm, imported once (the cache fills), then by a fresh process.
        import gallery_widgets as gw

        home = workdir / "kernel-home"
        os.environ["GALLERY_HOME"] = str(home)
        source = workdir / "src"
        source.mkdir()
        (source / "algorithm.yaml").write_text("name: bench-algo\nentrypoint: train:main\n")
        (source / "train.py").write_text("def main(params, inputs, outputs):\n    return {}\n")
        publisher = gw.open(bases[0], token=host_token(url, artifacts, "bench-publisher"))
        asset = publisher.publish(gw.Algorithm.from_dir(source), title=f"Bench algo {time.time_ns()}", agree=True)
        env = {**os.environ, "GALLERY_HOME": str(home)}
        fresh_token = host_token(url, artifacts, "bench-publisher")
        runs = []
        for _ in range(4):  # the first fills the cache
            start = time.perf_counter()
            inner = subprocess.run([sys.executable, "-c", FRESH_IMPORT, bases[0], fresh_token, asset.content_id],
                                   capture_output=True, text=True, env=env, check=True).stdout.strip()
            runs.append((time.perf_counter() - start, float(inner)))
        warm = runs[1:]
        print(f"fresh process gw.open + import_algorithm (cached artifact): {statistics.median(r[0] for r in warm):.2f} s "
              f"wall incl. interpreter start, {statistics.median(r[1] for r in warm):.2f} s from `import "
              f"gallery_widgets` (target ≤ 0.5 s)")

        if not args.upload_mb:
            return
        data = os.urandom(args.upload_mb * 1024 * 1024)
        digest = hashlib.sha256(data).hexdigest()
        with httpx.Client(base_url=bases[0], headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=120) as http:
            start = time.perf_counter()
            http.put(f"/gallery/api/v1/uploads/{digest}", content=data).raise_for_status()
            elapsed = time.perf_counter() - start
        print(f"upload of {args.upload_mb} MB: {elapsed:.2f} s = {args.upload_mb / elapsed:.0f} MB/s "
              "(transfer + sha256, no scan; target ≥ 100 MB/s)")
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        if drop:
            drop()


if __name__ == "__main__":
    main()
