"""Training jobs (SPEC U2): an algorithm running in its own process, and how to follow it.

``start_job`` writes a job folder under ``jobs_root`` and starts
``python -m gallery_widgets.kernel.runtime.runner JOB_DIR`` in a new session. The runner
records everything in that folder (see ``runner.py`` for the files), so a ``Job`` is
only a view of the folder: any kernel on this machine can open it with ``get_job`` or
``list_jobs`` and see the same status, progress, logs and metrics, and the record stays
right after the kernel that started the job is gone.

The kernel that started a job also keeps its ``Popen`` and a reaper thread: it knows
how the process ended (a signal, an exit code) when the runner could not write a
result itself, and no finished job is left as a zombie.

Containment (docs/rules.md, "Training jobs"): a job runs in its own working folder
(``work/`` in the job folder), from its own checked copy of an imported algorithm's code
(``code/``, read-only), with an allow-listed environment (``ENV_ALLOWED``; never the
kernel's secrets such as ``GALLERY_SMTP_*``); every process it starts ends with it
(``runner.py``); its stored and shown output is capped (``LOG_PART_BYTES``,
``SHOW_LOG_BYTES``, ``SHOW_LINE_CHARS``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import gallery_widgets

from ...errors import GalleryError, InvalidInput, NotFound, PermissionDenied
from .report import EVENTS_ENV
from .runner import (
    CANCEL_FILE,
    EVENTS_FILE,
    KILL_AFTER_S,
    LOG_FILE,
    LOG_PART_BYTES,
    OLD_LOG_FILE,
    RESULT_FILE,
    SPEC_FILE,
    STARTED_FILE,
    now_iso,
    process_state,
    read_json,
    signal_description,
    write_json_atomic,
    write_json_once,
)

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})

SHOW_LOG_BYTES = 256 * 1024  # Job.logs and Job.tail() show at most the last 256 KiB of output
SHOW_LINE_CHARS = 4000  # and cut each line they show to 4,000 characters

# The only variables of the kernel's environment a job sees (plus LC_*, and what
# start_job(env=...) passes on purpose): what programs need to run, find files and
# choose threads; never credentials (GALLERY_SMTP_*, database URLs, cloud keys, tokens).
ENV_ALLOWED = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
    "TMPDIR", "TEMP", "TMP", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONIOENCODING",
    "PYTHONUTF8", "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS", "LD_LIBRARY_PATH",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "MPLBACKEND", "MPLCONFIGDIR",
})
ENV_ALLOWED_PREFIXES = ("LC_",)

EVENTS_CHUNK = 1024 * 1024  # events.jsonl is read at most this much at a time
EVENT_LINE_LIMIT = 64 * 1024  # longer lines are not gw.report's (its strings are cut): skipped

WATCH_INTERVAL_S = 0.25  # how often on_update's watcher looks at the job folder
ENTRYPOINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

log = logging.getLogger(__name__)

# Jobs started by this process: job folder -> Popen. Only this process can wait() for
# them, which reaps them and tells how they ended.
_owned: dict[str, subprocess.Popen] = {}
_owned_lock = threading.Lock()


class Job:
    """A training job, read from its folder. Get one from ``start_job``, ``get_job`` or
    ``list_jobs``; every property reads the folder afresh, so it is live across kernels."""

    def __init__(self, job_dir: Path):
        """Open the job in ``job_dir``.

        Raises:
            NotFound: the folder holds no job.
        """
        self.job_dir = Path(job_dir).expanduser().resolve()  # also the key of _owned
        spec = read_json(self.job_dir / SPEC_FILE)
        if spec is None:
            raise NotFound(f"{self.job_dir} holds no job ({SPEC_FILE} is missing); list_jobs(jobs_root) lists the "
                           f"jobs there.")
        self._spec = spec
        self.id: str = self.job_dir.name
        self.name: str = spec["name"]
        self._lock = threading.RLock()
        self._events_read = 0  # bytes of events.jsonl already folded into the two below
        self._skipping_line = False  # in the middle of an over-long line of events.jsonl
        self._progress: float | None = None
        self._reported: dict = {}
        self._result: dict | None = None  # result.json, once there (it never changes)
        self._callbacks: list[Callable[[Job], None]] = []
        self._watcher: threading.Thread | None = None

    # --- what the job folder says ---------------------------------------------------------

    @property
    def status(self) -> str:
        """One of ``JOB_STATES``."""
        return self._outcome()["status"]

    @property
    def progress(self) -> float | None:
        """The last progress the algorithm reported (``gw.report(progress=…)``), in [0, 1]."""
        self._read_events()
        return self._progress

    @property
    def metrics(self) -> dict:
        """Every metric reported so far (latest value of each), plus what the entrypoint returned."""
        self._read_events()
        return {**self._reported, **(self._outcome().get("metrics") or {})}

    @property
    def logs(self) -> str:
        """What the job printed (stdout and stderr) up to now: the last 256 KiB
        (``SHOW_LOG_BYTES``), each line cut to 4,000 characters (``SHOW_LINE_CHARS``). The
        stored log keeps the last 4-8 MiB (``log.1.txt`` and ``log.txt`` in ``job_dir``)."""
        data, total = _log_end(self.job_dir, SHOW_LOG_BYTES)
        text = data.decode(errors="replace")
        if total > len(data):
            text = text.partition("\n")[2]  # the first line is only the end of one
            text = (f"[gallery_widgets: earlier output not shown; these are the last {SHOW_LOG_BYTES // 1024} KiB "
                    f"of {total:,} bytes]\n") + text
        return _cut_lines(text)

    @property
    def exit_code(self) -> int | None:
        """The process's exit code once finished (negative: killed by that signal), else None."""
        return self._outcome().get("exit_code")

    @property
    def error(self) -> str | None:
        """Why the job failed (the end of its traceback) or was cancelled; None otherwise."""
        return self._outcome().get("error")

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self._spec["created_at"])

    @property
    def started_at(self) -> datetime | None:
        """When the runner came up (aware UTC), None while queued."""
        started = read_json(self.job_dir / STARTED_FILE)
        return datetime.fromisoformat(started["time"]) if started else None

    @property
    def finished_at(self) -> datetime | None:
        finished = self._outcome().get("finished_at")
        return datetime.fromisoformat(finished) if finished else None

    @property
    def outputs(self) -> dict[str, Path]:
        return {name: Path(path) for name, path in self._spec["outputs"].items()}

    @property
    def inputs(self) -> dict[str, Path]:
        return {name: Path(path) for name, path in self._spec["inputs"].items()}

    @property
    def params(self) -> dict:
        return dict(self._spec["params"])

    @property
    def pid(self) -> int | None:
        """The job process's id (also its process group's)."""
        return self._spec.get("pid") or (read_json(self.job_dir / STARTED_FILE) or {}).get("pid")

    def tail(self, n: int = 20) -> str:
        """The last ``n`` lines of the logs (from their last 256 KiB, each line cut to 4,000 characters)."""
        return _tail(self.job_dir, n)

    # --- acting on it -----------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> "Job":
        """Block until the job has finished (any final status), then return it.

        Raises:
            TimeoutError: it is still queued or running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while self.status not in FINAL_STATES:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"job {self.id} ({self.name!r}) is still {self.status} after {timeout:g} s; "
                                   f"call wait() again, or cancel() to stop it.")
            time.sleep(delay if left is None else min(delay, left))
            delay = min(delay * 1.5, 0.2)
        # The result is written just before the process exits; let it finish so that a
        # finished job never shows up as a live process.
        popen = _owned.get(str(self.job_dir))
        if popen is not None:
            try:
                popen.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        return self

    def cancel(self) -> "Job":
        """Stop the job: SIGTERM to its process group (its ``finally`` blocks run), SIGKILL
        after 3 s if it is still there. Its status becomes ``cancelled``. Cancelling a
        finished job does nothing.

        Raises:
            PermissionDenied: the job's process belongs to another user.
        """
        return self._stop("cancelled by the user (Job.cancel())")

    def on_update(self, callback: Callable[["Job"], None]) -> Callable[[], None]:
        """Call ``callback(job)`` from a watcher thread soon after registering and then on
        every change of status, progress or logs, the last time when the job has finished.
        An exception in the callback is logged and does not stop the others.
        Returns a function that unregisters the callback.
        """
        with self._lock:
            self._callbacks.append(callback)
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name=f"gallery-job-{self.id}", daemon=True)
                self._watcher.start()

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def __repr__(self) -> str:
        progress = f" {self.progress:.0%}" if self.progress is not None else ""
        return f"<Job {self.id} {self.name!r}: {self.status}{progress}>"

    # --- inside ---------------------------------------------------------------------------------

    def _outcome(self) -> dict:
        """result.json, or what the job is doing now, or how it ended without a result."""
        if self._result is not None:
            return self._result
        result = read_json(self.job_dir / RESULT_FILE)
        if result is None:
            alive, returncode = self._process()
            if alive:
                running = (self.job_dir / STARTED_FILE).exists()
                return {"status": "running" if running else "queued"}
            # The runner writes its result before it exits: look again before concluding
            # that it never did, then record the conclusion so every reader agrees on it.
            result = read_json(self.job_dir / RESULT_FILE)
            if result is None:
                write_json_once(self.job_dir / RESULT_FILE, _lost_result(self.job_dir, returncode))
                result = read_json(self.job_dir / RESULT_FILE)
        if result["status"] in FINAL_STATES:
            self._result = result
        return result

    def _process(self) -> tuple[bool, int | None]:
        """(is the job's process still there, its exit code when this process knows it)."""
        popen = _owned.get(str(self.job_dir))
        if popen is not None:
            returncode = popen.poll()
            return returncode is None, returncode
        if self._spec.get("host") not in (None, socket.gethostname()):
            return True, None  # another machine's process (a shared folder): trust the files
        started = read_json(self.job_dir / STARTED_FILE) or {}
        pid = started.get("pid") or self._spec.get("pid")
        if pid is None:
            # start_job writes the pid a moment after the folder; treat the job as queued
            # for that moment, but not forever.
            young = time.time() - self.created_at.timestamp() < 30
            return young, None
        return _pid_alive(pid, started.get("start_ticks") or self._spec.get("start_ticks")), None

    def _read_events(self) -> None:
        """Fold new lines of events.jsonl into progress and metrics, a bounded chunk at a
        time; a line longer than EVENT_LINE_LIMIT (not written by gw.report) is skipped."""
        with self._lock:
            while True:
                try:
                    with open(self.job_dir / EVENTS_FILE, "rb") as events:
                        events.seek(self._events_read)
                        chunk = events.read(EVENTS_CHUNK)
                except FileNotFoundError:
                    return
                if self._skipping_line:
                    newline = chunk.find(b"\n")
                    if newline < 0:
                        self._events_read += len(chunk)
                        if len(chunk) < EVENTS_CHUNK:
                            return
                        continue
                    self._events_read += newline + 1
                    self._skipping_line = False
                    continue
                end = chunk.rfind(b"\n") + 1  # a line still being written is read next time
                if end == 0:
                    if len(chunk) >= EVENTS_CHUNK:  # one line longer than a whole chunk
                        self._events_read += len(chunk)
                        self._skipping_line = True
                        continue
                    return
                for line in chunk[:end].splitlines():
                    if len(line) > EVENT_LINE_LIMIT:
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue  # not ours; never let one bad line hide the others
                    if not isinstance(event, dict):
                        continue
                    if event.get("progress") is not None:
                        self._progress = event["progress"]
                    if isinstance(event.get("metrics"), dict):
                        self._reported.update(event["metrics"])
                self._events_read += end
                if len(chunk) < EVENTS_CHUNK:
                    return

    def _stop(self, reason: str) -> "Job":
        if self.status in FINAL_STATES:
            return self
        write_json_once(self.job_dir / CANCEL_FILE, {"time": now_iso(), "reason": reason, "by_pid": os.getpid()})
        if self._spec.get("cluster"):  # a mirror of a job on a Dask worker: the worker stops it
            from ..cluster import cancel_mirror

            cancel_mirror(self, reason, KILL_AFTER_S + 10)
            return self
        pid = self.pid
        if pid is not None and self._process()[0]:
            # The runner (the group's leader) passes SIGTERM on and kills whatever the job
            # started after KILL_AFTER_S; it never runs the algorithm's code, so it answers.
            _signal_group(pid, signal.SIGTERM, self)
            if not self._wait_gone(KILL_AFTER_S + 3):
                # Backstop for a runner that does not answer: freeze and kill it with all
                # its descendants (detached ones too), not only its process group.
                from .contain import kill_tree

                kill_tree(pid, include_root=True)
                self._wait_gone(5.0)
        write_json_once(self.job_dir / RESULT_FILE, {
            "status": "cancelled", "exit_code": self._process()[1], "metrics": {},
            "error": (read_json(self.job_dir / CANCEL_FILE) or {}).get("reason", reason), "finished_at": now_iso()})
        return self

    def _wait_gone(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self._process()[0]:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def _watch(self) -> None:
        seen = None
        while True:
            status = self.status
            now = (status, _size(self.job_dir / EVENTS_FILE), _size(self.job_dir / LOG_FILE))
            with self._lock:
                callbacks = list(self._callbacks)
                if not callbacks:
                    self._watcher = None
                    return
            if now != seen:
                seen = now
                for callback in callbacks:
                    try:
                        callback(self)
                    except Exception:  # noqa: BLE001 - a widget's bug must not stop the others
                        log.exception("Job.on_update callback %r failed", callback)
            if status in FINAL_STATES:
                with self._lock:
                    self._callbacks.clear()  # nothing will change any more
                    self._watcher = None
                return
            time.sleep(WATCH_INTERVAL_S)


def start_job(*, code_dir: Path, entrypoint: str, params: dict, inputs: dict[str, Path], outputs: dict[str, Path],
              jobs_root: Path, name: str, memory_limit_mb: int | None = None, timeout_s: float | None = None,
              env: dict | None = None, code_files: dict[str, str] | None = None, job_id: str | None = None,
              die_with_parent: bool = False) -> Job:
    """Run ``entrypoint`` (``module:function`` in ``code_dir``) as
    ``function(params, inputs, outputs)`` in a new process, and return its ``Job`` at once.

    ``inputs`` and ``outputs`` map names to paths (output folders are created);
    ``memory_limit_mb`` caps the process's address space; after ``timeout_s`` seconds
    the job is cancelled; ``env`` adds environment variables to the allow-listed ones
    (``ENV_ALLOWED``). With ``code_files`` (relative path -> sha256, an imported
    artifact's checked file list) exactly those files are copied into the job's own
    ``code/`` folder, each checked on the copied bytes, and the job runs that copy; it
    works in its own ``work/`` folder either way. ``job_id`` names the job folder (a
    cluster job keeps the id its kernel gave it); with ``die_with_parent`` the job ends
    when the process that started it ends (a Dask worker), instead of outliving it.

    Raises:
        InvalidInput: an argument is malformed (the message names it), or an input is missing.
        TamperedArtifact: a file of ``code_files`` changed after it was checked.
        GalleryError: the job process could not be started.
    """
    code_dir = Path(code_dir).expanduser().resolve()
    if not code_dir.is_dir():
        raise InvalidInput(f"code_dir {code_dir} is not a folder; pass the folder that holds the algorithm's code.")
    if not isinstance(entrypoint, str) or not ENTRYPOINT.match(entrypoint):
        raise InvalidInput(f"entrypoint must be 'module:function' (e.g. 'train:main'), got {entrypoint!r}.")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"name must be a non-empty string, got {name!r}.")
    spec = {
        "name": name,
        "entrypoint": entrypoint,
        "code_dir": str(code_dir),
        "params": _check_params(params),
        "inputs": _check_paths(inputs, "inputs", must_exist=True),
        "outputs": _check_paths(outputs, "outputs", must_exist=False),
        "memory_limit_mb": _check_positive(memory_limit_mb, "memory_limit_mb", integer=True),
        "timeout_s": _check_positive(timeout_s, "timeout_s", integer=False),
        "created_at": now_iso(),
        "host": socket.gethostname(),
        "pid": None,
        "start_ticks": None,
        "die_with_parent": bool(die_with_parent),
    }
    child_env = _child_env(env)

    jobs_root = Path(jobs_root).expanduser().resolve()
    jobs_root.mkdir(parents=True, exist_ok=True)
    job_dir = _new_job_dir(jobs_root, job_id)
    if code_files is not None:
        from ..extract import copy_checked

        try:
            copy_checked(code_dir, code_files, job_dir / "code")
        except BaseException:
            from ..extract import remove_tree

            remove_tree(job_dir)
            raise
        spec["code_dir"] = str(job_dir / "code")
    (job_dir / "work").mkdir()
    write_json_atomic(job_dir / SPEC_FILE, spec)
    child_env[EVENTS_ENV] = str(job_dir / EVENTS_FILE)
    child_env["GALLERY_JOB_DIR"] = str(job_dir)
    with open(job_dir / LOG_FILE, "ab") as log_file:
        try:
            # -P: nothing in the working folder may shadow the standard library the
            # runner imports; the runner puts the code folder on sys.path itself.
            popen = subprocess.Popen(
                [sys.executable, "-P", "-m", "gallery_widgets.kernel.runtime.runner", str(job_dir)],
                cwd=job_dir / "work", env=child_env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True)
        except OSError as error:
            write_json_once(job_dir / RESULT_FILE, {"status": "failed", "exit_code": None, "metrics": {},
                                                    "error": f"could not start the job process: {error}",
                                                    "finished_at": now_iso()})
            raise GalleryError(f"Could not start the job process ({error}); check that {sys.executable} "
                               f"still exists and that {jobs_root} is writable.") from error
    started = process_state(popen.pid)
    spec.update(pid=popen.pid, start_ticks=started[1] if started else None)
    write_json_atomic(job_dir / SPEC_FILE, spec)
    with _owned_lock:
        _owned[str(job_dir)] = popen
    threading.Thread(target=_reap, args=(job_dir, popen, spec["timeout_s"]), name=f"gallery-job-reaper-{job_dir.name}",
                     daemon=True).start()
    return Job(job_dir)


def list_jobs(jobs_root: Path) -> list[Job]:
    """Every job under ``jobs_root``, newest first, read from disk."""
    root = Path(jobs_root).expanduser()
    if not root.is_dir():
        return []
    jobs = []
    for job_dir in root.iterdir():
        if (job_dir / SPEC_FILE).is_file():
            try:
                jobs.append(Job(job_dir))
            except NotFound:
                continue  # removed while we looked
    return sorted(jobs, key=lambda job: (job._spec["created_at"], job.id), reverse=True)


def get_job(jobs_root: Path, job_id: str) -> Job:
    """The job ``job_id`` under ``jobs_root``.

    Raises:
        NotFound: there is no such job.
    """
    root = Path(jobs_root).expanduser()
    if not isinstance(job_id, str) or not job_id or job_id in (".", "..") or "/" in job_id or os.sep in job_id:
        raise NotFound(f"there is no job {job_id!r}; job ids look like '20260115-090000-1a2b3c' "
                       f"(list_jobs(jobs_root) lists them).")
    if not (root / job_id / SPEC_FILE).is_file():
        raise NotFound(f"there is no job {job_id!r} in {root}; list_jobs(jobs_root) lists the jobs there.")
    return Job(root / job_id)


# --- helpers --------------------------------------------------------------------------------------

def _reap(job_dir: Path, popen: subprocess.Popen, timeout_s: float | None) -> None:
    """Wait for a job this process started; record how it ended if the runner could not."""
    if timeout_s:
        try:
            # The runner enforces its own timeout; this is the backstop for code that
            # holds the interpreter so its watchdog thread never runs.
            popen.wait(timeout=timeout_s + KILL_AFTER_S + 2)
        except subprocess.TimeoutExpired:
            try:
                Job(job_dir)._stop(f"timed out after {timeout_s:g} s")
            except Exception:  # noqa: BLE001 - a reaper thread has nobody to raise to
                log.exception("could not stop job %s after its timeout", job_dir.name)
    popen.wait()
    if not (job_dir / RESULT_FILE).exists():
        write_json_once(job_dir / RESULT_FILE, _lost_result(job_dir, popen.returncode))
    with _owned_lock:
        _owned.pop(str(job_dir), None)


def _lost_result(job_dir: Path, returncode: int | None) -> dict:
    """The outcome of a job whose process is gone without writing result.json."""
    marker = read_json(job_dir / CANCEL_FILE)
    if marker:
        return {"status": "cancelled", "exit_code": returncode, "metrics": {}, "error": marker.get("reason"),
                "finished_at": now_iso()}
    if returncode is None:
        error = ("the job's process ended without recording a result: it was probably killed (out of memory, "
                 "or from outside)")
    elif returncode < 0:
        error = f"the process was killed by {signal_description(-returncode)}"
    else:
        error = f"the process exited with code {returncode} without recording a result (os._exit()?)"
    if not (job_dir / STARTED_FILE).exists():
        error += ", before the algorithm started"
    crash = _tail(job_dir, 40)
    if "Fatal Python error" in crash:  # faulthandler's report of a native crash
        error += ":\n" + crash[crash.rindex("Fatal Python error"):]
    else:
        error += "; job.tail() shows the end of its log."
    return {"status": "failed", "exit_code": returncode, "metrics": {}, "error": error, "finished_at": now_iso()}


def _pid_alive(pid: int, start_ticks: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, but belongs to another user
    if not Path("/proc/self/stat").exists():
        return True  # not Linux: kill() is all we know
    state = process_state(pid)
    if state is None or state[0] in "ZX":
        return False  # gone, or a zombie nobody has reaped yet: it runs no code
    # A different start time means the pid was reused by an unrelated process.
    return start_ticks is None or state[1] == start_ticks


def _signal_group(pid: int, signum: int, job: Job) -> None:
    try:
        os.killpg(pid, signum)  # start_job made the job's process its group's leader
    except ProcessLookupError:
        pass
    except PermissionError as error:
        raise PermissionDenied(f"cannot stop job {job.id}: its process {pid} belongs to another user; ask them, "
                               f"or an administrator.") from error


def _child_env(extra: dict | None) -> dict:
    env = {key: value for key, value in os.environ.items()
           if key in ENV_ALLOWED or key.startswith(ENV_ALLOWED_PREFIXES)}
    if extra is not None:
        if not isinstance(extra, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
            raise InvalidInput("env must be a dict of strings to strings, e.g. {'OMP_NUM_THREADS': '2'}.")
        env.update(extra)
    # The job must import the same gallery_widgets as this kernel, installed or not.
    package_root = str(Path(gallery_widgets.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"  # prints reach the log (and the live view) at once
    if env.get("MPLBACKEND", "").startswith("module://matplotlib_inline"):
        env["MPLBACKEND"] = "Agg"  # a kernel's inline backend means nothing in a job
    return env


def new_job_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


JOB_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


def _new_job_dir(jobs_root: Path, job_id: str | None = None) -> Path:
    if job_id is not None:
        if not isinstance(job_id, str) or not JOB_ID.match(job_id):
            raise InvalidInput(f"job_id must look like '20260115-090000-1a2b3c', got {job_id!r}.")
        try:
            (jobs_root / job_id).mkdir()
        except FileExistsError:
            raise InvalidInput(f"there is already a job {job_id!r} in {jobs_root}.") from None
        return jobs_root / job_id
    while True:
        job_id = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        try:
            (jobs_root / job_id).mkdir()
            return jobs_root / job_id
        except FileExistsError:
            continue


def _check_params(params) -> dict:
    if not isinstance(params, dict):
        raise InvalidInput(f"params must be a dict of hyperparameters, got {type(params).__name__}.")
    for key, value in params.items():
        if not isinstance(key, str):
            raise InvalidInput(f"params: names must be strings, got {key!r}.")
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError) as error:
            raise InvalidInput(f"params: {key!r} must be plain data (numbers, strings, bools, lists, dicts) to "
                               f"reach the job's process, got {type(value).__name__}.") from error
    return dict(params)


def _check_paths(paths, what: str, *, must_exist: bool) -> dict[str, str]:
    if not isinstance(paths, dict):
        raise InvalidInput(f"{what} must be a dict of names to paths, got {type(paths).__name__}.")
    checked = {}
    for key, path in paths.items():
        if not isinstance(key, str) or not isinstance(path, (str, os.PathLike)):
            raise InvalidInput(f"{what}: {key!r} must map a name to a path, got {path!r}.")
        # Absolute, because the job runs in the code folder, not in this kernel's folder.
        resolved = Path(path).expanduser().resolve()
        if must_exist and not resolved.exists():
            raise InvalidInput(f"{what}: {key!r} is {resolved}, which does not exist; pass an existing file or "
                               f"folder.")
        checked[key] = str(resolved)
    return checked


def _check_positive(value, what: str, *, integer: bool):
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value <= 0:
        kind = "a positive whole number" if integer else "a positive number of seconds"
        raise InvalidInput(f"{what} must be {kind} or None, got {value!r}.")
    return value


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _log_end(job_dir: Path, limit: int) -> tuple[bytes, int]:
    """The last ``limit`` bytes of the job's stored output (log.1.txt then log.txt), and
    how many bytes are stored in all."""
    parts = []
    for name in (OLD_LOG_FILE, LOG_FILE):
        try:
            with open(job_dir / name, "rb") as file:
                size = file.seek(0, os.SEEK_END)
                file.seek(max(0, size - limit))
                parts.append((size, file.read(limit)))
        except FileNotFoundError:
            continue
    total = sum(size for size, _ in parts)
    data = b"".join(chunk for _, chunk in parts)[-limit:]
    return data, total


def _cut_lines(text: str) -> str:
    if len(text) <= SHOW_LINE_CHARS or all(len(line) <= SHOW_LINE_CHARS for line in text.split("\n")):
        return text
    return "\n".join(line if len(line) <= SHOW_LINE_CHARS else
                     f"{line[:SHOW_LINE_CHARS]}… [{len(line) - SHOW_LINE_CHARS:,} more characters not shown]"
                     for line in text.split("\n"))


def _tail(job_dir: Path, n: int) -> str:
    """The last ``n`` lines of the job's output, from its last SHOW_LOG_BYTES, lines cut."""
    if n <= 0:
        return ""
    data, total = _log_end(job_dir, SHOW_LOG_BYTES)
    lines = data.decode(errors="replace").rstrip("\n").splitlines()
    if total > len(data) and len(lines) > n:
        pass  # the first line may be cut, but it is not among the last n
    elif total > len(data) and lines:
        lines[0] = "… " + lines[0]  # only the end of a longer line
    return _cut_lines("\n".join(lines[-n:]))
