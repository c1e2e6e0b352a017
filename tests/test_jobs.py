"""SPEC U2: a training job runs the algorithm in its own process, with status, live logs,
progress, cancel and final metrics, and a failing algorithm never takes the kernel down.

Every test runs real job processes; the algorithms are written into tmp_path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gallery_widgets.errors import InvalidInput, NotFound
from gallery_widgets.kernel.runtime.jobs import JOB_STATES, Job, get_job, list_jobs, start_job
from gallery_widgets.kernel.runtime.report import EVENTS_ENV, report

FINAL = {"succeeded", "failed", "cancelled"}


def write_code(folder: Path, body: str, *, header: str = "") -> Path:
    """A code folder whose ``train.py`` has ``main(params, inputs, outputs)`` running ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    source = (
        "import os, sys, time, json, signal, subprocess\n"
        "from pathlib import Path\n"
        "from gallery_widgets.kernel.runtime.report import report\n"
        + textwrap.dedent(header)
        + "\ndef main(params, inputs, outputs):\n"
        + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
    )
    (folder / "train.py").write_text(source)
    return folder


def run(tmp_path: Path, body: str, *, header: str = "", **options) -> Job:
    """Start ``body`` as a job under tmp_path/jobs."""
    options.setdefault("params", {})
    options.setdefault("inputs", {})
    options.setdefault("outputs", {})
    options.setdefault("entrypoint", "train:main")
    options.setdefault("name", "test-job")
    code = write_code(tmp_path / f"code-{time.monotonic_ns()}", body, header=header)
    return start_job(code_dir=code, jobs_root=tmp_path / "jobs", **options)


