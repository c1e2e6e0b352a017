"""Training jobs and workflow runs on a Dask cluster, with the same Job API (U2, U3, U4, U7; issue 11).

Real clusters on loopback: a ``distributed.LocalCluster`` with two worker processes shared by
the module, and one cluster started as separate ``dask scheduler`` / ``dask worker`` commands.
Workers share this machine's file system, as workers on a shared volume would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import gallery_widgets as gw  # noqa: E402
from gallery_widgets.errors import GalleryError, SubscriptionRequired  # noqa: E402

from test_jobs import gone, wait_for  # noqa: E402
from test_workflows import algorithm, prep_algo  # noqa: E402

TRAIN = """\
import os, time
from pathlib import Path
import gallery_widgets as gw


def main(params, inputs, outputs):
    print("first line", flush=True)
    (outputs["model"] / "pid").write_text(str(os.getpid()))
    for i in range(1, 4):
        gw.report(progress=i / 3, loss=1.0 / i)
        print("epoch", i, flush=True)
    time.sleep(params["sleep"])
    (outputs["model"] / "total.txt").write_text(str(sum(int(x) for x in inputs["data"].read_text().split())))
    return {"total": sum(int(x) for x in inputs["data"].read_text().split())}
"""

MANIFEST = """\
name: summer
entrypoint: train:main
hyperparameters:
  - {name: sleep, type: float, default: 0.0}
