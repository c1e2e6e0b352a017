"""The process that runs one training job: ``python -m gallery_widgets.kernel.runtime.runner JOB_DIR``.

It reads ``job.json``, calls the algorithm's entrypoint and writes ``result.json``
before it exits, so a job's record is right whether or not the kernel that started
it is still there. ``jobs.py`` starts it and reads what it leaves behind; this
module also owns the job folder's layout, which both sides share.

The job should start fast, so until the user's code is imported this process loads
only the standard library and ``gallery_widgets.kernel.runtime.report`` (its imports
happen inside ``main`` where they are not needed by ``jobs.py``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path

# The job folder. Every file is written whole (atomically) except the two logs.
SPEC_FILE = "job.json"        # what to run; written by start_job
STARTED_FILE = "started.json"  # the runner is up: its pid and process start time
EVENTS_FILE = "events.jsonl"   # one line per gw.report() call
LOG_FILE = "log.txt"           # the job's stdout and stderr
CANCEL_FILE = "cancel.json"    # why the job is being stopped; the first writer wins
RESULT_FILE = "result.json"    # the outcome; the first writer wins

KILL_AFTER_S = 3.0  # a job gets this long to stop after SIGTERM before SIGKILL
TRACEBACK_LINES = 15  # how much of a traceback a failed job keeps as its error


# --- the job folder, shared with jobs.py ---------------------------------------------------

def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None when the file is absent (or half-written by a
    writer that does not use ``write_json_atomic``)."""
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, ValueError):
        return None


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` so that readers see the old file or the new one, never half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def write_json_once(path: Path, data: dict) -> bool:
    """Create ``path`` with ``data`` unless it exists; False when someone else wrote it first.

    The runner, its timeout watchdog, the kernel's reaper thread and ``Job.cancel`` may
    all try to record an outcome at about the same moment; a hard link fails on an
    existing name, so exactly one complete file wins.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(data)}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def process_state(pid: int) -> tuple[str, int] | None:
    """``(state letter, start time in clock ticks)`` of a process from /proc, or None when
    /proc does not know it (gone, or not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may contain spaces
    return fields[0], int(fields[19])


def signal_description(signum: int) -> str:
    """``"signal 9 (SIGKILL)"`` with a hint at the usual cause."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = "unknown"
    hint = {
        "SIGKILL": ": out of memory, or killed from outside",
        "SIGSEGV": ": a crash in native code",
        "SIGBUS": ": a crash in native code",
        "SIGABRT": ": a native library aborted",
        "SIGTERM": ": stopped from outside",
    }.get(name, "")
    return f"signal {signum} ({name}{hint})"


# --- the runner -------------------------------------------------------------------------------

class JobCancelled(BaseException):
    """Raised inside the user's code when the job is asked to stop (SIGTERM or SIGINT).

    A BaseException so that an algorithm's ``except Exception`` does not swallow it,
    while its ``finally`` blocks and context managers still clean up.
    """


class _Stop:
    """The first stop signal received, and whether it may interrupt the user's code."""

    signum: int | None = None
    in_user_code = False

    @classmethod
    def handler(cls, signum, frame):
        if cls.signum is not None:
            return  # one stop request is enough; a second one would break the clean-up
        cls.signum = signum
        if cls.in_user_code:
            raise JobCancelled()


def _start_watchdog(job_dir: Path, timeout_s: float):
    """A daemon thread that stops the job after ``timeout_s`` seconds, even when the kernel
    that started it is gone. Returns the event that tells it the job has finished."""
    import threading

    finished = threading.Event()

    def watch():
        if finished.wait(timeout_s):
            return
        reason = f"timed out after {timeout_s:g} s"
        write_json_once(job_dir / CANCEL_FILE, {"time": now_iso(), "reason": reason})
        _signal_own_group(signal.SIGTERM)
        if finished.wait(KILL_AFTER_S):
            return
        # The code ignored SIGTERM (or holds the interpreter in native code): record the
        # outcome now, because SIGKILL leaves no chance to do it afterwards.
        write_json_once(job_dir / RESULT_FILE, {"status": "cancelled", "exit_code": -signal.SIGKILL,
                                                "metrics": {}, "error": reason, "finished_at": now_iso()})
        _signal_own_group(signal.SIGKILL)

    threading.Thread(target=watch, name="gallery-job-timeout", daemon=True).start()
    return finished


def _signal_own_group(signum: int) -> None:
    # start_job makes the runner a process-group leader, so the algorithm's own child
    # processes are stopped too; started any other way, stop only this process.
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signum)
    else:
        os.kill(os.getpid(), signum)


def _limit_memory(limit_mb: int) -> None:
    import resource

    limit = limit_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    # Soft and hard together, so the algorithm cannot lift its own limit.
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the runner's and importlib's frames."""
    import traceback

    tb = exc.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename == __file__
                              or tb.tb_frame.f_code.co_filename.startswith("<frozen importlib")):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _tail_lines(text: str, n: int) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-n:])


def _clean_returned(returned) -> dict:
    """The entrypoint's return value as metrics. Anything unusable is dropped with a note in
    the log rather than failing a finished training run over its summary."""
    from gallery_widgets.kernel.runtime.report import check_metric
    from gallery_widgets.errors import InvalidInput

    if returned is None:
        return {}
    if not isinstance(returned, dict):
        print(f"gallery_widgets: the entrypoint returned a {type(returned).__name__}, not a dict of metrics; "
              f"it was not recorded.", file=sys.stderr)
        return {}
    metrics = {}
    for name, value in returned.items():
        try:
            metrics[str(name)] = check_metric(str(name), value, "the entrypoint's returned metrics")
        except InvalidInput as error:
            print(f"gallery_widgets: {error} It was not recorded.", file=sys.stderr)
    return metrics


def _cancel_reason(job_dir: Path) -> str:
    marker = read_json(job_dir / CANCEL_FILE)
    if marker and marker.get("reason"):
        return marker["reason"]
    return f"stopped by {signal_description(_Stop.signum or signal.SIGTERM)}"


def _run(spec: dict, job_dir: Path) -> tuple[str, int, dict, str | None]:
    """Import and call the entrypoint: ``(status, exit code, metrics, error)``."""
    import importlib

    module_name, _, function_name = spec["entrypoint"].partition(":")
    inputs = {name: Path(path) for name, path in spec["inputs"].items()}
    outputs = {name: Path(path) for name, path in spec["outputs"].items()}
    for path in outputs.values():
        path.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, spec["code_dir"])
    try:
        try:
            _Stop.in_user_code = True
            if _Stop.signum is not None:
                raise JobCancelled()
            module = importlib.import_module(module_name)
            function = getattr(module, function_name, None)
            if not callable(function):
                return ("failed", 1, {}, f"the module {module_name!r} in {spec['code_dir']} has no function "
                                         f"{function_name!r}; fix the entrypoint ({spec['entrypoint']!r}).")
            returned = function(dict(spec["params"]), inputs, outputs)
        finally:
            _Stop.in_user_code = False
    except JobCancelled:
        return "cancelled", 128 + (_Stop.signum or signal.SIGTERM), {}, _cancel_reason(job_dir)
    except SystemExit as stop:
        code = stop.code
        if code is None or code == 0:
            return "succeeded", 0, {}, None
        if not isinstance(code, int):
            print(code, file=sys.stderr)  # what Python itself does with sys.exit("message")
        return ("failed", (code & 0xFF or 1) if isinstance(code, int) else 1, {},  # what the OS keeps
                f"the algorithm called sys.exit({code!r}).")
    except BaseException as exc:  # noqa: BLE001 - whatever the algorithm raises is its failure
        out_of_memory = isinstance(exc, MemoryError)
        text = _user_traceback(exc)
        del exc  # its traceback keeps the algorithm's frames (and a memory hog's data) alive
        print(text, file=sys.stderr, end="")
        error = _tail_lines(text, TRACEBACK_LINES)
        if out_of_memory:
            limit = spec.get("memory_limit_mb")
            error += (f"\nThe job ran out of memory: its limit is {limit} MB (memory_limit_mb); use less memory "
                      f"or raise the limit." if limit else "\nThe job ran out of memory.")
        return "failed", 1, {}, error
    return "succeeded", 0, _clean_returned(returned), None


def main(argv: list[str]) -> None:
    """Run the job in ``argv[0]`` and exit with its exit code."""
    import faulthandler

    job_dir = Path(argv[0])
    spec = read_json(job_dir / SPEC_FILE)
    if spec is None:
        sys.exit(f"gallery_widgets runner: no readable {SPEC_FILE} in {job_dir}")
    signal.signal(signal.SIGTERM, _Stop.handler)
    signal.signal(signal.SIGINT, _Stop.handler)
    faulthandler.enable()  # a segfault still leaves a Python traceback in the log
    started = process_state(os.getpid())
    write_json_atomic(job_dir / STARTED_FILE, {"time": now_iso(), "pid": os.getpid(),
                                               "start_ticks": started[1] if started else None})
    # The watchdog's thread is started before the memory limit, which would count its stack.
    finished = _start_watchdog(job_dir, spec["timeout_s"]) if spec.get("timeout_s") else None
    if spec.get("memory_limit_mb"):
        _limit_memory(spec["memory_limit_mb"])

    status, exit_code, metrics, error = _run(spec, job_dir)
    if finished is not None:
        finished.set()
    write_json_once(job_dir / RESULT_FILE, {"status": status, "exit_code": exit_code, "metrics": metrics,
                                            "error": error, "finished_at": now_iso()})
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit now rather than wait for threads the algorithm left running (the result is
    # recorded; a lingering process would be a leak nobody can see), but still run its
    # atexit hooks, which loggers and multiprocessing rely on.
    import atexit

    atexit._run_exitfuncs()
    os._exit(exit_code)


if __name__ == "__main__":
    main(sys.argv[1:])
