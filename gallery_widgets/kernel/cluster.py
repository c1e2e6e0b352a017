"""Training jobs on a Dask cluster, with the same ``Job`` API (issue 11).

``train(..., cluster=…)`` and ``workflow.run(..., cluster=…)`` take a
``distributed.Client``, a ``LocalCluster``, or a scheduler address; without one,
``GALLERY_DASK_SCHEDULER`` names the scheduler, and without that the job runs on this
machine as before. ``"local"`` forces this machine.

How a job runs there:

- The kernel checks everything it checks locally (hyperparameters, inputs, the
  subscription: U4) and submits one Dask task (``run_on_worker``).
- On the worker, the task fetches the code by digest with a pluggable *fetcher* (a
  picklable ``fetcher(digest) -> bytes``: ``FolderFetcher`` reads an embedded gallery's
  shared artifact folder, ``InlineFetcher`` ships the bytes with the task), verifies the
  sha256, unpacks into the worker's own cache (checked file by file, as in the kernel),
  and starts the job with ``start_job`` in the worker's folder: its own process tree,
  limits, containment and log caps, as locally. The job dies with its worker.
- The kernel keeps a *mirror* of the job folder (``jobs_root/<job id>``); a relay
  thread copies the worker's log, events, start and result into it. The ``Job`` the
  kernel hands back reads that mirror, so status, progress, logs, metrics, ``wait()``,
  JobView and RunView work unchanged; ``cancel()`` sets a Dask ``Event`` the task
  watches, which cancels the job on the worker.
- A worker that is lost while it runs a job fails that job with a message that says so;
  it is not retried (the algorithm may have written half its outputs).

``distributed`` is imported only here, and only when a cluster is used.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from ..errors import GalleryError, InvalidInput
from .runtime.runner import (
    EVENTS_FILE,
    LOG_FILE,
    LOG_PART_BYTES,
    OLD_LOG_FILE,
    RESULT_FILE,
    SPEC_FILE,
    STARTED_FILE,
    now_iso,
    read_json,
    write_json_atomic,
    write_json_once,
)

SCHEDULER_ENV = "GALLERY_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 5.0
RELAY_INTERVAL_S = 0.1  # how often the kernel copies a running job's output from its worker
READ_CHUNK = 1024 * 1024  # at most this much log per copy

log = logging.getLogger(__name__)

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()
_relays: dict[str, "_Relay"] = {}  # mirror folder -> its relay, for Job.cancel()


# --- choosing the cluster ------------------------------------------------------------------------------

def resolve(cluster):
    """The ``distributed.Client`` to run on, or None for this machine.

    Raises:
        InvalidInput: ``cluster`` is not a Client, a cluster object, an address or "local".
        GalleryError: the scheduler cannot be reached, or ``distributed`` is not installed.
    """
    if cluster is None:
        cluster = os.environ.get(SCHEDULER_ENV) or None
        if cluster is None:
            return None
    if isinstance(cluster, str) and cluster.strip() == "local":
        return None
    distributed = _distributed()
    if isinstance(cluster, distributed.Client):
        if cluster.status not in ("running", "connecting"):
            raise GalleryError(f"The Dask client {cluster!r} is {cluster.status}; pass a connected client or an "
                               f"address.")
        return cluster
    address = getattr(cluster, "scheduler_address", None) if not isinstance(cluster, str) else cluster.strip()
    if not isinstance(address, str) or not address:
        raise InvalidInput(f"cluster must be a distributed.Client, a Dask cluster, a scheduler address such as "
                           f"'tcp://10.0.0.5:8786', or 'local'; got {cluster!r}.")
    return _client_for(address)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise GalleryError("Running on a Dask cluster needs the 'distributed' package: "
                           "pip install 'gallery_widgets[dask]'.") from None
    return distributed


def _client_for(address: str):
    distributed = _distributed()
    with _clients_lock:
        client = _clients.get(address)
        if client is not None and client.status == "running":
            return client
        try:
            client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            where = f" (from {SCHEDULER_ENV})" if os.environ.get(SCHEDULER_ENV) == address else ""
            raise GalleryError(f"Cannot reach the Dask scheduler at {address!r}{where}: {error}. Check the address "
                               f"and that the scheduler runs, or pass cluster='local' to run on this machine."
                               ) from None
        _clients[address] = client
        return client


# --- how a worker gets the code ---------------------------------------------------------------------------

class FolderFetcher:
    """Reads archives from an embedded gallery's artifact folder, which every worker mounts
    at the same path (a shared file system)."""

    def __init__(self, root: str | os.PathLike):
        self.root = str(root)

    def __call__(self, digest: str) -> bytes:
        from ..artifacts import LocalArtifactStore

        return LocalArtifactStore(self.root).get(digest)


class InlineFetcher:
    """The archive travels with the task (a local algorithm, or a gallery the workers cannot reach)."""

    def __init__(self, data: bytes):
        self.data = bytes(data)

    def __call__(self, digest: str) -> bytes:
        return self.data


def _verified(fetcher):
    def read(digest: str) -> bytes:
        import hashlib

        from ..artifacts import TamperedArtifact

        data = fetcher(digest)
        if hashlib.sha256(data).hexdigest() != digest:
            raise TamperedArtifact(f"Artifact {digest[:12]}… fetched on the worker does not match its sha256 digest; "
                                   f"it will not run.")
        return data

    return read


# --- on the worker ------------------------------------------------------------------------------------------

def worker_root(dask_worker=None) -> Path:
    """This worker's folder for its artifact cache and job folders."""
    if dask_worker is None:
        from distributed import get_worker

        dask_worker = get_worker()
    return Path(dask_worker.local_directory) / "gallery"


