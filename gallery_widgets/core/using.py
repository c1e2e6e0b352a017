"""Using subscribed assets in the kernel: import_algorithm, import_model, import_workflow (SPEC U1-U7),
and the wire-level calls they rest on (``GalleryService.usable_version`` and friends)."""

from __future__ import annotations

import io
import re
import secrets
import warnings
from pathlib import Path

from sqlalchemy import desc, select

from .. import extract
from ..environment import unmet
from ..entities import UsableVersion, WorkspaceWorkflow
from ..errors import Conflict, InvalidInput, NotFound
from ..store import convert
from ..store.schema import AssetRow, DependencyRow, ImportRow, UserRow, VersionRow
from . import validate
from .workflow_access import WorkflowAccess

REGIONS = ("local",)
_LOCAL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
CONSTRAINT_MODES = ("warn", "raise", "ignore")


class Using(WorkflowAccess):
    @property
    def _cache_root(self) -> Path:
        return Path(self._ctx.home) / "cache"

    @property
    def _jobs_root(self) -> Path:
        return Path(self._ctx.home) / "jobs"

    def _fetch(self, digest: str) -> Path:
        """The unpacked folder of an artifact, verified against its sha256 before first use (U7)."""
        folder = extract.cached_folder(digest, self._cache_root)
        if folder is None:
            folder = extract.extract(self._ctx.artifacts.get(digest), digest, self._cache_root)
        return folder

    def _version_to_use(self, s, me, content_id, version, kind) -> tuple[AssetRow, VersionRow]:
        asset = self._visible_asset(s, me, content_id)
        if asset.kind != kind:
            raise InvalidInput(
                f"{asset.title!r} is a{'n' if asset.kind[0] in 'aeiou' else ''} {asset.kind}; use "
                f"g.import_{asset.kind}({asset.content_id!r})."
            )
        self._require_usable(s, me, asset)
        return asset, self._pick_version(s, me, asset, version)

    def _check_environment(self, title: str, constraints, mode: str) -> list[str]:
        """``constraints``: one ``Constraints``, or a list of them (a workflow's steps)."""
        validate.choice("check_constraints", mode, CONSTRAINT_MODES)
        problems: list[str] = []
        if mode != "ignore":
            for each in constraints if isinstance(constraints, (list, tuple)) else [constraints]:
                problems += [p for p in unmet(each) if p not in problems]
        if problems:
            message = f"{title!r} needs what this kernel does not have: " + "; ".join(problems)
            if mode == "raise":
                raise InvalidInput(message)
            warnings.warn(message, stacklevel=3)
        return problems

    def _record_import(self, version_id: int, workspace: str = "", local_name: str = "") -> None:
        with self._db.write() as s:
            s.add(ImportRow(user_id=self._user_id, version_id=version_id, workspace=workspace,
                            local_name=local_name, created_at=self._now()))

    def import_algorithm(self, content_id: str, version: str | None = None, *, check_constraints: str = "warn"):
        """An algorithm you subscribed to (or publish) as an object that starts training jobs (SPEC U1).

        ``version`` defaults to the latest normal version you may use. The artifact is
        verified against its sha256 before anything is read, then cached (U7); constraints
        that this kernel does not meet are reported by name (U5): a warning, or an error
        with ``check_constraints="raise"``.

        Raises:
            NotFound: no such asset or version is visible to you.
            SubscriptionRequired: subscribe, retrieve or renew first (the message says which).
            InvalidInput: the asset is not an algorithm.
        """
        from ..handles import ImportedAlgorithm

        with self._db.read() as s:
            me = self._me(s)
            asset, row = self._version_to_use(s, me, content_id, version, "algorithm")
            owner = asset.publisher_id == me.id or self._is_admin(me)
            info = dict(content_id=asset.content_id, title=asset.title, version=row.version,
                        manifest=dict(row.manifest), code_visible=owner or asset.code_open)
            digest, version_id, constraints = row.digest, row.id, convert.constraints(row.constraints)
        folder = self._fetch(digest)
        problems = self._check_environment(info["title"], constraints, check_constraints)
        self._record_import(version_id)
        return ImportedAlgorithm(gallery=self, folder=folder, unmet=problems, jobs_root=self._jobs_root, **info)

    def import_model(self, content_id: str, version: str | None = None, *, check_constraints: str = "warn"):
        """A model you subscribed to, as the predictor its declared loader builds (SPEC U6).

        The loader runs in this kernel, after the artifact was verified (U7).

        Raises:
            NotFound / SubscriptionRequired / InvalidInput: as for ``import_algorithm``; also
                InvalidInput when the loader returns something without ``predict``.
        """
        with self._db.read() as s:
            me = self._me(s)
            asset, row = self._version_to_use(s, me, content_id, version, "model")
            title, loader, digest = asset.title, row.manifest["loader"], row.digest
            version_id, constraints = row.id, convert.constraints(row.constraints)
            unique = f"gallery_{asset.content_id}_{row.version.replace('.', '_')}"
        folder = self._fetch(digest)
        self._check_environment(title, constraints, check_constraints)
        module_name, function_name = loader.split(":")
        from ..handles import importing_from, load_module

        with importing_from(folder):  # the loader sees its own sibling modules, not another artifact's
            module = load_module(folder, module_name, f"{unique}_{module_name.replace('.', '_')}")
            predictor = getattr(module, function_name)(folder)
        if not callable(getattr(predictor, "predict", None)):
            raise InvalidInput(f"The loader of {title!r} returned {type(predictor).__name__}, which has no predict().")
        self._record_import(version_id)
        return predictor

    def import_workflow(self, content_id: str, version: str | None = None, name: str | None = None,
                        region: str = "local", workspace: str = "default", *, check_constraints: str = "warn"):
        """Import a workflow you subscribed to into a workspace, ready to run (SPEC U3).

        ``name`` defaults to ``workflow_`` + 4 hex digits; ``region`` is where it runs
        (``local``: this machine). The constraints of its steps' algorithm versions that
        this kernel does not meet are reported by name (U5), as for ``import_algorithm``.

        Raises:
            NotFound / SubscriptionRequired: as for ``import_algorithm``; NotFound also when a
                step's algorithm is not available to you or no longer to the workflow's
                publisher (docs/rules.md, "Workflows and access").
            InvalidInput: a bad name, region or workspace; unmet constraints with
                ``check_constraints="raise"``.
            Conflict: the workspace already has a workflow of that name.
        """
        validate.choice("region", region, REGIONS)
        workspace = _local_name("workspace", workspace)
        name = _local_name("name", name if name is not None else f"workflow_{secrets.token_hex(2)}")
        with self._db.write() as s:
            me = self._me(s)
            asset, row = self._version_to_use(s, me, content_id, version, "workflow")
            self._require_steps_open(s, me, asset, row)  # docs/rules.md, "Workflows and access"
            clash = s.scalar(select(ImportRow.id).where(
                ImportRow.user_id == me.id, ImportRow.workspace == workspace, ImportRow.local_name == name))
            if clash is not None:
                raise Conflict(f"Workspace {workspace!r} already has a workflow named {name!r}; pick another name.")
            steps = s.scalars(select(VersionRow.constraints).join(
                DependencyRow, DependencyRow.algorithm_version_id == VersionRow.id).where(
                DependencyRow.workflow_version_id == row.id).order_by(DependencyRow.step)).all()
            self._check_environment(asset.title, [convert.constraints(row.constraints),
                                                  *(convert.constraints(c) for c in steps)], check_constraints)
            s.add(ImportRow(user_id=me.id, version_id=row.id, workspace=workspace, local_name=name,
                            created_at=self._now()))
            return self._imported_workflow(s, me, asset, row, name, workspace)

    def _imported_workflow(self, s, me, asset, row, name, workspace):
        from ..handles import ImportedWorkflow

        return ImportedWorkflow(gallery=self, content_id=asset.content_id, title=asset.title, version=row.version,
                                name=name, region="local", workspace=workspace,
                                manifest=self._manifest_for(s, me, row), runs_root=Path(self._ctx.home) / "runs")

    def workflows(self, workspace: str = "default") -> list:
        """The workflows imported into ``workspace``, newest first."""
        workspace = _local_name("workspace", workspace)
        with self._db.read() as s:
            me = self._me(s)
            rows = s.execute(
                select(ImportRow, VersionRow, AssetRow)
                .join(VersionRow, VersionRow.id == ImportRow.version_id)
                .join(AssetRow, AssetRow.id == VersionRow.asset_id)
                .where(ImportRow.user_id == me.id, ImportRow.workspace == workspace,
                       AssetRow.kind == "workflow", self._visible_condition(me))
                .order_by(desc(ImportRow.created_at), desc(ImportRow.id))
            ).all()
            return [self._imported_workflow(s, me, a, v, i.local_name, workspace) for i, v, a in rows]

    def workflow(self, name: str, workspace: str = "default"):
        """One imported workflow by name."""
        for item in self.workflows(workspace):
            if item.name == name:
                return item
        raise NotFound(f"Workspace {workspace!r} has no workflow named {name!r}; g.workflows({workspace!r}) lists them.")

    def _require_usable_now(self, content_id: str) -> None:
        """U4 again at run time: a subscription cancelled after the import stops new runs."""
        with self._db.read() as s:
            me = self._me(s)
            self._require_usable(s, me, self._visible_asset(s, me, content_id))

    def _import_dependency(self, reference: str, workflow_id: str, workflow_version: str, step: str | None = None):
        """The algorithm version a workflow step runs. The workflow's subscription stands in for
        one to the step; the step's audience is checked here and again at every ``train``."""
        from ..handles import ImportedAlgorithm

        info = self._require_step_usable(workflow_id, workflow_version, reference, step)
        digest = info.pop("digest")
        return ImportedAlgorithm(gallery=self, folder=self._fetch(digest), unmet=[], jobs_root=self._jobs_root,
                                 via_workflow=(workflow_id, workflow_version, step), **info)

    # -- the wire-level calls of GalleryService (the kernel-side layer imports through these) --------
    def usable_version(self, content_id: str, version: str | None = None, *, kind: str) -> UsableVersion:
        """The version of an asset you may import now; see ``GalleryService.usable_version``.

        Raises:
            InvalidInput / NotFound / SubscriptionRequired: see ``GalleryService.usable_version``.
        """
        validate.kind(kind)
        if version is not None:
            validate.parse_version(version)
        with self._db.read() as s:
            me = self._me(s)
            asset, row = self._version_to_use(s, me, content_id, version, kind)
            if asset.kind == "workflow":
                self._require_steps_open(s, me, asset, row)  # docs/rules.md, "Workflows and access"
            return self._usable(s, me, asset, row)

    def _usable(self, s, me: UserRow, asset: AssetRow, row: VersionRow) -> UsableVersion:
        """``row`` as the kernel needs it; a workflow's steps that ``me`` may not see are left
        out (and masked in its manifest), as in its dependency list (V1)."""
        steps, manifest = (), dict(row.manifest)
        if asset.kind == "workflow":
            shown = set(self._visible_dependencies(s, me, [row.id]).get(row.id, ()))
            steps = tuple(self._usable_record(me, a, v) for _, _, a, v in self._step_rows(s, [row.id])
                          if f"{a.content_id}@{v.version}" in shown)
            manifest = self._manifest_for(s, me, row)
        return self._usable_record(me, asset, row, steps, manifest)

    def _usable_record(self, me: UserRow, asset: AssetRow, row: VersionRow, steps=(), manifest=None) -> UsableVersion:
        owner = asset.publisher_id == me.id or self._is_admin(me)
        return UsableVersion(
            content_id=asset.content_id, title=asset.title, kind=asset.kind, version=row.version, digest=row.digest,
            manifest=dict(row.manifest) if manifest is None else manifest, code_visible=owner or bool(asset.code_open),
            constraints=convert.constraints(row.constraints), steps=steps,
        )

    def check_usable(self, content_id: str) -> None:
        """SPEC U4 at run time; see ``GalleryService.check_usable``.

        Raises:
            NotFound: no such asset is visible to you.
            SubscriptionRequired: subscribe, retrieve or renew (the message says which).
        """
        with self._db.read() as s:
            me = self._me(s)
            self._require_usable(s, me, self._visible_asset(s, me, content_id))

    def check_step_usable(self, content_id: str, version: str, reference: str, step: str | None = None) -> None:
        """Before a step of an imported workflow runs; see ``GalleryService.check_step_usable``.

        Raises:
            NotFound: the workflow, its version or the step is not available to you.
            SubscriptionRequired: your subscription to the workflow (or, for your own workflow,
                to the step's algorithm) is not active; the message says what to do.
        """
        self._require_step_usable(content_id, version, reference, step)

    def open_artifact(self, digest: str):
        """The verified archive of a version you may use, as a binary stream (SPEC U7).

        Raises:
            InvalidInput: not a sha256 hex digest.
            NotFound: no such artifact, or one you may not use.
        """
        digest = validate.digest(digest)
        with self._db.read() as s:
            me = self._me(s)
            if not self._may_fetch(s, me, digest):
                raise NotFound(f"No artifact {digest[:12]}… that you may use is in this gallery; import the asset "
                               "it belongs to (g.import_algorithm / import_model / import_workflow).")
        return io.BytesIO(self._ctx.artifacts.get(digest))

    def _may_fetch(self, s, me: UserRow, digest: str) -> bool:
        """A version with this digest is one this user may use now (U4, V5), or the step of a
        workflow version they may use and whose step they may run (docs/rules.md)."""
        owners = s.execute(
            select(VersionRow, AssetRow).join(AssetRow, AssetRow.id == VersionRow.asset_id)
            .where(VersionRow.digest == digest)
        ).all()
        for version, asset in owners:
            if self._in_audience(s, me, asset, version) and self._has_use(s, me, asset):
                return True
        for version, asset in owners:
            dependents = s.execute(
                select(VersionRow, AssetRow)
                .join(DependencyRow, DependencyRow.workflow_version_id == VersionRow.id)
                .join(AssetRow, AssetRow.id == VersionRow.asset_id)
                .where(DependencyRow.algorithm_version_id == version.id, self._visible_condition(me))
            ).all()
            for workflow_version, workflow in dependents:
                if (self._version_open_to(me, workflow, workflow_version) and self._has_use(s, me, workflow)
                        and self._step_open(s, me, workflow, asset, version)):
                    return True
        return False

    def record_import(self, content_id: str, version: str) -> None:
        """Record that you imported this algorithm or model version (the Import record of SPEC §2).

        Raises:
            InvalidInput: a workflow (``add_workspace_workflow`` records those), or a malformed version.
            NotFound / SubscriptionRequired: as for ``usable_version``.
        """
        validate.parse_version(version)
        with self._db.write() as s:
            me = self._me(s)
            asset = self._visible_asset(s, me, content_id)
            if asset.kind == "workflow":
                raise InvalidInput(f"{asset.title!r} is a workflow; import it with g.import_workflow({asset.content_id!r}).")
            self._require_usable(s, me, asset)
            row = self._pick_version(s, me, asset, version)
            s.add(ImportRow(user_id=me.id, version_id=row.id, workspace="", local_name="", created_at=self._now()))

    def add_workspace_workflow(self, content_id: str, version: str, name: str, *, workspace: str = "default",
                               region: str = "local") -> WorkspaceWorkflow:
        """Keep an imported workflow version in a workspace (SPEC U3); see ``GalleryService``.

        Raises:
            InvalidInput: a bad name, workspace, region or version; not a workflow.
            Conflict: the workspace already has a workflow of that name.
            NotFound / SubscriptionRequired: as for ``usable_version``.
        """
        validate.choice("region", region, REGIONS)
        workspace = _local_name("workspace", workspace)
        name = _local_name("name", name)
        validate.parse_version(version)
        with self._db.write() as s:
            me = self._me(s)
            asset, row = self._version_to_use(s, me, content_id, version, "workflow")
            self._require_steps_open(s, me, asset, row)  # docs/rules.md, "Workflows and access"
            clash = s.scalar(select(ImportRow.id).where(
                ImportRow.user_id == me.id, ImportRow.workspace == workspace, ImportRow.local_name == name))
            if clash is not None:
                raise Conflict(f"Workspace {workspace!r} already has a workflow named {name!r}; pick another name.")
            now = self._now()
            s.add(ImportRow(user_id=me.id, version_id=row.id, workspace=workspace, local_name=name, created_at=now))
            return WorkspaceWorkflow(name, workspace, region, now, self._usable(s, me, asset, row))

    def workspace_workflows(self, workspace: str = "default") -> tuple[WorkspaceWorkflow, ...]:
        """The workflows you imported into ``workspace``, newest first (SPEC U3).

        Raises:
            InvalidInput: a bad workspace name.
        """
        return self._workspace_workflows(workspace)

    def workspace_workflow(self, name: str, workspace: str = "default") -> WorkspaceWorkflow:
        """One imported workflow by its local name (SPEC U3).

        Raises:
            InvalidInput: a bad name or workspace.
            NotFound: the workspace has no workflow of that name.
        """
        found = self._workspace_workflows(workspace, _local_name("name", name))
        if not found:
            raise NotFound(f"Workspace {workspace!r} has no workflow named {name!r}; "
                           f"g.workflows({workspace!r}) lists them.")
        return found[0]

    def _workspace_workflows(self, workspace: str, name: str | None = None) -> tuple[WorkspaceWorkflow, ...]:
        workspace = _local_name("workspace", workspace)
        with self._db.read() as s:
            me = self._me(s)
            statement = (
                select(ImportRow, VersionRow, AssetRow)
                .join(VersionRow, VersionRow.id == ImportRow.version_id)
                .join(AssetRow, AssetRow.id == VersionRow.asset_id)
                .where(ImportRow.user_id == me.id, ImportRow.workspace == workspace, AssetRow.kind == "workflow",
                       self._visible_condition(me))
                .order_by(desc(ImportRow.created_at), desc(ImportRow.id))
            )
            if name is not None:
                statement = statement.where(ImportRow.local_name == name)
            return tuple(
                WorkspaceWorkflow(i.local_name, workspace, "local", i.created_at, self._usable(s, me, a, v))
                for i, v, a in s.execute(statement).all()
            )


def _local_name(what: str, value) -> str:
    if not isinstance(value, str) or not _LOCAL_NAME.match(value):
        raise InvalidInput(f"{what} {value!r} must be 1-64 letters, digits, '_' or '-', starting with a letter or '_'.")
    return value
