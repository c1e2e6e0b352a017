"""What ``import_algorithm`` / ``import_workflow`` hand back to the kernel (SPEC U1-U3)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInput, PermissionDenied
from ..packing import MANIFEST_ENTRY

PREVIEW_LIMIT = 100_000

_artifact_folders: set[str] = set()  # unpacked artifacts this process imported code from (with a trailing /)


@contextlib.contextmanager
def importing_from(folder: Path):
    """Let code in an unpacked artifact ``folder`` import its sibling modules — its own.

    ``folder`` goes first on ``sys.path``, and the modules that earlier imports loaded
    from *other* artifacts are hidden meanwhile: two artifacts (or two versions of one)
    that both ship, say, ``utils.py`` must not share the one imported first (SPEC U1,
    U6). What this folder loads stays registered afterwards.
    """
    folder = str(folder)
    own = folder + os.sep
    others = tuple(f for f in _artifact_folders if f != own)
    _artifact_folders.add(own)
    hidden = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if others and file.startswith(others):
            hidden[name] = sys.modules.pop(name)
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.path.remove(folder)
        for name, module in hidden.items():
            sys.modules.setdefault(name, module)


def load_module(folder: Path, module_name: str, unique_name: str):
    """Execute ``module_name`` (a ``.py`` file or a package) of ``folder`` as a module named
    ``unique_name``; call it inside ``importing_from(folder)``."""
    path = folder / (module_name.replace(".", "/") + ".py")
    package = None
    if not path.exists():
        path = folder / module_name.replace(".", "/") / "__init__.py"
        package = [str(path.parent)]  # so the package's relative imports resolve
    spec = importlib.util.spec_from_file_location(unique_name, path, submodule_search_locations=package)
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique_name] = module  # registered, as an import would (relative imports need it)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(unique_name, None)
        raise
    return module


class ImportedAlgorithm:
    """A subscribed algorithm version, verified and unpacked; ``train()`` starts a job (SPEC U1, U2).

    ``module``, ``files``, ``preview()`` and ``folder`` are available where the code is open
    or you publish it. "Closed" code is a barrier in this API, not secrecy: the files are
    unpacked on this machine and run with your permissions (see the README).
    """

    def __init__(self, *, gallery, content_id: str, title: str, version: str, manifest: dict, folder: Path,
                 code_visible: bool, unmet: list[str], jobs_root: Path, via_workflow: tuple | None = None,
                 digest: str | None = None):
        self._gallery = gallery
        self.content_id = content_id
        self.title = title
        self.version = version
        self.manifest = manifest
        self._folder = folder
        self._digest = digest  # the artifact's sha256: its unpacked tree is checked again before each use
        self._code_visible = bool(code_visible)
        self.unmet_constraints = tuple(unmet)
        self.jobs_root = jobs_root
        # (workflow content id, workflow version, step): a step of an imported workflow, whose
        # subscription and audience are checked at each train() instead of this algorithm's own.
        self._via_workflow = via_workflow
        self._module = None

    @property
    def code_visible(self) -> bool:
        """True where the code is open to you (open code, or you publish it); read-only."""
        return self._code_visible

    @code_visible.setter
    def code_visible(self, value) -> None:
        raise AttributeError("code_visible is read-only: the gallery decides it (open code, or you publish it).")

    def _checked_folder(self) -> Path:
        """The unpacked code, checked file by file against the verified archive just now
        (and unpacked again if anything changed it since), before it is imported or run."""
        if self._digest is not None:
            self._folder = self._gallery._artifact_folder(self._digest)
        return self._folder

    @property
    def folder(self) -> Path:
        """The unpacked code's folder (where the code is open to you), checked just now."""
        self._require_code_visible()
        return self._checked_folder()

    def __repr__(self) -> str:
        return f"<algorithm {self.title!r} {self.version} ({self.content_id})>"

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def entrypoint(self) -> str:
        return self.manifest["entrypoint"]

    @property
    def hyperparameters(self) -> list[dict]:
        return self.manifest.get("hyperparameters", [])

    @property
    def inputs(self) -> list[dict]:
        return self.manifest.get("inputs", [])

    @property
    def outputs(self) -> list[dict]:
        return self.manifest.get("outputs", [])

    @property
    def requirements(self) -> list[str]:
        return self.manifest.get("requirements", [])

    def _require_code_visible(self) -> None:
        if not self._code_visible:
            raise PermissionDenied(
                f"The code of {self.title!r} is not open; you can train with it, but only its publisher sees the source."
            )

    @property
    def files(self) -> tuple[str, ...]:
        """The files of the algorithm (where its code is open to you)."""
        self._require_code_visible()
        folder = self._checked_folder()
        return tuple(
            p.relative_to(folder).as_posix()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".gallery") and MANIFEST_ENTRY not in p.as_posix()
        )

    def preview(self, path: str | None = None) -> str:
        """The text of one file (default: the entrypoint's module), up to 100,000 characters."""
        self._require_code_visible()
        if path is None:
            module = self.entrypoint.split(":")[0].replace(".", "/")
            path = module + ".py" if module + ".py" in self.files else module + "/__init__.py"  # a package
        if path not in self.files:
            raise InvalidInput(f"{self.title!r} has no file {path!r}; its files are: {', '.join(self.files)}.")
        return (self._folder / path).read_text("utf-8", errors="replace")[:PREVIEW_LIMIT]

    @property
    def module(self):
        """The entrypoint's module, imported into this kernel (the artifact was verified first)."""
        self._require_code_visible()
        if self._module is None:
            module_name = self.entrypoint.split(":")[0]
            unique = f"gallery_{self.content_id}_{self.version.replace('.', '_')}_{module_name.replace('.', '_')}"
            folder = self._checked_folder()
            with importing_from(folder):  # so the module's own sibling imports resolve
                self._module = load_module(folder, module_name, unique)
        return self._module

    def train(self, params=None, inputs=None, output_dir=None, *, memory_limit_mb=None, timeout_s=None,
              cluster=None):
        """Start a training job in its own process; returns the ``Job`` (SPEC U2, U4).

        ``cluster`` runs it on a Dask cluster instead: a ``distributed.Client``, a cluster
        object or a scheduler address (default: ``GALLERY_DASK_SCHEDULER`` when set, else
        this machine; ``"local"`` forces this machine). Inputs and ``output_dir`` must then
        be paths every worker can reach.

        Raises:
            SubscriptionRequired: your subscription was cancelled or expired since the import.
            NotFound: the algorithm (or, for a workflow's step, the step) is no longer available to you.
            InvalidInput: a hyperparameter or input that does not fit the manifest.
            GalleryError: the Dask scheduler cannot be reached.
        """
        from .extract import checked_files
        from .training import start_training

        self._check_access()
        folder = self._checked_folder()
        # The job runs a checked copy in its own folder, never the shared cache (see extract.py).
        return start_training(code_dir=folder, manifest=self.manifest, params=params, inputs=inputs,
                              output_dir=output_dir, jobs_root=self.jobs_root, memory_limit_mb=memory_limit_mb,
                              timeout_s=timeout_s, code_files=checked_files(folder) if self._digest else None,
                              cluster=cluster, code_ref=self._code_ref)

    def _check_access(self) -> None:
        """U4 now: this algorithm's own subscription, or for a workflow's step the workflow's
        subscription and the step's audience."""
        if self._via_workflow is not None:
            workflow_id, workflow_version, step = self._via_workflow
            self._gallery.check_step_usable(workflow_id, workflow_version, f"{self.content_id}@{self.version}", step)
        else:
            self._gallery.check_usable(self.content_id)

    def _code_ref(self) -> tuple[str, object]:
        """(digest, fetcher) with which a Dask worker gets this algorithm's archive."""
        if self._digest is None:
            raise InvalidInput(f"{self.title!r} cannot run on a cluster: it was not imported from a gallery.")
        return self._digest, self._gallery._worker_fetcher(self._digest)

    def jobs(self):
        """Training jobs of this algorithm on this machine, newest first."""
        from .runtime.jobs import list_jobs

        return [j for j in list_jobs(self.jobs_root) if j.name == self.name]


