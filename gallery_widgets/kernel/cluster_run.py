"""A workflow run as one Dask graph (issue 11): every step is a task whose arguments are
the records of the steps it depends on, so the scheduler runs independent steps in
parallel on different workers and a step starts only after its inputs exist.

The kernel checks every step before anything is submitted (U4: the workflow's
subscription and each step's audience, hyperparameters, the inputs it is given), and
checks U4 again when each step is about to start on its worker (the step waits at a
gate the kernel opens); then it follows each step's relay (``cluster.py``). The rules are those of a local run: a
failing step names itself (``run.failed_step``, the step's ``error``) and the steps that
depend on it are skipped; a worker lost in the middle of a step fails that step with a
message that says so; ``run.cancel()`` stops running steps on their workers and drops the
ones that have not started.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..manifest import check_params
from .runtime.runner import SPEC_FILE

POLL_S = 0.1


def run_graph(run, client) -> None:
    from .cluster import submit

    relays, futures = {}, {}
    dependencies = {step["name"]: _dependencies(step) for step in run.workflow.steps}
    for step in run.workflow.steps:  # the manifest lists steps in dependency order
        name = step["name"]
        state = run.steps[name]
        blocked = [d for d in dependencies[name] if d not in futures]
        if blocked:
            state.status, state.error = "skipped", f"skipped because step {blocked[0]!r} did not succeed"
            continue
        try:
            algorithm = run.workflow._algorithm(step["algorithm"], name)
            algorithm._check_access()
            manifest = algorithm.manifest
            overrides = run.inputs.get(name, {})
            inputs, wired = {}, {}
            for key, source in step["inputs"].items():
                if key in overrides:
                    continue
                if "path" in source:
                    inputs[key] = Path(source["path"])
                else:
                    wired[key] = (source["step"], source["output"])
            inputs.update({key: Path(value) for key, value in overrides.items()})
            outputs = {o["name"]: run.run_dir / name / o["name"] for o in manifest.get("outputs", [])}
            relays[name] = submit(client, code=algorithm._code_ref(), entrypoint=manifest["entrypoint"],
                                  params=check_params(manifest, run.step_params(step)), inputs=inputs, outputs=outputs,
                                  jobs_root=algorithm.jobs_root, name=manifest["name"], step=name, wired=wired,
                                  upstream=[futures[d] for d in dependencies[name]], mirror_now=False,
                                  gate=algorithm._check_access)
            futures[name] = relays[name].future
        except Exception as exc:  # a bad step is reported on the step, never raised into the kernel
            state.status, state.error = "failed", str(exc)

    pending = dict(relays)
    while pending:
        for name, relay in list(pending.items()):
            state = run.steps[name]
            if state.job is None and (relay.mirror / SPEC_FILE).exists():
                state.job, state.status = relay.job(), "running"
            if not relay.ended.is_set():
                if run._cancelled.is_set() and not relay.cancel_requested:
                    relay.cancel(0)
                continue
            del pending[name]
            _settle(state, relay)
            if state.status != "succeeded":  # nothing that depends on it may run
                for other in _dependents(name, dependencies):
                    if other in pending and not pending[other].ended.is_set():
                        pending[other].future.cancel()
        time.sleep(POLL_S)

    for step in run.workflow.steps:  # as locally: a step after one that did not succeed is skipped
        state = run.steps[step["name"]]
        blocked = [d for d in dependencies[step["name"]] if run.steps[d].status != "succeeded"]
        if blocked and state.job is None:
            state.status, state.error = "skipped", f"skipped because step {blocked[0]!r} did not succeed"
        elif run._cancelled.is_set() and state.status in ("pending", "skipped") and not blocked:
            state.status = "cancelled"


def _settle(state, relay) -> None:
    record = relay.record or {}
    if (relay.mirror / SPEC_FILE).exists():
        state.job = relay.job()
        status = state.job.status
        state.status = status if status in ("succeeded", "cancelled") else "failed"
        if state.status == "failed":
            state.error = state.job.error or f"the job ended {status}"
    elif record.get("status") == "skipped":
        state.status = "skipped"
        state.error = f"skipped because step {record.get('skipped_because')!r} did not succeed"
    elif record.get("status") == "cancelled":
        state.status = "cancelled"
    else:
        state.status = "skipped" if record == {} else "failed"
        state.error = record.get("error") or state.error


def _dependencies(step: dict) -> list[str]:
    return sorted({s["step"] for s in step["inputs"].values() if "step" in s})


def _dependents(name: str, dependencies: dict) -> set[str]:
    found, frontier = set(), {name}
    while frontier:
        frontier = {other for other, deps in dependencies.items() if frontier & set(deps)} - found
        found |= frontier
    return found
