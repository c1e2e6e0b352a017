"""The processes that run one training job: ``python -m gallery_widgets.kernel.runtime.runner JOB_DIR``.

That process is the job's *supervisor*; it never runs the algorithm's code. It forks
one child, which reads ``job.json``, calls the algorithm's entrypoint and writes
``result.json``. The supervisor meanwhile

- copies the child's stdout and stderr into ``log.txt``, with a cap (``LOG_PART_BYTES``,
  one older part kept as ``log.1.txt``), so output never fills the disk;
- enforces the timeout (SIGTERM, SIGKILL after ``KILL_AFTER_S``) and a cancel's
  escalation, because it stays responsive whatever the algorithm does;
- is a child subreaper (``contain.py``), so every process the job starts stays its
  descendant, even a ``setsid`` daemon, and kills all of them when the child ends:
  nothing the job started outlives it, however it ends;
- records how the child ended when the child could not (a crash, a signal).

So a job's record is right whether or not the kernel that started it is still there.
``jobs.py`` starts it and reads what it leaves behind; this module also owns the job
folder's layout, which both sides share.

The job should start fast, so until the user's code is imported this process loads
only the standard library and ``gallery_widgets.kernel.runtime.report`` (its imports
happen inside ``main`` where they are not needed by ``jobs.py``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading  # noqa: F401 - loaded before the algorithm's folder is on sys.path, which must not shadow it
from datetime import datetime, timezone
from pathlib import Path

# The job folder. Every file is written whole (atomically) except the two logs.
SPEC_FILE = "job.json"        # what to run; written by start_job
STARTED_FILE = "started.json"  # the runner is up: its pid and process start time
EVENTS_FILE = "events.jsonl"   # one line per gw.report() call
LOG_FILE = "log.txt"           # the job's stdout and stderr (the newest part)
OLD_LOG_FILE = "log.1.txt"     # the part before it, once log.txt reached LOG_PART_BYTES
CANCEL_FILE = "cancel.json"    # why the job is being stopped; the first writer wins
RESULT_FILE = "result.json"    # the outcome; the first writer wins

KILL_AFTER_S = 3.0  # a job gets this long to stop after SIGTERM before SIGKILL
LOG_PART_BYTES = 4 * 1024 * 1024  # stored output: at most two parts of this size (8 MiB) per job
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
    """Supervise the job in ``argv[0]`` and exit with its exit code."""
    job_dir = Path(argv[0])
    spec = read_json(job_dir / SPEC_FILE)
    if spec is None:
        sys.exit(f"gallery_widgets runner: no readable {SPEC_FILE} in {job_dir}")
    from gallery_widgets.kernel.runtime.contain import become_subreaper, die_with_parent

    become_subreaper()
    if spec.get("die_with_parent"):
        # A job a Dask worker started ends with the worker: SIGTERM, which the
        # supervisor turns into stopping the whole job (it is installed right below).
        die_with_parent(signal.SIGTERM)
    started = process_state(os.getpid())
    write_json_atomic(job_dir / STARTED_FILE, {"time": now_iso(), "pid": os.getpid(),
                                               "start_ticks": started[1] if started else None})
    pending_stop = []  # a stop that arrives before the child exists is passed on once it does
    signal.signal(signal.SIGTERM, lambda signum, frame: pending_stop.append(signum))
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        _child_main(job_dir, spec, supervisor=os.getppid())
    os.close(write_end)
    _supervise(job_dir, spec, child, read_end, pending_stop)


def _child_main(job_dir: Path, spec: dict, supervisor: int) -> None:
    """The forked child: run the algorithm, record its result, exit."""
    import faulthandler

    from gallery_widgets.kernel.runtime.contain import die_with_parent

    signal.signal(signal.SIGTERM, _Stop.handler)  # a stop before the user's code runs cancels it at once
    signal.signal(signal.SIGINT, _Stop.handler)
    die_with_parent(signal.SIGKILL)  # the supervisor killed from outside takes the algorithm with it
    if os.getppid() != supervisor:
        os._exit(1)  # it died before the line above took effect
    faulthandler.enable()  # a segfault still leaves a Python traceback in the log
    if spec.get("memory_limit_mb"):
        _limit_memory(spec["memory_limit_mb"])
    status, exit_code, metrics, error = _run(spec, job_dir)
    write_json_once(job_dir / RESULT_FILE, {"status": status, "exit_code": exit_code, "metrics": metrics,
                                            "error": error, "finished_at": now_iso()})
    sys.stdout.flush()
    sys.stderr.flush()
    # Exit now rather than wait for threads the algorithm left running (the result is
    # recorded; the supervisor ends whatever else it started), but still run its atexit
    # hooks, which loggers and multiprocessing rely on.
    import atexit

    atexit._run_exitfuncs()
    os._exit(exit_code)


class _Supervisor:
    def __init__(self, job_dir: Path, spec: dict, child: int):
        import threading

        self.job_dir = job_dir
        self.spec = spec
        self.child = child
        self.child_gone = threading.Event()
        self._escalating = threading.Lock()
        self._escalation_started = False

    def escalate(self, reason: str | None) -> None:
        """Stop the child: SIGTERM now, then the whole tree after KILL_AFTER_S if it is still there."""
        import threading

        with self._escalating:
            if self._escalation_started:
                return
            self._escalation_started = True
        if reason:
            write_json_once(self.job_dir / CANCEL_FILE, {"time": now_iso(), "reason": reason})
        try:
            os.kill(self.child, signal.SIGTERM)
        except ProcessLookupError:
            pass

        def kill_later():
            if not self.child_gone.wait(KILL_AFTER_S):
                from gallery_widgets.kernel.runtime.contain import kill_tree

                kill_tree(os.getpid(), include_root=False)

        threading.Thread(target=kill_later, name="gallery-job-kill", daemon=True).start()

    def on_signal(self, signum, frame) -> None:
        # Job.cancel() signals the whole group, so the child has its SIGTERM already;
        # the supervisor makes sure SIGKILL follows when it does not stop.
        self.escalate(None)


def _supervise(job_dir: Path, spec: dict, child: int, read_end: int, pending_stop: list) -> None:
    import threading

    supervisor = _Supervisor(job_dir, spec, child)
    signal.signal(signal.SIGTERM, supervisor.on_signal)
    signal.signal(signal.SIGINT, supervisor.on_signal)
    if pending_stop:
        supervisor.escalate(None)
    pump = threading.Thread(target=_pump_log, args=(read_end, job_dir), name="gallery-job-log", daemon=True)
    pump.start()
    timer = None
    if spec.get("timeout_s"):
        timer = threading.Timer(spec["timeout_s"], supervisor.escalate, args=(f"timed out after {spec['timeout_s']:g} s",))
        timer.daemon = True
        timer.start()

    returncode = None
    while returncode is None:
        try:
            pid, status = os.waitpid(-1, 0)  # also reaps re-parented orphans as they end
        except ChildProcessError:
            returncode = -signal.SIGKILL  # cannot happen while the child is ours; never hang on it
            break
        if pid == child:
            returncode = os.waitstatus_to_exitcode(status)
    supervisor.child_gone.set()
    if timer is not None:
        timer.cancel()

    from gallery_widgets.kernel.runtime.contain import kill_tree

    kill_tree(os.getpid(), include_root=False)  # whatever the job started, detached or not
    _reap_all(deadline_s=5.0)
    pump.join(timeout=5.0)
    if not (job_dir / RESULT_FILE).exists():
        from gallery_widgets.kernel.runtime.jobs import _lost_result

        write_json_once(job_dir / RESULT_FILE, _lost_result(job_dir, returncode))
    os._exit(returncode if returncode >= 0 else 128 - returncode)


def _reap_all(deadline_s: float) -> None:
    import time

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children left
        if pid == 0:
            time.sleep(0.01)


def _pump_log(read_end: int, job_dir: Path) -> None:
    """Copy the child's output into log.txt; past LOG_PART_BYTES, log.txt becomes log.1.txt
    (replacing the older part) and a new log.txt starts: at most two parts are stored."""
    log_path = job_dir / LOG_FILE
    log = open(log_path, "ab", buffering=0)
    try:
        size = log.seek(0, os.SEEK_END)
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                return
            if size + len(chunk) > LOG_PART_BYTES and size > 0:
                log.close()
                os.replace(log_path, job_dir / OLD_LOG_FILE)
                log = open(log_path, "ab", buffering=0)
                size = 0
            log.write(chunk)
            size += len(chunk)
    finally:
        log.close()
        os.close(read_end)


if __name__ == "__main__":
    main(sys.argv[1:])