inputs: [{name: data}]
outputs: [{name: model}]
"""


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GALLERY_DASK_SCHEDULER", raising=False)
    return tmp_path / "home"


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "data.txt"
    path.write_text("1\n2\n3\n")
    return path


@pytest.fixture
def summer(alice, bob, tmp_path):
    root = tmp_path / "src" / "summer"
    root.mkdir(parents=True)
    (root / "algorithm.yaml").write_text(MANIFEST)
    # unique bytes: a worker's cache keeps what it verified once, by digest, across tests
    (root / "train.py").write_text(TRAIN + f"# {tmp_path.name} {time.time_ns()}\n")
    asset = alice.publish(gw.Algorithm.from_dir(root), title="Summer", visibility="public", agree=True)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    return asset


def test_u2_cluster_job_has_the_same_job_api(client, home, bob, summer, data, tmp_path):
    algo = bob.import_algorithm(summer.content_id)
    job = algo.train({"sleep": 0.5}, {"data": data}, tmp_path / "out", cluster=client)
    assert type(job).__name__ == "Job" and job.status in ("queued", "running")
    seen = []
    job.on_update(lambda j: seen.append(j.status))
    assert job.wait(timeout=60) is job
    assert job.status == "succeeded", job.error
    assert job.metrics == {"loss": 1 / 3, "total": 6} and job.progress == 1.0
    assert "first line" in job.logs and job.tail(1) == "epoch 3"
    assert (tmp_path / "out" / "model" / "total.txt").read_text() == "6"
    worker_pid = int((tmp_path / "out" / "model" / "pid").read_text())
    assert worker_pid != os.getpid() and gone(worker_pid)  # ran in its own process, which ended
    assert job.finished_at >= job.started_at >= job.created_at
    assert job.id in [j.id for j in algo.jobs()]  # listed with the local ones
    wait_for(lambda: seen and seen[-1] == "succeeded", what="JobView's last update")


def test_u2_cluster_job_cancel_reaches_the_process_on_the_worker(client, home, bob, summer, data, tmp_path):
    algo = bob.import_algorithm(summer.content_id)
    job = algo.train({"sleep": 120}, {"data": data}, tmp_path / "out", cluster=client)
    pid_file = tmp_path / "out" / "model" / "pid"
    wait_for(pid_file.exists, timeout=60, what="the job to start on a worker")
    pid = int(pid_file.read_text())
    assert not gone(pid)
    job.cancel()
    assert job.status == "cancelled" and "Job.cancel()" in job.error
    wait_for(lambda: gone(pid), timeout=10, what="the process on the worker to end")


def test_u2_time_and_memory_limits_hold_on_the_cluster(client, home, bob, summer, data, tmp_path):
    algo = bob.import_algorithm(summer.content_id)
    job = algo.train({"sleep": 120}, {"data": data}, tmp_path / "out", cluster=client, timeout_s=1).wait(60)
    assert job.status == "cancelled" and job.error == "timed out after 1 s"

    hog = tmp_path / "hog"
    hog.mkdir()
    (hog / "algorithm.yaml").write_text("name: hog\nentrypoint: train:main\n")
    (hog / "train.py").write_text("def main(params, inputs, outputs):\n"
                                  "    hog = [bytearray(10 * 1024 * 1024) for _ in range(400)]\n"
                                  "    return {'survived': 1}\n")
    job = gw.Algorithm.from_dir(hog).train({}, {}, tmp_path / "hog-out", cluster=client, memory_limit_mb=200).wait(60)
    assert job.status == "failed" and "limit is 200 MB" in job.error
    assert client.run(lambda: 1)  # the workers are fine


def test_u4_cluster_train_checks_the_subscription_first(client, home, bob, summer, data, tmp_path):
    algo = bob.import_algorithm(summer.content_id)
    bob.cancel_subscription(summer.content_id)
    with pytest.raises(SubscriptionRequired):
        algo.train({}, {"data": data}, tmp_path / "out", cluster=client)
    assert not (tmp_path / "out").exists()


def test_u2_unreachable_scheduler_is_a_clear_error_at_train(home, bob, summer, data, tmp_path, monkeypatch):
    algo = bob.import_algorithm(summer.content_id)
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(GalleryError, match=f"Cannot reach the Dask scheduler at 'tcp://127.0.0.1:{port}'"):
        algo.train({}, {"data": data}, tmp_path / "out", cluster=f"tcp://127.0.0.1:{port}")
    assert time.monotonic() - started < 30
    monkeypatch.setenv("GALLERY_DASK_SCHEDULER", f"tcp://127.0.0.1:{port}")
    with pytest.raises(GalleryError, match="GALLERY_DASK_SCHEDULER"):
        algo.train({}, {"data": data}, tmp_path / "out")
    job = algo.train({}, {"data": data}, tmp_path / "out", cluster="local").wait(60)  # "local" wins
    assert job.status == "succeeded"
    with pytest.raises(gw.InvalidInput, match="cluster must be"):
        algo.train({}, {"data": data}, tmp_path / "out", cluster=42)


def test_u7_worker_refuses_a_tampered_artifact(client, home, bob, summer, data, tmp_path):
    algo = bob.import_algorithm(summer.content_id)  # verified and cached in this kernel
    digest = bob.asset(summer.content_id).versions[0].digest
    stored = tmp_path / "artifacts" / "sha256" / digest[:2] / digest[2:]
    stored.chmod(0o644)
    changed = bytearray(stored.read_bytes())
    changed[len(changed) // 2] ^= 0x20
    stored.write_bytes(bytes(changed))
    job = algo.train({}, {"data": data}, tmp_path / "out", cluster=client).wait(60)
    assert job.status == "failed"
    assert "does not match its sha256" in job.error


def test_u2_local_algorithm_trains_on_the_cluster(client, home, tmp_path, data):
    root = tmp_path / "local-algo"
    root.mkdir()
    (root / "algorithm.yaml").write_text(MANIFEST)
    (root / "train.py").write_text(TRAIN)
    job = gw.Algorithm.from_dir(root).train({}, {"data": data}, tmp_path / "out", cluster=client).wait(60)
    assert job.status == "succeeded" and job.metrics["total"] == 6


# --- workflows as one graph --------------------------------------------------------------------------

SLEEPER = """\
import os, time


def main(params, inputs, outputs):
    start = time.time()
    time.sleep(params["seconds"])
    (outputs["out"] / "span").write_text(f"{start} {time.time()} {os.getppid()}")
    return {"value": params["value"]}
"""

FIT_SUM = """\
def main(params, inputs, outputs):
    total = sum(int(x) for x in (inputs["table"] / "rows.txt").read_text().split())
    (outputs["model"] / "sum.txt").write_text(str(total + params["bias"]))
    return {"sum": total + params["bias"]}
"""

BOOM = """\
def main(params, inputs, outputs):
    raise ValueError("boom step broke on purpose")