def run_on_worker(payload: dict, *upstream: dict) -> dict:
    """The Dask task of one job: fetch, verify and unpack the code, run it as a job in its
    own process, follow it (and its cancel event) to the end; returns its final record.
    ``upstream`` are the records of the workflow steps it depends on: when one did not
    succeed, the job does not run."""
    from distributed import Event

    from .extract import checked_files, fetch
    from .runtime.jobs import start_job

    blocked = [record["step"] for record in upstream if record.get("status") != "succeeded"]
    if blocked:
        return {"status": "skipped", "step": payload.get("step"), "skipped_because": blocked[0]}
    cancel = Event(f"gallery-cancel-{payload['job_id']}")
    if payload.get("gated"):
        # A workflow step may start long after the run was submitted: the kernel checks the
        # subscription and the step's audience again now (U4) and opens the gate, or cancels.
        Event(f"gallery-ready-{payload['job_id']}").set()
        go = Event(f"gallery-go-{payload['job_id']}")
        while not go.wait(timeout=0.2):
            if cancel.is_set():
                break
    if cancel.is_set():
        return {"status": "cancelled", "step": payload.get("step")}
    root = worker_root()
    try:
        folder = fetch(payload["digest"], root / "cache", _verified(payload["fetcher"]))
        inputs = dict(payload["inputs"])
        for name, (step, output) in payload.get("wired", {}).items():
            inputs[name] = next(r for r in upstream if r["step"] == step)["outputs"][output]
        job = start_job(code_dir=folder, code_files=checked_files(folder), entrypoint=payload["entrypoint"],
                        params=payload["params"], inputs=inputs, outputs=payload["outputs"], jobs_root=root / "jobs",
                        name=payload["name"], memory_limit_mb=payload.get("memory_limit_mb"),
                        timeout_s=payload.get("timeout_s"), job_id=payload["job_id"], die_with_parent=True)
    except Exception as error:  # noqa: BLE001 - reported on the job, and dependents are skipped, not crashed
        return {"status": "failed", "step": payload.get("step"),
                "error": f"the job could not start on the worker: {type(error).__name__}: {error}"}
    while True:
        try:
            job.wait(timeout=0.2)
            break
        except TimeoutError:
            pass
        if cancel.is_set():
            job.cancel()
            break
    return {"status": job.status, "step": payload.get("step"), "outputs": {k: str(v) for k, v in job.outputs.items()},
            "result": read_json(job.job_dir / RESULT_FILE)}


