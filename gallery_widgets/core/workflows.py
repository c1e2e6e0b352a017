"""Publishing a workflow and the algorithms it uses, in one transaction (SPEC P6, 003 seed)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select

from .. import manifest as mf
from ..entities import PackedSource
from ..errors import InvalidInput, NotFound, SubscriptionRequired
from ..packing import pack
from ..store.schema import AssetRow, DependencyRow, VersionRow
from . import validate
from .packed import CheckedSource, check_packed, require_packed
from .workflow_access import WorkflowAccess


class Workflows(WorkflowAccess):
    def _release_packed_workflow(self, workflow: PackedSource, *, content_id=None, version=None, description="", title=None,
                         visibility="private", group_users=(), summary="", duration=None, categories=()):
        """Publish a packed workflow as a new asset (no ``content_id``) or as its next version.

        Local algorithm steps are published too: as new algorithm assets at 1.0.0, or — for
        a new version — as the next version of the algorithm the previous workflow version
        used for that step when you publish it and its code changed. Everything happens in
        one transaction: a failure leaves nothing behind.

        Raises:
            InvalidInput: bad title, version, visibility or whitelist; a step reference that
                does not exist or that you may not use; a step wired to an unknown output.
            PermissionDenied: the workflow would reach users who may not use a step's
                algorithm version (a public workflow needs public steps; a group workflow's
                users must each be allowed to use every step).
            Conflict: a version that is not newer, or a title you already use.
            ScanFailed: a step's code failed the security scan.
        """
        workflow = require_packed(workflow)
        if not isinstance(workflow.algorithms, Mapping):
            raise InvalidInput("A packed workflow's algorithms must map each local key to a packed algorithm.")
        manifest = mf.workflow_manifest(dict(workflow.manifest), "the workflow's manifest", workflow.algorithms)
        number = validate.parse_version(version) if version is not None else None
        description = validate.text("description", description, max_len=validate.MAX_VERSION_DESCRIPTION)
        if content_id is None:
            title = validate.title(manifest["name"] if title is None else title)
            visibility = validate.visibility(visibility)
            whitelist = validate.usernames(group_users)
            if visibility == "group" and not whitelist:
                raise InvalidInput("group_users is mandatory when visibility is 'group' (SPEC V4).")
            new_asset = dict(title=title, summary=validate.text("summary", summary, max_len=validate.MAX_SUMMARY,
                                                                  one_line=True),
                             visibility=visibility, duration=validate.duration(duration),
                             categories=_categories(categories))
        else:
            validate.content_id(content_id)
            new_asset, whitelist = None, ()
        used = dict.fromkeys(step["algorithm"]["local"] for step in manifest["steps"] if isinstance(step["algorithm"], dict))
        local = {}
        for key in used:
            checked = check_packed(workflow.algorithms[key])
            local[key] = (checked, self._scan(checked))

        with self._new_artifacts() as put:
            digests = {key: put(checked.archive) for key, (checked, _) in local.items()}
            with self._db.write() as s:
                me = self._me(s)
                previous = {}
                if content_id is not None:
                    workflow_asset = self._owned_asset(s, me, content_id, action="add versions")
                    previous = self._previous_step_versions(s, workflow_asset)
                    whitelist = tuple(w.username for w in self._latest_version(s, workflow_asset).whitelist)
                    visibility = workflow_asset.visibility
                references: dict[str, str] = {}
                resolved: dict[str, dict] = {}
                dependencies: list[tuple[str, int]] = []
                step_constraints: list[dict] = []
                released: dict[str, tuple[AssetRow, VersionRow]] = {}  # digest -> what this release made of it
                steps_used: list[tuple[str, AssetRow, VersionRow]] = []
                for step in manifest["steps"]:
                    key = step["algorithm"]["local"] if isinstance(step["algorithm"], dict) else None
                    if key is not None and digests[key] in released:  # one algorithm, several steps
                        asset, row = released[digests[key]]
                    elif key is not None:
                        checked, findings = local[key]
                        before = previous.get(step["name"]) or _same_algorithm(previous, me, checked.name)
                        asset, row = self._publish_step(
                            s, me, step, checked, digests[key], findings, before, visibility, whitelist,
                            workflow_title=new_asset["title"] if new_asset else workflow_asset.title)
                        released[digests[key]] = (asset, row)
                    else:
                        asset, row = self._step_reference(s, me, step)
                    self._check_wiring(step, row, resolved)
                    references[step["name"]] = f"{asset.content_id}@{row.version}"
                    dependencies.append((step["name"], row.id))
                    steps_used.append((step["name"], asset, row))
                    step_constraints.append(row.constraints or {})
                # A workflow reaches no further than its steps (docs/rules.md, "Workflows and access").
                self._fit_to_steps(s, title=new_asset["title"] if new_asset else workflow_asset.title,
                                   publisher_id=me.id if new_asset else workflow_asset.publisher_id,
                                   visibility=visibility, whitelist=whitelist, steps=steps_used)
                final = _resolved_manifest(manifest, references, **_combined_constraints(step_constraints))
                archive = pack({"workflow.json": json.dumps(final, indent=1, sort_keys=True).encode()}, final)
                source = CheckedSource("workflow", final, {}, archive)
                if content_id is None and number is None:
                    number = (1, 0, 0)
                asset, _ = self._write_version(
                    s, me, source, len(archive), put(archive), number,
                    description, whitelist, new_asset=new_asset, content_id=content_id, dependencies=dependencies,
                )
                return self._details(s, me, asset)

    def _previous_step_versions(self, s, workflow_asset) -> dict[str, tuple[AssetRow, VersionRow]]:
        latest = self._latest_version(s, workflow_asset)
        rows = s.execute(
            select(DependencyRow.step, AssetRow, VersionRow)
            .join(VersionRow, VersionRow.id == DependencyRow.algorithm_version_id)
            .join(AssetRow, AssetRow.id == VersionRow.asset_id)
            .where(DependencyRow.workflow_version_id == latest.id)
        ).all()
        return {step: (asset, version) for step, asset, version in rows}

    def _publish_step(self, s, me, step, algorithm, digest, findings, previous, visibility, whitelist, workflow_title):
        """A local algorithm step: reuse, bump or create the algorithm asset it belongs to."""
        size = len(algorithm.archive)
        if previous is not None and previous[0].publisher_id == me.id:
            asset, old = previous
            if old.digest == digest:
                return asset, old
            latest = self._latest_version(s, asset)
            number = (latest.major, latest.minor, latest.patch + 1)
            return self._write_version(s, me, algorithm, size, digest, number, "", (), content_id=asset.content_id,
                                       findings=findings)
        title = validate.title(algorithm.name)
        taken = self._title_taken(s, me.id, "algorithm", title)
        if taken is not None and workflow_title:
            title = validate.title(f"{algorithm.name} ({workflow_title})"[: validate.MAX_TITLE])
        new_asset = dict(title=title, summary=f"Step {step['name']} of a workflow", visibility=visibility,
                         duration=None, categories=())
        return self._write_version(s, me, algorithm, size, digest, (1, 0, 0), "", whitelist, new_asset=new_asset,
                                   findings=findings)

    def _step_reference(self, s, me, step) -> tuple[AssetRow, VersionRow]:
        name, reference = step["name"], step["algorithm"]
        content_id, _, number = reference.partition("@")
        try:
            asset = self._visible_asset(s, me, content_id)
        except NotFound:
            raise InvalidInput(f"Step {name!r}: no algorithm {reference} is visible to you.") from None
        if asset.kind != "algorithm":
            raise InvalidInput(f"Step {name!r}: {reference} is a {asset.kind}, not an algorithm.")
        try:
            self._require_usable(s, me, asset)
        except SubscriptionRequired as exc:  # documented as InvalidInput: the step cannot be used
            raise InvalidInput(f"Step {name!r}: {exc}") from None
        try:
            row = self._pick_version(s, me, asset, number)
        except NotFound as exc:
            raise InvalidInput(f"Step {name!r}: {exc}") from None
        return asset, row

    @staticmethod
    def _check_wiring(step: dict, row: VersionRow, resolved: dict[str, dict]) -> None:
        """The step's params and inputs fit its algorithm; wired outputs exist on earlier steps."""
        name, manifest = step["name"], row.manifest
        declared_inputs = {i["name"] for i in manifest.get("inputs", [])}
        unknown = sorted(set(step["inputs"]) - declared_inputs)
        if unknown:
            raise InvalidInput(f"Step {name!r}: input(s) {', '.join(unknown)} are not declared by its algorithm "
                               f"(it takes: {', '.join(sorted(declared_inputs)) or 'none'}).")
        try:
            mf.check_params(manifest, step["params"])
        except InvalidInput as exc:
            raise InvalidInput(f"Step {name!r}: {exc}") from None
        for key, value in step["inputs"].items():
            if "step" in value:
                outputs = {o["name"] for o in resolved[value["step"]].get("outputs", [])}
                if value["output"] not in outputs:
                    raise InvalidInput(
                        f"Step {name!r}: input {key!r} is wired to output {value['output']!r} of step "
                        f"{value['step']!r}, which its algorithm does not declare (it has: {', '.join(sorted(outputs)) or 'none'})."
                    )
        resolved[name] = manifest