"""


def subscribe_import(alice, bob, flow, title):
    asset = flow.release_to_gallery(title=title, visibility="public", gallery=alice)
    for kind in ("workflow", "algorithm"):
        for item in bob.search(kind=kind).items:
            bob.subscribe(item.content_id, accept_constraints=True, accept_agreements=True)
    return bob.import_workflow(asset.content_id)


def fit_algo(tmp_path, code=FIT_SUM):
    return algorithm(tmp_path, "fit-algo", code, inputs=["table"], outputs=["model"],
                     hyperparameters="- {name: bias, type: int, default: 0}\n")


def test_u3_same_workflow_gives_the_same_metrics_locally_and_on_the_cluster(client, home, alice, bob, tmp_path, data):
    prep = gw.Step("prep", prep_algo(tmp_path), params={"factor": 10}, inputs={"data": str(data)})
    fit = gw.Step("fit", fit_algo(tmp_path), params={"bias": 1}, inputs={"table": prep.output("table")})
    imported = subscribe_import(alice, bob, gw.Workflow("chain", steps=[prep, fit]), "Chain")

    local = imported.run().wait(120)
    remote = imported.run(cluster=client).wait(120)
    for run in (local, remote):
        assert run.status == "succeeded", {n: (s.status, s.error) for n, s in run.steps.items()}
    assert {n: j.metrics for n, j in remote.jobs.items()} == {n: j.metrics for n, j in local.jobs.items()} == {
        "prep": {"rows": 3}, "fit": {"sum": 61}}
    assert (remote.jobs["fit"].outputs["model"] / "sum.txt").read_text() == "61"
    assert remote.jobs["prep"].finished_at <= remote.jobs["fit"].started_at


def test_w3_run_params_reach_the_steps_locally_and_on_the_cluster(client, home, alice, bob, tmp_path, data):
    prep = gw.Step("prep", prep_algo(tmp_path), params={"factor": 10}, inputs={"data": str(data)})
    fit = gw.Step("fit", fit_algo(tmp_path), params={"bias": 1}, inputs={"table": prep.output("table")})
    imported = subscribe_import(alice, bob, gw.Workflow("chain", steps=[prep, fit]), "Chain")
    for run in (imported.run(params={"fit": {"bias": 5}}).wait(120),
                imported.run(params={"fit": {"bias": 5}}, cluster=client).wait(120)):
        assert run.status == "succeeded", {n: (s.status, s.error) for n, s in run.steps.items()}
        assert run.jobs["fit"].metrics == {"sum": 65}  # the Configure form's value, not the workflow's 1


RENDEZVOUS = """\
import os, time
from pathlib import Path


def main(params, inputs, outputs):
    meeting = Path(params["meeting"])
    (meeting / f"here-{params['value']}").write_text(str(os.getppid()))
    deadline = time.time() + 60
    while len(list(meeting.glob("here-*"))) < 2:  # only steps that run at the same time meet
        if time.time() > deadline:
            raise RuntimeError("the other step never ran at the same time")
        time.sleep(0.05)
    return {"value": params["value"]}
