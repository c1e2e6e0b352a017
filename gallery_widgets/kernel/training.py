"""Starting a training job from an algorithm folder (SPEC U2), for local and imported algorithms alike.

Hyperparameters and inputs are checked against the manifest before anything starts;
the error names the field.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from pathlib import Path

from ..errors import InvalidInput
from ..manifest import check_params


def check_inputs(manifest: dict, inputs) -> dict[str, Path]:
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise InvalidInput("inputs must be a dict of input name -> path.")
    declared = [i["name"] for i in manifest.get("inputs", [])]
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise InvalidInput(f"Unknown input(s) {', '.join(unknown)}; {manifest['name']} takes: {', '.join(declared) or 'none'}.")
    result = {}
    for name in declared:
        if name not in inputs:
            raise InvalidInput(f"inputs: '{name}' is missing; pass inputs={{'{name}': 'path/to/data'}}.")
        path = Path(inputs[name]).expanduser()
        if not path.exists():
            raise InvalidInput(f"inputs: '{name}' points to {str(path)!r}, which does not exist.")
        result[name] = path.resolve()
    return result


def start_training(*, code_dir: Path, manifest: dict, params, inputs, output_dir, jobs_root: Path,
                   memory_limit_mb: int | None = None, timeout_s: float | None = None,
                   code_files: dict[str, str] | None = None, cluster=None, code_ref=None):
    """Validate, then start the algorithm as a job in its own process; returns the ``Job``.

    With a ``cluster`` (see ``cluster.resolve``) the job runs on a Dask worker, which gets
    the code from ``code_ref()``: ``(sha256 digest, fetcher)``.
    """
    from .cluster import resolve
    from .runtime.jobs import start_job

    full_params = check_params(manifest, params)
    paths = check_inputs(manifest, inputs)
    client = resolve(cluster)
    if output_dir is None:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        output_dir = Path(jobs_root) / "outputs" / f"{manifest['name']}-{stamp}-{secrets.token_hex(2)}"
    output_dir = Path(output_dir).expanduser().resolve()
    outputs = {o["name"]: output_dir / o["name"] for o in manifest.get("outputs", [])}
    if client is not None:
        from .cluster import submit

        return submit(client, code=code_ref(), entrypoint=manifest["entrypoint"], params=full_params, inputs=paths,
                      outputs=outputs, jobs_root=Path(jobs_root), name=manifest["name"],
                      memory_limit_mb=memory_limit_mb, timeout_s=timeout_s).job()
    return start_job(
        code_dir=Path(code_dir),
        entrypoint=manifest["entrypoint"],
        params=full_params,
        inputs=paths,
        outputs=outputs,
        jobs_root=Path(jobs_root),
        name=manifest["name"],
        memory_limit_mb=memory_limit_mb,
        timeout_s=timeout_s,
        code_files=code_files,
    )
