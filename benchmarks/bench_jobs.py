"""Training-job start-up speed (SPEC U2; target: the algorithm's first line runs within
0.5 s of ``start_job`` returning), and the same on a Dask cluster (issue 11).

Starts N jobs (default 20, one at a time, after one warm-up) whose entrypoint writes
the wall-clock time to a file as its first line, and prints p50/p95 in ms of:
- ``start_job`` itself (what the kernel waits for),
- from ``start_job`` returning to the algorithm's first line,
- from ``start_job`` returning to the job being recorded as finished (``wait()``).

On a warm ``LocalCluster`` of two worker processes (skipped with ``--no-cluster``):
- submit (``train(cluster=…)`` returning) -> the algorithm's first line, p50/p95 (target
  ≤ 0.3 s p50), and -> the job recorded finished in the kernel, vs the same locally: the
  difference is the per-job overhead of the cluster;
- a workflow of 8 independent 2-second steps on the 2 workers vs the same run locally
  (one step after another), wall clock (target ≤ 0.6×).

    python benchmarks/bench_jobs.py [--repeat 20] [--no-cluster]
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
    parser.add_argument("--no-cluster", action="store_true", help="only the local jobs")
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
    if not args.no_cluster:
        cluster_figures(workdir, args.repeat, statistics.median(finished))


STEP = '''\
import time


def main(params, inputs, outputs):
    time.sleep(params["seconds"])
    return {"step": params["index"]}
'''


def cluster_figures(workdir: Path, repeat: int, local_finished_p50: float) -> None:
    import os

    import distributed

    import gallery_widgets as gw

    os.environ["GALLERY_HOME"] = str(workdir / "home")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        source = workdir / "algo"
        source.mkdir()
        (source / "algorithm.yaml").write_text("name: bench\nentrypoint: train:main\n"
                                               "hyperparameters: [{name: stamp, type: str, default: ''}]\n")
        (source / "train.py").write_text(ALGORITHM)
        algo = gw.Algorithm.from_dir(source)
        first_line, finished = [], []
        for run in range(repeat + 2):  # two warm-ups: one per worker
            stamp = workdir / f"cluster-stamp-{run}"
            before_wall, before = time.time(), time.perf_counter()
            job = algo.train({"stamp": str(stamp)}, {}, workdir / "out", cluster=client)
            job.wait(timeout=60)
            done = time.perf_counter()
            if job.status != "succeeded":
                raise SystemExit(f"cluster job {job.id} {job.status}: {job.error}")
            if run < 2:
                continue
            first_line.append(float(stamp.read_text()) - before_wall)
            finished.append(done - before)
        print(f"\n{repeat} jobs on a warm LocalCluster (2 worker processes), one at a time")
        print(f"{'train(cluster=…) -> first line':<40} {percentiles(first_line)}")
        print(f"{'train(cluster=…) -> finished in kernel':<40} {percentiles(finished)}")
        overhead = (statistics.median(finished) - local_finished_p50) * 1000
        print(f"{'per-job overhead vs local (p50)':<40} {overhead:7.1f} ms")

        g = gw.open(f"sqlite:///{workdir / 'gallery.db'}", user="bench")
        step_algo = workdir / "step"
        step_algo.mkdir()
        (step_algo / "algorithm.yaml").write_text(
            "name: sleeper\nentrypoint: train:main\nhyperparameters: [{name: seconds, type: float, default: 2.0}, "
            "{name: index, type: int, default: 0}]\n")
        (step_algo / "train.py").write_text(STEP)
        sleeper = gw.Algorithm.from_dir(step_algo)
        steps = [gw.Step(f"s{i}", sleeper, params={"seconds": 2.0, "index": i}) for i in range(8)]
        asset = gw.Workflow("eight", steps=steps).release_to_gallery(title="Eight", gallery=g)
        flow = g.import_workflow(asset.content_id)
        started = time.perf_counter()
        local = flow.run(cluster="local").wait(300)
        local_s = time.perf_counter() - started
        started = time.perf_counter()
        remote = flow.run(cluster=client).wait(300)
        remote_s = time.perf_counter() - started
        if local.status != "succeeded" or remote.status != "succeeded":
            raise SystemExit(f"workflow runs ended {local.status} / {remote.status}")
        print(f"\n8 independent 2-second steps: local (one after another) {local_s:5.1f} s, "
              f"2 workers {remote_s:5.1f} s = {remote_s / local_s:.2f}x")
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
