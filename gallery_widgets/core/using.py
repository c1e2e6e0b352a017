"""What the kernel-side layer imports through (SPEC U1, U3, U4, U7): the version a user may
use, U4 at run time, artifacts a user may fetch, and the records of imports and of the
workflows kept in workspaces. Nothing here runs published code."""

from __future__ import annotations

from sqlalchemy import desc, select

from ..entities import UsableVersion, WorkspaceWorkflow
from ..errors import Conflict, InvalidInput, NotFound
from ..manifest import local_name
from ..store import convert
from ..store.schema import AssetRow, DependencyRow, ImportRow, UserRow, VersionRow
from . import validate
from .workflow_access import WorkflowAccess

REGIONS = ("local",)


class Using(WorkflowAccess):
    def _version_to_use(self, s, me, content_id, version, kind) -> tuple[AssetRow, VersionRow]:
        asset = self._visible_asset(s, me, content_id)
        if asset.kind != kind:
            raise InvalidInput(
                f"{asset.title!r} is a{'n' if asset.kind[0] in 'aeiou' else ''} {asset.kind}; use "
                f"g.import_{asset.kind}({asset.content_id!r})."
            )
        self._require_usable(s, me, asset)
        return asset, self._pick_version(s, me, asset, version)

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
        # Streamed from the store (a large archive never sits whole in memory); the stream
        # raises TamperedArtifact at its end if the bytes changed, and the kernel side checks
        # the digest again before unpacking.
        return self._ctx.artifacts.open(digest)

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
            row = self._version_row(s, asset, version)  # one version, not all of them: imports are frequent
            owner = asset.publisher_id == me.id or self._is_admin(me)
            if not owner and (row.status != "normal" or (
                    asset.visibility == "group" and not any(w.username == me.username for w in row.whitelist))):
                raise NotFound(f"{asset.title!r} has no version {version!r} that you may use.")
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
        workspace = local_name("workspace", workspace)
        name = local_name("name", name)
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
        found = self._workspace_workflows(workspace, local_name("name", name))
        if not found:
            raise NotFound(f"Workspace {workspace!r} has no workflow named {name!r}; "
                           f"g.workflows({workspace!r}) lists them.")
        return found[0]

    def _workspace_workflows(self, workspace: str, name: str | None = None) -> tuple[WorkspaceWorkflow, ...]:
        workspace = local_name("workspace", workspace)
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
