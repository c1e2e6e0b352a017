"""Workflows: pipelines of algorithm steps, built in the notebook and packed for a gallery (SPEC P6).

The seed's SDK surface (``from gallery_widgets import workflow as wf``) is
``gallery_widgets.workflow``, which re-exports these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..entities import PackedSource
from ..errors import InvalidInput
from ..manifest import REFERENCE as _REFERENCE
from ..manifest import STEP_NAME as _STEP_NAME
from ..manifest import step_order
from .facade import current
from .sources import Algorithm, LocalSource


@dataclass(frozen=True)
class StepOutput:
    """An output of an earlier step, wired to an input of a later one."""

    step: str
    output: str


@dataclass
class Step:
    """One step: a local ``gw.Algorithm`` or a gallery reference ``"content_id@x.y.z"``."""

    name: str
    algorithm: Algorithm | str
    params: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not _STEP_NAME.fullmatch(self.name):
            raise InvalidInput(f"Step name {self.name!r} must be an identifier-like name (letters, digits, _ or -).")
        if isinstance(self.algorithm, str):
            if not _REFERENCE.fullmatch(self.algorithm):
                raise InvalidInput(
                    f"Step {self.name!r}: algorithm {self.algorithm!r} must be a gw.Algorithm or a gallery "
                    "reference 'content_id@x.y.z'."
                )
        elif not isinstance(self.algorithm, Algorithm):
            raise InvalidInput(f"Step {self.name!r}: algorithm must be a gw.Algorithm or 'content_id@x.y.z'.")
        if not isinstance(self.params, dict) or not isinstance(self.inputs, dict):
            raise InvalidInput(f"Step {self.name!r}: params and inputs must be dicts.")
        for key, value in self.inputs.items():
            if not isinstance(value, (StepOutput, str, Path)):
                raise InvalidInput(
                    f"Step {self.name!r}: input {key!r} must be a path or other_step.output('name'), not {value!r}."
                )

    def output(self, name: str) -> StepOutput:
        """This step's output ``name``, to wire into a later step's inputs."""
        if isinstance(self.algorithm, Algorithm):
            declared = [o["name"] for o in self.algorithm.manifest.get("outputs", [])]
            if name not in declared:
                raise InvalidInput(
                    f"Step {self.name!r} has no output {name!r}; its algorithm declares: {', '.join(declared) or 'none'}."
                )
        return StepOutput(self.name, name)

    @property
    def reference(self) -> str | None:
        return self.algorithm if isinstance(self.algorithm, str) else None


class Workflow(LocalSource):
    """A pipeline of steps; publish it with ``release_to_gallery`` or ``g.publish``."""

    kind = "workflow"
    manifest_file = "workflow.json"

    def __init__(self, name: str, steps=()):
        from .. import manifest as mf

        mf.name("Workflow", name)
        steps = list(steps)
        if not steps:
            raise InvalidInput(f"Workflow {name!r} needs at least one step.")
        names = [s.name for s in steps if isinstance(s, Step)]
        if len(names) != len(steps):
            raise InvalidInput("Workflow steps must be gw.Step objects.")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInput(f"Workflow {name!r} repeats step name(s) {', '.join(duplicates)}; names must be unique.")
        for step in steps:
            for key, value in step.inputs.items():
                if isinstance(value, StepOutput) and value.step not in names:
                    raise InvalidInput(
                        f"Step {step.name!r}: input {key!r} is wired to step {value.step!r}, which is not in this workflow."
                    )
        self.steps = step_order(steps, lambda s: [v.step for v in s.inputs.values() if isinstance(v, StepOutput)])
        super().__init__({"kind": "workflow", "name": name}, {}, origin="")

    @property
    def local_algorithms(self) -> list[Step]:
        return [s for s in self.steps if isinstance(s.algorithm, Algorithm)]

    def packed(self) -> PackedSource:
        """This workflow as it travels to a gallery: its steps, and each local algorithm
        packed once (SPEC P6; the gallery writes the workflow's own archive)."""
        keys: dict[int, str] = {}
        algorithms: dict[str, PackedSource] = {}
        steps = []
        for step in self.steps:
            if isinstance(step.algorithm, Algorithm):
                key = keys.setdefault(id(step.algorithm), step.name)
                if key not in algorithms:
                    algorithms[key] = step.algorithm.packed()
                algorithm = {"local": key}
            else:
                algorithm = step.algorithm
            inputs = {
                key: {"step": value.step, "output": value.output} if isinstance(value, StepOutput)
                else {"path": str(value)}
                for key, value in step.inputs.items()
            }
            steps.append({"name": step.name, "algorithm": algorithm, "params": dict(step.params), "inputs": inputs})
        return PackedSource("workflow", {"kind": "workflow", "name": self.name, "steps": steps}, algorithms=algorithms)

    def pack(self) -> bytes:
        raise InvalidInput(
            f"Workflow {self.name!r} is published with release_to_gallery() or g.publish(), which publish its "
            "local algorithm steps with it; it has no archive of its own."
        )

    def release_to_gallery(self, content_id: str | None = None, version: str | None = None, desc: str | None = None,
                           title: str | None = None, visibility: str = "private", group_users=None, gallery=None):
        """Publish this workflow (SPEC P6).

        Without ``content_id``: a new workflow asset at 1.0.0 (title defaults to the
        workflow's name), and each local algorithm step becomes a new algorithm asset at
        1.0.0. With ``content_id``: the next version of that asset; each of your gallery
        algorithms used by a step that changed gets a higher version. ``group_users`` is
        required with visibility "group". Acts on ``gallery`` or the gallery most recently
        opened in this process. Returns the workflow ``Asset``.
        """
        return current(gallery).release_workflow(self, content_id=content_id, version=version, description=desc or "",
                                                 title=title, visibility=visibility, group_users=group_users or ())

    def __repr__(self) -> str:
        return f"gw.Workflow({self.name!r}, steps={[s.name for s in self.steps]})"
