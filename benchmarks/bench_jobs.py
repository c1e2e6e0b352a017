"""Training-job start-up speed (SPEC U2; target: the algorithm's first line runs within
0.5 s of ``start_job`` returning).

Starts N jobs (default 20, one at a time, after one warm-up) whose entrypoint writes
the wall-clock time to a file as its first line, and prints p50/p95 in ms of:
- ``start_job`` itself (what the kernel waits for),
- from ``start_job`` returning to the algorithm's first line,
- from ``start_job`` returning to the job being recorded as finished (``wait()``).

    python benchmarks/bench_jobs.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from gallery_widgets.kernel.runtime.jobs import start_job

ALGORITHM = '''\
import time


def main(params, inputs, outputs):
    stamp = time.time()  # first thing: when the algorithm got control
    open(params["stamp"], "w").write(repr(stamp))
    return {"ok": 1}
'''


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[max(0, round(len(samples) * 0.95) - 1)]
    return f"p50 {statistics.median(samples) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-jobs-"))
    code = workdir / "code"
    code.mkdir()
    (code / "train.py").write_text(ALGORITHM)

    call, first_line, finished = [], [], []
    for run in range(args.repeat + 1):
        stamp = workdir / f"stamp-{run}"
        before = time.perf_counter()
        job = start_job(code_dir=code, entrypoint="train:main", params={"stamp": str(stamp)}, inputs={},
                        outputs={}, jobs_root=workdir / "jobs", name=f"bench-{run}")
        returned_wall, returned = time.time(), time.perf_counter()
        job.wait(timeout=30)
        done = time.perf_counter()
        if job.status != "succeeded":
            raise SystemExit(f"job {job.id} {job.status}: {job.error}")
        if run == 0:
            continue  # warm-up: the first start pays for cold file caches
        call.append(returned - before)
        first_line.append(float(stamp.read_text()) - returned_wall)
        finished.append(done - returned)

    print(f"{args.repeat} jobs, one at a time (in {workdir})")
    print(f"{'start_job() call':<40} {percentiles(call)}")
    print(f"{'start_job() returned -> first line':<40} {percentiles(first_line)}")
    print(f"{'start_job() returned -> finished':<40} {percentiles(finished)}")


if __name__ == "__main__":
    main()