@dataclass
class StepRun:
    name: str
    status: str = "pending"  # pending | running | succeeded | failed | skipped | cancelled
    job: object = None
    error: str | None = None


class WorkflowRun:
    """One run of an imported workflow: steps start in dependency order, each a job (SPEC U3)."""

    def __init__(self, workflow: "ImportedWorkflow", inputs: dict, run_dir: Path, client=None,
                 params: dict | None = None):
        self._client = client  # a distributed.Client: the run is one Dask graph (cluster_run.py)
        self.workflow = workflow
        self.run_dir = run_dir
        self.inputs = inputs
        self.params = params or {}  # step name -> hyperparameters set for this run over the step's own
        self.steps = {s["name"]: StepRun(s["name"]) for s in workflow.steps}
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"workflow-{workflow.name}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<run of {self.workflow.name!r}: {self.status}>"

    @property
    def status(self) -> str:
        states = [s.status for s in self.steps.values()]
        if any(s in ("pending", "running") for s in states) and self._thread.is_alive():
            return "running"
        if "failed" in states:
            return "failed"
        if "cancelled" in states:
            return "cancelled"
        return "succeeded"

    @property
    def failed_step(self) -> str | None:
        return next((s.name for s in self.steps.values() if s.status == "failed"), None)

    @property
    def jobs(self) -> dict:
        return {name: step.job for name, step in self.steps.items() if step.job is not None}

    def wait(self, timeout: float | None = None) -> "WorkflowRun":
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"Workflow {self.workflow.name!r} is still running after {timeout} s.")
        return self

    def cancel(self) -> "WorkflowRun":
        self._cancelled.set()
        for step in self.steps.values():
            if step.status == "running" and step.job is not None:
                step.job.cancel()
        return self

    def step_params(self, step: dict) -> dict:
        """The step's hyperparameters for this run: the workflow's, overridden by ``run(params=…)``."""
        return {**step["params"], **self.params.get(step["name"], {})}

    def _resolve_inputs(self, step: dict) -> dict:
        resolved = {}
        for key, source in step["inputs"].items():
            if "path" in source:
                resolved[key] = Path(source["path"])
            else:
                resolved[key] = self.run_dir / source["step"] / source["output"]
        for key, value in self.inputs.get(step["name"], {}).items():
            resolved[key] = Path(value)
        return resolved

    def _run(self) -> None:
        if self._client is not None:
            from .cluster_run import run_graph

            run_graph(self, self._client)
            return
        for step in self.workflow.steps:
            state = self.steps[step["name"]]
            blocked = [d for d in _dependencies(step) if self.steps[d].status != "succeeded"]
            if self._cancelled.is_set():
                state.status = "cancelled"
                continue
            if blocked:
                state.status = "skipped"
                state.error = f"skipped because step {blocked[0]!r} did not succeed"
                continue
            try:
                algorithm = self.workflow._algorithm(step["algorithm"], step["name"])
                state.job = algorithm.train(self.step_params(step), self._resolve_inputs(step),
                                            output_dir=self.run_dir / step["name"])
                state.status = "running"
                state.job.wait()
                state.status = {"succeeded": "succeeded", "cancelled": "cancelled"}.get(state.job.status, "failed")
                if state.status == "failed":
                    state.error = state.job.error or f"the job ended {state.job.status}"
            except Exception as exc:  # a bad step must not take the kernel down; it is reported on the step
                state.status = "failed"
                state.error = str(exc)


