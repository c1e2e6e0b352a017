"""Runnable-asset speed (issue: runnable assets).

Prints: a fresh process doing ``import gallery_widgets; g = gw.open(); g.import_algorithm(cid)``
with the artifact already cached; the same import warm inside one process (p50/p95);
and publishing a ~1 MB algorithm with its security scan (p50/p95).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import gallery_widgets as gw

TRAIN = "def main(params, inputs, outputs):\n    return {'ok': 1}\n"


def make_algorithm(root: Path, name: str, size_bytes: int) -> Path:
    root.mkdir(parents=True)
    (root / "algorithm.yaml").write_text(f"name: {name}\nentrypoint: train:main\n")
    (root / "train.py").write_text(TRAIN)
    # Realistic code volume: many small modules of plain functions.
    # Every module differs, so the scanner's content cache cannot skip any of them.
    def body(module: int) -> str:
        return "\n".join(f"def helper_{module}_{i}(x):\n    total = x * {i + module}\n    return total + {i}\n"
                         for i in range(400))

    files = max(1, size_bytes // len(body(0)))
    for i in range(files):
        (root / "lib" / f"module_{i}.py").parent.mkdir(exist_ok=True)
        (root / "lib" / f"module_{i}.py").write_text(body(i))
    return root


def percentiles(samples):
    samples = sorted(samples)
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="gw-bench-assets-"))
    os.environ["GALLERY_HOME"] = str(home)
    alice = gw.open(user="alice")
    small = gw.Algorithm.from_dir(make_algorithm(home / "src" / "small", "small", 10_000))
    asset = alice.publish(small, title="Small", visibility="public", agree=True)
    bob = gw.open(user="bob")
    bob.subscribe(asset.content_id, accept_agreements=True)
    bob.import_algorithm(asset.content_id)  # fills the cache

    script = textwrap.dedent(f"""
        import time; start = time.perf_counter()
        import gallery_widgets as gw
        g = gw.open(user="bob")
        algo = g.import_algorithm({asset.content_id!r})
        print(time.perf_counter() - start)
    """)
    fresh = []
    for _ in range(7):
        started = time.perf_counter()
        inner = float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                     env={**os.environ}).stdout)
        fresh.append((time.perf_counter() - started, inner))
    total = min(t for t, _ in fresh)
    inner = min(i for _, i in fresh)
    print(f"fresh process import_algorithm (cached artifact): {total * 1000:6.0f} ms wall incl. interpreter start; "
          f"{inner * 1000:6.0f} ms from `import gallery_widgets`")

    warm = []
    for _ in range(200):
        started = time.perf_counter()
        bob.import_algorithm(asset.content_id)
        warm.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentiles(warm)
    print(f"warm import_algorithm in one process:            p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")

    big = make_algorithm(home / "src" / "big", "big", 1_000_000)
    size = sum(p.stat().st_size for p in big.rglob("*") if p.is_file())
    publish = []
    for i in range(7):
        (big / "train.py").write_text(TRAIN + f"# revision {i}\n")
        started = time.perf_counter()
        alice.publish(gw.Algorithm.from_dir(big), title=f"Big {i}", visibility="public", agree=True)
        publish.append((time.perf_counter() - started) * 1000)
    print(f"publish a {size / 1e6:.2f} MB pure-Python algorithm, first (cold scan): {publish[0]:6.0f} ms")
    p50, p95 = percentiles(publish[1:])
    print(f"publish a new version of it (one file changed):   p50 {p50:6.0f} ms   p95 {p95:6.0f} ms")

    mixed = home / "src" / "mixed"
    mixed.mkdir()
    (mixed / "algorithm.yaml").write_text("name: mixed\nentrypoint: train:main\n")
    (mixed / "train.py").write_text(TRAIN + "".join(f"\ndef step_{i}(x):\n    return x + {i}\n" for i in range(300)))
    (mixed / "weights.csv").write_text("\n".join(f"{i},{i * 0.5}" for i in range(90_000)))
    size = sum(p.stat().st_size for p in mixed.rglob("*") if p.is_file())
    started = time.perf_counter()
    alice.publish(gw.Algorithm.from_dir(mixed), title="Mixed", visibility="public", agree=True)
    print(f"publish a {size / 1e6:.2f} MB algorithm of code + data, cold scan:  {(time.perf_counter() - started) * 1000:6.0f} ms")

    # A model whose weights are a joblib file of numpy arrays: the scan skips the array bytes.
    try:
        import joblib
        import numpy as np
    except ImportError:
        print("publish a joblib model: skipped (pip install joblib)")
        return
    for compress in (0, 3):
        model = home / "src" / f"model{compress}"
        model.mkdir()
        (model / "model.yaml").write_text(f"name: model{compress}\nloader: model:load\n")
        (model / "model.py").write_text("import joblib\n\n\ndef load(folder):\n    return joblib.load(folder / 'w.joblib')\n")
        joblib.dump({"w": np.random.rand(6_000_000), "bias": np.zeros(100)}, model / "w.joblib", compress=compress)
        size = (model / "w.joblib").stat().st_size
        started = time.perf_counter()
        alice.publish(gw.Model.from_dir(model), title=f"Model {compress}", visibility="public", agree=True)
        print(f"publish a model with a {size / 1e6:.0f} MB joblib file (compress={compress}), cold scan: "
              f"{(time.perf_counter() - started) * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