"""


def test_u3_independent_steps_run_in_parallel_on_different_workers(client, home, alice, bob, tmp_path):
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    step_algo = algorithm(tmp_path, "meet", RENDEZVOUS, inputs=[], outputs=["out"],
                          hyperparameters="- {name: meeting, type: str, default: ''}\n"
                                          "- {name: value, type: int, default: 0}\n")
    steps = [gw.Step(f"s{i}", step_algo, params={"meeting": str(meeting), "value": i}) for i in range(2)]
    imported = subscribe_import(alice, bob, gw.Workflow("pair", steps=steps), "Pair")
    run = imported.run(cluster=client).wait(120)
    assert run.status == "succeeded", {n: (s.status, s.error) for n, s in run.steps.items()}
    assert {run.jobs["s0"].metrics["value"], run.jobs["s1"].metrics["value"]} == {0, 1}
    supervisors = {int(p.read_text()) for p in meeting.glob("here-*")}
    assert len(supervisors) == 2  # two job processes at the same time, one per worker thread


def test_u3_failing_step_on_the_cluster_names_itself_and_skips_its_dependents(client, home, alice, bob, tmp_path,
                                                                            data):
    prep = gw.Step("prep", prep_algo(tmp_path, code=BOOM), params={"factor": 10}, inputs={"data": str(data)})
    fit = gw.Step("fit", fit_algo(tmp_path), params={"bias": 1}, inputs={"table": prep.output("table")})
    imported = subscribe_import(alice, bob, gw.Workflow("broken", steps=[prep, fit]), "Broken")
    run = imported.run(cluster=client).wait(120)
    assert run.status == "failed" and run.failed_step == "prep"
    assert "boom step broke on purpose" in run.steps["prep"].error
    assert run.steps["fit"].status == "skipped" and "'prep'" in run.steps["fit"].error
    assert "fit" not in run.jobs


def test_u4_cluster_step_checks_the_subscription_when_it_starts(client, home, alice, bob, tmp_path):
    sleeper = algorithm(tmp_path, "sleeper", SLEEPER, inputs=[], outputs=["out"],
                        hyperparameters="- {name: seconds, type: float, default: 1.0}\n"
                                        "- {name: value, type: int, default: 0}\n")
    first = gw.Step("first", sleeper, params={"seconds": 3})
    after = gw.Step("after", fit_algo(tmp_path), inputs={"table": first.output("out")})
    imported = subscribe_import(alice, bob, gw.Workflow("gated", steps=[first, after]), "Gated")
    run = imported.run(cluster=client)
    wait_for(lambda: "first" in run.jobs and run.jobs["first"].status == "running", timeout=60,
             what="the first step to start")
    bob.cancel_subscription(imported.content_id)  # while the first step runs
    run.wait(90)
    assert run.steps["first"].status == "succeeded"
    assert run.steps["after"].status == "failed" and run.failed_step == "after"
    assert "was not started" in run.steps["after"].error and "retrieve" in run.steps["after"].error.lower()


def test_u3_cancel_a_cluster_run_stops_its_steps(client, home, alice, bob, tmp_path):
    sleeper = algorithm(tmp_path, "sleeper", SLEEPER, inputs=[], outputs=["out"],
                        hyperparameters="- {name: seconds, type: float, default: 1.0}\n"
                                        "- {name: value, type: int, default: 0}\n")
    first = gw.Step("first", sleeper, params={"seconds": 120})
    imported = subscribe_import(alice, bob, gw.Workflow("long", steps=[first]), "Long")
    run = imported.run(cluster=client)
    wait_for(lambda: "first" in run.jobs and run.jobs["first"].status == "running", timeout=60,
             what="the step to start")
    run.cancel()
    run.wait(60)
    assert run.status == "cancelled"


# --- a cluster of separate commands, and a worker that dies ---------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def command_cluster(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes, started as separate commands."""
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.skip("the dask command is not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--dashboard-address", ":0", "--no-dashboard"],
                                  cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for i in range(2):
        processes.append(subprocess.Popen(
            [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
             "--local-directory", str(tmp_path / f"worker{i}"), "--name", f"w{i}"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    client = distributed.Client(address, timeout=30)
    try:
        client.wait_for_workers(2, timeout=60)
        yield address, client
    finally:
        client.close()
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_u3_command_line_cluster_runs_the_workflow_and_a_lost_worker_fails_its_step(command_cluster, home, alice,
                                                                                   bob, tmp_path, data):
    address, client = command_cluster
    prep = gw.Step("prep", prep_algo(tmp_path), params={"factor": 10}, inputs={"data": str(data)})
    fit = gw.Step("fit", fit_algo(tmp_path), params={"bias": 1}, inputs={"table": prep.output("table")})
    imported = subscribe_import(alice, bob, gw.Workflow("chain", steps=[prep, fit]), "Chain")
    run = imported.run(cluster=address).wait(120)  # by address this time
    assert run.status == "succeeded", {n: (s.status, s.error) for n, s in run.steps.items()}
    assert {n: j.metrics for n, j in run.jobs.items()} == {"prep": {"rows": 3}, "fit": {"sum": 61}}

    # Kill the worker process that runs a long step: the step fails and says so, the run ends.
    sleeper = algorithm(tmp_path, "sleeper", SLEEPER, inputs=[], outputs=["out"],
                        hyperparameters="- {name: seconds, type: float, default: 1.0}\n"
                                        "- {name: value, type: int, default: 0}\n")
    long_step = gw.Step("long", sleeper, params={"seconds": 300})
    after = gw.Step("after", fit_algo(tmp_path), inputs={"table": long_step.output("out")})
    doomed = subscribe_import(alice, bob, gw.Workflow("doomed", steps=[long_step, after]), "Doomed")
    run = doomed.run(cluster=address)
    wait_for(lambda: "long" in run.jobs and run.jobs["long"].status == "running", timeout=60,
             what="the long step to start")
    import psutil

    supervisor = psutil.Process(json.loads((run.jobs["long"].job_dir / "started.json").read_text())["pid"])
    worker = supervisor.parent()
    job_processes = [supervisor, *supervisor.children(recursive=True)]
    worker.send_signal(signal.SIGKILL)
    run.wait(90)
    assert run.status == "failed" and run.failed_step == "long"
    assert "worker" in run.steps["long"].error and "was lost" in run.steps["long"].error
    assert run.steps["after"].status == "skipped"
    wait_for(lambda: all(gone(p.pid) for p in job_processes), timeout=15, what="the job's processes to end")