def read_job_files(job_id: str, offsets: dict, dask_worker=None) -> dict | None:
    """What is new in a job folder on this worker since ``offsets`` (run by the relay
    through ``Client.run``); None when this worker has no such job."""
    job_dir = worker_root(dask_worker) / "jobs" / job_id
    if not (job_dir / SPEC_FILE).exists():
        return None
    answer = {"started": read_json(job_dir / STARTED_FILE), "result": read_json(job_dir / RESULT_FILE)}
    for name in (LOG_FILE, EVENTS_FILE):
        offset = offsets.get(name, 0)
        try:
            with open(job_dir / name, "rb") as file:
                size = file.seek(0, os.SEEK_END)
                if size < offset:  # the log was rotated: carry on in its new part
                    offset = 0
                file.seek(offset)
                chunk = file.read(READ_CHUNK)
        except FileNotFoundError:
            chunk = b""
        if name == EVENTS_FILE:
            chunk = chunk[:chunk.rfind(b"\n") + 1]  # whole lines only
        answer[name] = (offset + len(chunk), chunk)
    return answer


def cancel_remote(scheduler: str, job_id: str) -> None:
    """Ask the task of ``job_id`` to cancel its job (from any kernel that can reach the scheduler)."""
    distributed = _distributed()
    distributed.Event(f"gallery-cancel-{job_id}", client=_client_for(scheduler)).set()


# --- in the kernel ------------------------------------------------------------------------------------------------

def submit(client, *, code: tuple[str, object], entrypoint: str, params: dict, inputs: dict, outputs: dict,
           jobs_root: Path, name: str, memory_limit_mb=None, timeout_s=None, step: str | None = None,
           wired: dict | None = None, upstream=(), mirror_now: bool = True, gate=None) -> "_Relay":
    """Submit one job to the cluster and start relaying it into a mirror folder under
    ``jobs_root``; returns the relay (``relay.job()`` is its ``Job``). With ``gate``, the
    job waits on its worker until the kernel has called ``gate()`` (which raises to refuse
    the start, e.g. ``SubscriptionRequired``)."""
    from .runtime.jobs import _check_paths, _check_params, _check_positive, new_job_id

    digest, fetcher = code
    job_id = new_job_id()
    payload = {
        "job_id": job_id, "digest": digest, "fetcher": fetcher, "entrypoint": entrypoint,
        "params": _check_params(params), "inputs": _check_paths(inputs, "inputs", must_exist=True),
        "outputs": _check_paths(outputs, "outputs", must_exist=False), "name": name, "step": step,
        "memory_limit_mb": _check_positive(memory_limit_mb, "memory_limit_mb", integer=True),
        "timeout_s": _check_positive(timeout_s, "timeout_s", integer=False), "wired": wired or {},
        "gated": gate is not None,
    }
    jobs_root = Path(jobs_root).expanduser().resolve()
    jobs_root.mkdir(parents=True, exist_ok=True)
    future = client.submit(run_on_worker, payload, *upstream, key=f"gallery-job-{name}-{job_id}", pure=False,
                           retries=0)
    relay = _Relay(client, future, jobs_root / job_id, payload, gate)
    if mirror_now:
        relay.make_mirror()
    relay.start()
    return relay