def wait_for(predicate, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie nobody reaped: it runs no code)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def test_u2_job_reports_progress_and_metrics(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("1\n2\n3\n")
    job = run(tmp_path, """
        rows = inputs["data"].read_text().split()
        for i, row in enumerate(rows, 1):
            report(progress=i / len(rows), loss=1.0 / i, phase="epoch %d" % i)
        (outputs["model"] / "weights.txt").write_text(str(params["lr"]))
        Path(outputs["model"], "where.json").write_text(json.dumps({"pid": os.getpid(), "cwd": os.getcwd()}))
        import numpy
        return {"accuracy": numpy.float64(0.75), "rows": len(rows)}
    """, params={"lr": 0.1}, inputs={"data": data}, outputs={"model": tmp_path / "out" / "model"})

    assert job.status in JOB_STATES
    assert job.wait(timeout=20) is job
    assert job.status == "succeeded", job.error
    assert job.exit_code == 0 and job.error is None
    assert job.progress == 1.0
    assert job.metrics == {"loss": 1 / 3, "phase": "epoch 3", "accuracy": 0.75, "rows": 3}
    assert (tmp_path / "out" / "model" / "weights.txt").read_text() == "0.1"
    assert job.outputs == {"model": tmp_path / "out" / "model"}
    where = json.loads((tmp_path / "out" / "model" / "where.json").read_text())
    assert where["pid"] != os.getpid() and job.pid not in (None, os.getpid())  # its own processes
    assert Path(where["cwd"]) == job.job_dir / "work"  # works in its own folder, not in its code's
    assert job.started_at.tzinfo is not None and job.created_at <= job.started_at <= job.finished_at


def test_u2_logs_are_live(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the job must not depend on the kernel's setting
    go = tmp_path / "go"
    job = run(tmp_path, f"""
        print("epoch 1 done")
        print("a warning", file=sys.stderr)
        report(progress=0.5)
        deadline = time.time() + 20
        while not Path({str(go)!r}).exists() and time.time() < deadline:
            time.sleep(0.02)
        print("finished")
    """)
    # report() comes after the prints: wait for both (the output reaches the log through
    # the runner's pipe, so the two may arrive in either order)
    wait_for(lambda: "a warning" in job.logs and job.progress is not None, what="the first lines and progress")
    assert job.status == "running"
    assert "epoch 1 done" in job.logs and "finished" not in job.logs
    assert job.tail(1) == "a warning"
    assert job.progress == 0.5
    go.touch()
    job.wait(timeout=20)
    assert job.status == "succeeded", job.error
    assert job.tail(2) == "a warning\nfinished"


def test_u2_cancel_really_stops_the_process(tmp_path):
    cleaned = tmp_path / "cleaned"
    pids = tmp_path / "pids.json"
    job = run(tmp_path, f"""
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        Path({str(pids)!r}).write_text(json.dumps([os.getpid(), child.pid]))
        try:
            print("ready")
            while True:  # an infinite loop
                pass
        finally:
            Path({str(cleaned)!r}).touch()
    """)
    wait_for(lambda: "ready" in job.logs and pids.exists(), what="the job to start its loop")
    job_pid, child_pid = json.loads(pids.read_text())
    started = time.monotonic()
    assert job.cancel() is job
    took = time.monotonic() - started

    assert job.status == "cancelled"
    assert "Job.cancel()" in job.error
    assert gone(job_pid) and gone(child_pid)  # the whole process group, not only the runner
    assert cleaned.exists() and took < 3  # SIGTERM first: its finally block ran
    assert job.exit_code == 128 + signal.SIGTERM
    assert job.cancel().status == "cancelled"  # cancelling again changes nothing
    assert get_job(tmp_path / "jobs", job.id).status == "cancelled"


def test_u2_cancel_kills_a_job_that_ignores_sigterm(tmp_path):
    job = run(tmp_path, """
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("stubborn")
        while True:
            time.sleep(0.01)
    """)
    wait_for(lambda: "stubborn" in job.logs, what="the job to ignore SIGTERM")
    started = time.monotonic()
    job.cancel()
    assert time.monotonic() - started >= 3  # it had its 3 s
    assert job.status == "cancelled"
    assert job.exit_code == -signal.SIGKILL
    assert gone(job.pid)


CRASHES = {
    "exception": ("""raise ValueError("learning rate 7 is too high")""", 1,
                  ["ValueError: learning rate 7 is too high", "train.py"]),
    "sys.exit": ("sys.exit(3)", 3, ["sys.exit(3)"]),
    "os._exit": ("os._exit(7)", 7, ["exited with code 7"]),
    "segfault": ("import ctypes\nctypes.string_at(0)", -signal.SIGSEGV,
                 ["signal 11 (SIGSEGV", "Fatal Python error", "train.py"]),
    "bad report": ("report(progress=2)", 1, ["InvalidInput", "progress must be in [0, 1]"]),
}


@pytest.mark.parametrize("case", list(CRASHES))
def test_u2_crash_is_failed_not_kernel(tmp_path, case):
    body, exit_code, messages = CRASHES[case]
    job = run(tmp_path, "print('starting')\n" + body).wait(timeout=20)
    assert job.status == "failed"
    assert job.exit_code == exit_code
    for message in messages:
        assert message in job.error
    assert "starting" in job.logs
    assert gone(job.pid)
    # This process is untouched and can start the next job at once.
    assert run(tmp_path, "return {'ok': 1}").wait(timeout=20).metrics == {"ok": 1}


@pytest.mark.parametrize("entrypoint, message", [
    ("train:nope", "has no function 'nope'"),
    ("missing_module:main", "ModuleNotFoundError: No module named 'missing_module'"),
])
def test_u2_bad_entrypoint_fails_clearly(tmp_path, entrypoint, message):
    job = run(tmp_path, "return {}", entrypoint=entrypoint).wait(timeout=20)
    assert job.status == "failed"
    assert message in job.error


def test_u2_memory_hog_is_stopped(tmp_path):
    job = run(tmp_path, """
        hog = []
        for _ in range(400):  # 4 GB in 10 MB steps
            hog.append(bytearray(10 * 1024 * 1024))
        return {"survived": 1}
    """, memory_limit_mb=200).wait(timeout=30)
    assert job.status == "failed"
    assert "MemoryError" in job.error
    assert "limit is 200 MB" in job.error
    assert gone(job.pid)


def test_u2_timeout_cancels(tmp_path):
    started = time.monotonic()
    job = run(tmp_path, """
        print("sleeping")
        time.sleep(60)
    """, timeout_s=1).wait(timeout=15)
    assert job.status == "cancelled"
    assert job.error == "timed out after 1 s"
    assert 1 <= time.monotonic() - started < 5
    assert gone(job.pid)


def test_u2_wait_times_out_without_stopping_the_job(tmp_path):
    job = run(tmp_path, "time.sleep(60)")
    with pytest.raises(TimeoutError, match="still (queued|running)"):
        job.wait(timeout=0.3)
    assert job.status in ("queued", "running")
    job.cancel()
    assert job.status == "cancelled"


def test_u2_jobs_are_listed_later(tmp_path):
    first = run(tmp_path, "return {'n': 1}", name="first").wait(timeout=20)
    second = run(tmp_path, "raise RuntimeError('nope')", name="second").wait(timeout=20)

    listed = list_jobs(tmp_path / "jobs")  # a fresh read of the folder
    assert [(job.id, job.name, job.status) for job in listed] == [
        (second.id, "second", "failed"), (first.id, "first", "succeeded")]
    assert listed[1].metrics == {"n": 1}
    assert get_job(tmp_path / "jobs", first.id).finished_at == first.finished_at

    script = ("import json, sys\nfrom gallery_widgets.kernel.runtime.jobs import list_jobs\n"
              "print(json.dumps([[j.id, j.status, j.metrics] for j in list_jobs(sys.argv[1])]))")
    other = subprocess.run([sys.executable, "-c", script, str(tmp_path / "jobs")],
                           capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(other.stdout) == [[second.id, "failed", {}], [first.id, "succeeded", {"n": 1}]]
    assert list_jobs(tmp_path / "nowhere") == []


def test_u2_record_is_right_after_the_starting_kernel_is_gone(tmp_path):
    """A kernel starts two jobs and exits; another one follows them."""
    quick = write_code(tmp_path / "quick", "time.sleep(0.3)\nreturn {'acc': 0.5}")
    slow = write_code(tmp_path / "slow", "print('up')\ntime.sleep(60)")
    script = textwrap.dedent("""
        import json, sys
        from gallery_widgets.kernel.runtime.jobs import start_job
        jobs_root, codes = sys.argv[1], sys.argv[2:]
        jobs = [start_job(code_dir=code, entrypoint="train:main", params={}, inputs={}, outputs={},
                          jobs_root=jobs_root, name=f"job-{i}") for i, code in enumerate(codes)]
        print(json.dumps([job.id for job in jobs]))
    """)
    kernel = subprocess.run([sys.executable, "-c", script, str(tmp_path / "jobs"), str(quick), str(slow)],
                            capture_output=True, text=True, timeout=60, check=True)
    quick_id, slow_id = json.loads(kernel.stdout)

    quick_job = get_job(tmp_path / "jobs", quick_id).wait(timeout=20)
    assert quick_job.status == "succeeded" and quick_job.metrics == {"acc": 0.5}

    slow_job = get_job(tmp_path / "jobs", slow_id)
    wait_for(lambda: "up" in slow_job.logs, what="the slow job to start")
    assert slow_job.status == "running"
    os.kill(slow_job.pid, signal.SIGKILL)  # what the out-of-memory killer does
    wait_for(lambda: slow_job.status != "running", what="the killed job to be noticed")
    assert slow_job.status == "failed"
    assert "without recording a result" in slow_job.error


def test_u2_on_update_follows_the_job_to_the_end(tmp_path):
    seen = []

    def broken(job):
        raise RuntimeError("a widget bug")

    job = run(tmp_path, """
        for i in range(1, 4):
            report(progress=i / 3)
            print("step", i)
            time.sleep(0.3)
    """)
    job.on_update(broken)
    job.on_update(lambda j: seen.append((j.status, j.progress)))
    job.wait(timeout=20)
    wait_for(lambda: seen and seen[-1][0] == "succeeded", what="the last update")
    assert seen[-1] == ("succeeded", 1.0)
    assert len(seen) >= 3  # updates while it ran, not only at the end
    assert any(status == "running" for status, _ in seen)


def test_u2_runner_starts_light_and_code_cannot_shadow_it(tmp_path):
    job = run(tmp_path, """
        return {"modules": " ".join(sorted(sys.modules))}
    """)
    job.wait(timeout=20)
    assert job.status == "succeeded", job.error
    modules = set(job.metrics["modules"].split())
    for heavy in ("yaml", "sqlalchemy", "pandas", "numpy", "gallery_widgets.gallery", "gallery_widgets.kernel.runtime.jobs"):
        assert heavy not in modules

    # Files in the code folder named like the standard library must not break the runner.
    code = write_code(tmp_path / "shadow", "return {'ok': 1}")
    for name in ("json.py", "signal.py", "threading.py"):
        (code / name).write_text("raise RuntimeError('shadowed the standard library')\n")
    shadowed = start_job(code_dir=code, entrypoint="train:main", params={}, inputs={}, outputs={},
                         jobs_root=tmp_path / "jobs", name="shadow", timeout_s=30).wait(timeout=20)
    assert shadowed.status == "succeeded", shadowed.error


def test_u2_report_outside_job_is_noop(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(EVENTS_ENV, raising=False)
    assert report(progress=0.5, loss=0.1) is False
    assert report() is False
    assert capsys.readouterr() == ("", "")


def test_u2_report_inside_job_appends_one_line_per_call(monkeypatch, tmp_path):
    import numpy

    events = tmp_path / "events.jsonl"
    monkeypatch.setenv(EVENTS_ENV, str(events))
    assert report(progress=0.25, loss=numpy.float32(0.5), step=numpy.int64(3), phase="warmup") is True
    assert report(accuracy=0.9) is True
    first, second = [json.loads(line) for line in events.read_text().splitlines()]
    assert first["progress"] == 0.25 and first["metrics"] == {"loss": 0.5, "step": 3, "phase": "warmup"}
    assert second["progress"] is None and second["metrics"] == {"accuracy": 0.9}
    assert first["time"].endswith("+00:00")


@pytest.mark.parametrize("arguments, field", [
    ({"progress": 1.5}, "progress"),
    ({"progress": -0.1}, "progress"),
    ({"progress": "half"}, "progress"),
    ({"progress": float("nan")}, "progress"),
    ({"progress": True}, "progress"),
    ({"loss": [0.1, 0.2]}, "'loss'"),
    ({"loss": None}, "'loss'"),
    ({"model": object()}, "'model'"),
])
def test_u2_report_rejects_bad_values(monkeypatch, tmp_path, arguments, field):
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv(EVENTS_ENV, str(events))
    with pytest.raises(InvalidInput, match=field):
        report(**arguments)
    assert not events.exists()  # nothing half-recorded


@pytest.mark.parametrize("change, field", [
    ({"entrypoint": "train"}, "entrypoint"),
    ({"entrypoint": "train:main()"}, "entrypoint"),
    ({"params": {"model": object()}}, "'model'"),
    ({"params": [1, 2]}, "params"),
    ({"inputs": {"data": "/no/such/file.csv"}}, "'data'"),
    ({"memory_limit_mb": 0}, "memory_limit_mb"),
    ({"timeout_s": -1}, "timeout_s"),
    ({"name": ""}, "name"),
    ({"code_dir": "/no/such/folder"}, "code_dir"),
])
def test_u2_start_job_rejects_bad_arguments(tmp_path, change, field):
    code = write_code(tmp_path / "code", "return {}")
    arguments = dict(code_dir=code, entrypoint="train:main", params={}, inputs={}, outputs={},
                     jobs_root=tmp_path / "jobs", name="bad")
    arguments.update(change)
    with pytest.raises(InvalidInput, match=field):
        start_job(**arguments)
    assert list_jobs(tmp_path / "jobs") == []  # nothing was started


def test_u2_unknown_job_is_not_found(tmp_path):
    run(tmp_path, "return {}").wait(timeout=20)
    for job_id in ("20260101-000000-abcdef", "../jobs", ""):
        with pytest.raises(NotFound, match="list_jobs"):
            get_job(tmp_path / "jobs", job_id)