def _same_algorithm(previous, me, name: str):
    """The previous workflow version's algorithm of yours with this manifest name (a renamed step)."""
    for asset, version in previous.values():
        if asset.publisher_id == me.id and version.manifest.get("name") == name:
            return asset, version
    return None


def _resolved_manifest(manifest: dict, references: dict[str, str], requirements=(), python=None,
                       resources=None) -> dict:
    """The published manifest: every step names a gallery version (``references``: step →
    'cid@x.y.z'), and the constraints are those of its steps together."""
    steps = [{**step, "algorithm": references[step["name"]]} for step in manifest["steps"]]
    return {"kind": "workflow", "name": manifest["name"], "steps": steps, "requirements": list(requirements),
            "python": python, "resources": dict(resources or {})}


def _categories(categories):
    from .taxonomy import validate_categories

    return validate_categories(categories)


def _combined_constraints(constraints: list[dict]) -> dict:
    """A workflow needs what each of its steps needs (SPEC SUB1, U5): every Python specifier,
    every requirement, and for each resource the largest amount asked."""
    pythons = [c["python"] for c in constraints if c.get("python")]
    requirements = list(dict.fromkeys(r for c in constraints for r in c.get("requirements") or ()))
    resources: dict[str, str] = {}
    for c in constraints:
        for name, wanted in (c.get("resources") or {}).items():
            current = resources.get(name)
            if current is None or (mf.amount(wanted) or 0) > (mf.amount(current) or 0):
                resources[name] = wanted
    python = ",".join(dict.fromkeys(p for spec in pythons for p in spec.split(","))) or None
    return {"python": python, "requirements": requirements, "resources": resources}