class _Relay(threading.Thread):
    """Copies a cluster job's folder from its worker into the kernel's mirror folder."""

    def __init__(self, client, future, mirror: Path, payload: dict, gate=None):
        super().__init__(name=f"gallery-dask-relay-{payload['job_id']}", daemon=True)
        self.gate = gate
        self.client = client
        self.future = future
        self.mirror = mirror
        self.payload = payload
        self.job_id = payload["job_id"]
        self.worker: str | None = None
        self.offsets = {LOG_FILE: 0, EVENTS_FILE: 0}
        self.record: dict | None = None  # what the task returned, once done
        self.ended = threading.Event()
        self.cancel_requested = False
        self._mirror_lock = threading.Lock()
        self._log_size = 0

    # the mirror folder --------------------------------------------------------------------------
    def make_mirror(self) -> None:
        with self._mirror_lock:
            if (self.mirror / SPEC_FILE).exists():
                return
            self.mirror.mkdir(parents=True, exist_ok=True)
            payload = self.payload
            write_json_atomic(self.mirror / SPEC_FILE, {
                "name": payload["name"], "entrypoint": payload["entrypoint"], "code_dir": None,
                "params": payload["params"], "inputs": payload["inputs"], "outputs": payload["outputs"],
                "memory_limit_mb": payload["memory_limit_mb"], "timeout_s": payload["timeout_s"],
                "created_at": now_iso(), "host": "dask", "pid": None, "start_ticks": None,
                "cluster": {"scheduler": self.client.scheduler.address, "worker": None},
            })
            _relays[str(self.mirror.resolve())] = self

    def job(self):
        from .runtime.jobs import Job

        self.make_mirror()
        return Job(self.mirror)

    def _append_log(self, data: bytes) -> None:
        if not data:
            return
        # The same cap as the runner's: past LOG_PART_BYTES the mirror starts a new part.
        if self._log_size + len(data) > LOG_PART_BYTES and self._log_size > 0:
            os.replace(self.mirror / LOG_FILE, self.mirror / OLD_LOG_FILE)
            self._log_size = 0
        with open(self.mirror / LOG_FILE, "ab") as file:
            file.write(data)
        self._log_size += len(data)

    def _copy(self, answer: dict) -> None:
        self.make_mirror()
        for name in (LOG_FILE, EVENTS_FILE):
            offset, chunk = answer[name]
            self.offsets[name] = offset
            if name == LOG_FILE:
                self._append_log(chunk)
            elif chunk:
                with open(self.mirror / EVENTS_FILE, "ab") as file:
                    file.write(chunk)
        if answer["started"] and not (self.mirror / STARTED_FILE).exists():
            write_json_atomic(self.mirror / STARTED_FILE, {**answer["started"], "worker": self.worker})

    def _finish(self, result: dict) -> None:
        self.make_mirror()
        if not (self.mirror / STARTED_FILE).exists():
            write_json_atomic(self.mirror / STARTED_FILE, {"time": now_iso(), "pid": None, "worker": self.worker})
        write_json_once(self.mirror / RESULT_FILE, result)

    # following the task ---------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._follow()
        except Exception as error:  # noqa: BLE001 - a relay has nobody to raise to; record it on the job
            log.exception("relay of cluster job %s failed", self.job_id)
            if (self.mirror / SPEC_FILE).exists():
                self._finish(_failed(f"the kernel lost track of the job on the cluster: {error}"))
        finally:
            self.ended.set()
            _relays.pop(str(self.mirror.resolve()), None)  # its job is final: cancel() has nothing to reach

    def _pull(self) -> dict | None:
        workers = [self.worker] if self.worker else None
        answers = self.client.run(read_job_files, self.job_id, dict(self.offsets), workers=workers,
                                  on_error="return")
        for address, answer in answers.items():
            if isinstance(answer, dict):
                self.worker = address
                return answer
        return None

    def _follow(self) -> None:
        distributed = _distributed()
        failures = 0
        while True:
            if self.future.done():
                break
            if self.gate is not None:
                opened = self._open_gate()
                if opened is False:
                    return
                if opened is None:  # still waiting upstream or in the queue: nothing to copy yet
                    self._wait(distributed)
                    continue
            try:
                answer = self._pull()
                failures = 0
            except Exception:  # noqa: BLE001 - the worker may be going away; decided below
                answer = None
                failures += 1
            if answer is not None:
                self._copy(answer)
            if self.worker is not None and self._worker_lost(failures):
                self._lost()
                return
            self._wait(distributed)
        status = self.future.status
        if status == "finished":
            self.record = record = self.future.result()
            if record.get("status") == "skipped":
                return
            if record.get("status") == "cancelled" and record.get("result") is None:
                if (self.mirror / SPEC_FILE).exists():
                    self._finish(_cancelled())
                return
            if record.get("result") is None:
                self._finish(_failed(record.get("error") or "the job ended without recording a result"))
                return
            try:
                answer = self._pull()  # the last of the log
            except Exception:  # noqa: BLE001
                answer = None
            if answer is not None:
                self._copy(answer)
            self._finish(self.record.get("result") or _failed("the job ended without recording a result"))
        elif status == "cancelled":
            self.record = {"status": "cancelled", "step": self.payload.get("step")}
            if self.cancel_requested and (self.mirror / SPEC_FILE).exists():
                self._finish(_cancelled())
        else:  # "error" (or "lost"): the task itself failed
            error = self.future.exception()
            text = _lost_message(self.worker) if _is_worker_loss(error) else f"{type(error).__name__}: {error}"
            self.record = {"status": "failed", "step": self.payload.get("step"), "error": text}
            self._finish(_failed(text))

    def _wait(self, distributed) -> None:
        try:  # wakes at once when the task ends, else after the interval
            distributed.wait([self.future], timeout=RELAY_INTERVAL_S)
        except Exception:  # noqa: BLE001 - a timeout, or a cancelled future: decided at the top
            pass

    def _open_gate(self) -> bool | None:
        """When the task is about to start: check ``gate()`` and let it go (True), or cancel
        it and record why (False); None while the task has not reached the gate."""
        from distributed import Event

        if not Event(f"gallery-ready-{self.job_id}", client=self.client).is_set():
            return None
        gate, self.gate = self.gate, None
        try:
            gate()
        except Exception as refused:  # noqa: BLE001 - the refusal is the job's outcome
            self.cancel_event().set()
            self.future.cancel()
            text = f"the step was not started: {refused}"
            self.record = {"status": "failed", "step": self.payload.get("step"), "error": text}
            self._finish(_failed(text))
            return False
        Event(f"gallery-go-{self.job_id}", client=self.client).set()
        return True

    def _worker_lost(self, failures: int) -> bool:
        if failures >= 3:
            return True
        try:
            try:
                workers = self.client.scheduler_info(n_workers=-1)["workers"]  # all of them, not the first few
            except TypeError:  # an older distributed: it always lists all
                workers = self.client.scheduler_info()["workers"]
            return self.worker not in workers
        except Exception:  # noqa: BLE001
            return False

    def _lost(self) -> None:
        """The worker running the job is gone: fail the job now (no retry) and make sure the
        scheduler does not start it again elsewhere."""
        self.cancel_event().set()
        self.future.cancel()
        text = _lost_message(self.worker)
        self.record = {"status": "failed", "step": self.payload.get("step"), "error": text}
        self._finish(_failed(text))

    def cancel_event(self):
        from distributed import Event

        return Event(f"gallery-cancel-{self.job_id}", client=self.client)

    def cancel(self, wait_s: float) -> None:
        """Job.cancel() of the mirror: the task cancels the job on its worker (SIGTERM, SIGKILL after 3 s)."""
        self.cancel_requested = True
        self.cancel_event().set()
        if self.worker is None:
            # No worker has the job yet: it never starts (had it just started, the event
            # set above stops it on its worker all the same).
            self.future.cancel()
        self.ended.wait(wait_s)


def cancel_mirror(job, reason: str, wait_s: float) -> None:
    """Route ``Job.cancel()`` of a cluster job's mirror to its worker."""
    relay = _relays.get(str(job.job_dir))
    if relay is not None:
        relay.cancel(wait_s)
    else:  # started from another kernel: ask through the scheduler, then record the cancel here
        cancel_remote(job._spec["cluster"]["scheduler"], job.id)
    write_json_once(job.job_dir / RESULT_FILE, {**_cancelled(), "error": reason})


def _failed(error: str) -> dict:
    return {"status": "failed", "exit_code": None, "metrics": {}, "error": error, "finished_at": now_iso()}


def _cancelled() -> dict:
    return {"status": "cancelled", "exit_code": None, "metrics": {}, "error": "cancelled by the user (Job.cancel())",
            "finished_at": now_iso()}


def _lost_message(worker: str | None) -> str:
    return (f"the Dask worker {worker or ''} running this job was lost (its process ended or its machine went "
            f"away); the job was not retried. Start it again.").replace("worker  running", "worker running")


def _is_worker_loss(error) -> bool:
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, KilledWorker) or "lost" in str(error).lower()