def _dependencies(step: dict) -> list[str]:
    return sorted({s["step"] for s in step["inputs"].values() if "step" in s})


class ImportedWorkflow:
    """A workflow imported into a workspace; ``run()`` executes it step by step (SPEC U3).

    ``load_step(reference, step)`` returns the ``ImportedAlgorithm`` of a step's algorithm
    version; ``gallery.check_usable`` runs before every run, and ``gallery.check_step_usable``
    before every step (docs/rules.md, "Workflows and access").
    """

    def __init__(self, *, gallery, content_id: str, title: str, version: str, name: str, region: str,
                 workspace: str, manifest: dict, runs_root: Path, load_step):
        self._gallery = gallery
        self._load_step = load_step  # ("content_id@x.y.z", step name) -> the step's ImportedAlgorithm
        self.content_id = content_id
        self.title = title
        self.version = version
        self.name = name
        self.region = region
        self.workspace = workspace
        self.manifest = manifest
        self.runs_root = runs_root
        self._algorithms: dict[tuple[str, str], ImportedAlgorithm] = {}

    def __repr__(self) -> str:
        return f"<workflow {self.name!r} from {self.title!r} {self.version}, workspace {self.workspace!r}>"

    @property
    def steps(self) -> list[dict]:
        return self.manifest["steps"]

    def _algorithm(self, reference: str, step: str) -> ImportedAlgorithm:
        """The step's algorithm; its access is checked again by ``train`` each time a step starts."""
        if (reference, step) not in self._algorithms:
            self._algorithms[(reference, step)] = self._load_step(reference, step)
        return self._algorithms[(reference, step)]

    def step_algorithm(self, step: str) -> ImportedAlgorithm:
        """The algorithm a step runs (its manifest says which hyperparameters and inputs it takes).

        Raises:
            InvalidInput: no such step.
            NotFound: the step's algorithm is not available to you.
        """
        found = next((s for s in self.steps if s["name"] == step), None)
        if found is None:
            raise InvalidInput(f"{self.name!r} has no step {step!r}; steps: {', '.join(s['name'] for s in self.steps)}.")
        return self._algorithm(found["algorithm"], step)

    def run(self, inputs: dict | None = None, *, params: dict | None = None, cluster=None) -> WorkflowRun:
        """Start a run; ``inputs`` maps step name -> {input name: path} to override its wired inputs,
        ``params`` maps step name -> {hyperparameter: value} to override the step's (each is checked
        against the step's manifest when the step starts).

        ``cluster`` runs it on a Dask cluster as one graph (independent steps in parallel):
        a ``distributed.Client``, a cluster object or a scheduler address; default
        ``GALLERY_DASK_SCHEDULER`` when set, else this machine (``"local"`` forces it).
        The run's folder (under ``runs_root``) must then be reachable by every worker.

        Raises:
            SubscriptionRequired: your subscription was cancelled or expired.
            InvalidInput: ``inputs`` or ``params`` names a step that does not exist.
            GalleryError: the Dask scheduler cannot be reached.
        """
        from .cluster import resolve

        inputs = inputs or {}
        params = params or {}
        if not isinstance(inputs, dict) or not isinstance(params, dict):
            raise InvalidInput("inputs and params map step names to dicts: {step: {name: value}}.")
        unknown = sorted((set(inputs) | set(params)) - {s["name"] for s in self.steps})
        if unknown:
            raise InvalidInput(f"inputs/params name unknown step(s) {', '.join(unknown)}; steps: "
                               f"{', '.join(s['name'] for s in self.steps)}.")
        self._gallery.check_usable(self.content_id)
        client = resolve(cluster)
        parent = self.runs_root / self.workspace / self.name
        parent.mkdir(parents=True, exist_ok=True)
        # A folder of its own for every run: runs started together must not share outputs.
        run_dir = Path(tempfile.mkdtemp(dir=parent, prefix=time.strftime("%Y%m%d-%H%M%S-")))
        return WorkflowRun(self, inputs, run_dir, client, params)
