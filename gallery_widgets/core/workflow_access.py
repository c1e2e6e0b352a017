"""A workflow reaches no further than its steps (SPEC V1, V5, V6, U4; docs/rules.md).

A workflow runs other algorithms' code. Without a rule of its own it would launder
access: put a group algorithm you were whitelisted on into a public workflow and
everyone runs it. So every step's algorithm version has an *audience* — who may use it
directly (V1, V2, V5) — and a workflow's audience must fit inside each step's:

- when a workflow version is published, and when its visibility or whitelist widens,
  every user it would reach must be in every step's audience (else PermissionDenied);
  the publisher's own step algorithms are widened along with it (as V6 does for whitelists);
- when it is imported and before each step runs, the step's algorithm must still be
  usable by the workflow's publisher (they publish it or hold an active subscription),
  and the user running it must be in the step's audience. The workflow's subscription
  stands in for a subscription to each step, never for being allowed to see it.
"""

from __future__ import annotations

import functools

from sqlalchemy import Integer, String, bindparam, exists, select

from ..errors import NotFound, PermissionDenied, SubscriptionRequired
from ..store import convert
from ..store.schema import AssetRow, DependencyRow, UserRow, VersionRow, WhitelistRow
from . import validate
from .base import ServiceBase, Who


@functools.lru_cache(maxsize=2)
def _dependencies_statement(admin: bool):
    """``_visible_dependencies``' statement for an admin or anyone else, built once (the
    caller's id and name are bound parameters)."""
    caller = Who(bindparam("me_id", type_=Integer), bindparam("me_name", type_=String), "admin" if admin else "user")
    whitelisted = exists().where(WhitelistRow.version_id == VersionRow.id, WhitelistRow.username == caller.username)
    return (
        select(DependencyRow.workflow_version_id, AssetRow.content_id, VersionRow.version, AssetRow.publisher_id,
               AssetRow.visibility, ServiceBase._visible_condition(caller).label("visible"), whitelisted.label("listed"))
        .join(VersionRow, VersionRow.id == DependencyRow.algorithm_version_id)
        .join(AssetRow, AssetRow.id == VersionRow.asset_id)
        .where(DependencyRow.workflow_version_id.in_(bindparam("version_ids", expanding=True)))
        .order_by(DependencyRow.workflow_version_id, DependencyRow.step)
    )


HIDDEN_STEP = "(not available to you)"  # stands for a step reference the viewer may not see
WIDER = {"private": 0, "group": 1, "public": 2}  # visibility only widens (V3)


class WorkflowAccess(ServiceBase):
    # -- what a workflow version runs --------------------------------------------------
    @staticmethod
    def _step_rows(s, workflow_version_ids) -> list[tuple[int, str, AssetRow, VersionRow]]:
        """(workflow version id, step, algorithm asset, algorithm version) for each dependency."""
        if not workflow_version_ids:
            return []
        return [tuple(r) for r in s.execute(
            select(DependencyRow.workflow_version_id, DependencyRow.step, AssetRow, VersionRow)
            .join(VersionRow, VersionRow.id == DependencyRow.algorithm_version_id)
            .join(AssetRow, AssetRow.id == VersionRow.asset_id)
            .where(DependencyRow.workflow_version_id.in_(list(workflow_version_ids)))
            .order_by(DependencyRow.workflow_version_id, DependencyRow.step)
        ).all()]

    def _visible_dependencies(self, s, me: UserRow, version_ids) -> dict[int, tuple[str, ...]]:
        """Per workflow version, the ``content_id@x.y.z`` of the steps ``me`` may see and use;
        the others are left out, never named (V1, V5). One plain statement (a workflow's
        details read it on every opening): each step's algorithm with whether ``me`` may see
        it and is on its version's whitelist."""
        if not version_ids:
            return {}
        rows = s.connection().execute(_dependencies_statement(self._is_admin(me)), {
            "version_ids": list(version_ids), "me_id": me.id, "me_name": me.username}).all()
        result: dict[int, list[str]] = {}
        for version_id, content_id, version, publisher_id, visibility, visible, whitelisted in rows:
            if visible and self._open_to(me, publisher_id, visibility, (me.username,) if whitelisted else ()):
                result.setdefault(version_id, []).append(f"{content_id}@{version}")
        return {k: tuple(v) for k, v in result.items()}

    def _manifest_for(self, s, me: UserRow, version: VersionRow) -> dict:
        """The workflow version's manifest with the step references ``me`` may not see replaced."""
        allowed = set(self._visible_dependencies(s, me, [version.id]).get(version.id, ()))
        manifest = dict(version.manifest)
        manifest["steps"] = [
            step if step.get("algorithm") in allowed else {**step, "algorithm": HIDDEN_STEP}
            for step in manifest.get("steps", [])
        ]
        return manifest

    # -- who may use a step --------------------------------------------------------------
    def _has_use(self, s, user: UserRow, asset: AssetRow) -> bool:
        """U4 for any user: they publish it, are an admin, or hold an active subscription."""
        if user.role == "admin" or (user.id is not None and asset.publisher_id == user.id):
            return True
        if user.id is None:
            return False
        state = convert.subscription_state(self._subscription_row(s, user, asset), self._now())
        return state == "active"

    def _fit_to_steps(self, s, *, title: str, publisher_id: int, visibility: str, whitelist, steps) -> None:
        """Publishing or widening a workflow version: its audience must fit inside each step's.

        ``steps``: (step name, algorithm asset, algorithm version). The publisher's own
        algorithms follow the workflow, as whitelists do (V6): each is widened to the
        workflow's visibility and, for a group workflow, the version it runs gains the
        workflow's users (nothing is narrowed or removed). Other publishers' algorithms are
        never changed: their audience must already hold everyone the workflow reaches.

        Raises:
            PermissionDenied: naming the steps and what would fix them; the caller's
                transaction rolls back, so nothing (not the own algorithms) changed.
        """
        from .base import refresh_search

        for _, asset, version in steps:
            if asset.publisher_id != publisher_id:
                continue
            if WIDER[asset.visibility] < WIDER[visibility]:
                asset.visibility = visibility
            if asset.visibility == "group" and visibility == "group":
                held = {w.username for w in version.whitelist}
                version.whitelist.extend(WhitelistRow(username=u) for u in sorted(set(whitelist) - held))
            refresh_search(asset, asset.publisher)
        s.flush()
        problems = []
        for step, asset, version in steps:
            if visibility == "public":
                if not (asset.visibility == "public" and asset.status == "released"):
                    problems.append(f"step {step!r} runs an algorithm that is not public (or was discontinued)")
            elif visibility == "group":
                outside = sorted(u for u in set(whitelist)
                                 if not self._in_audience(s, self._user_named(s, u), asset, version))
                if outside:
                    problems.append(f"step {step!r} runs an algorithm version that {', '.join(outside)} may not use")
        if problems:
            raise PermissionDenied(
                f"{title!r} would reach further than its steps: {'; '.join(problems)}. A workflow may only be "
                "shared with users who may use every step's algorithm version themselves: ask the step "
                "algorithm's publisher to whitelist them (or to make it public), or share the workflow with "
                "fewer users."
            )

    def _require_step_open(self, s, me: UserRow, workflow: AssetRow, step: str, asset: AssetRow,
                           version: VersionRow) -> None:
        """Import and run: the workflow's publisher may still use the step, and so may ``me``."""
        if me.id == workflow.publisher_id and self._in_audience(s, me, asset, version):
            # Your own workflow: say exactly what to do (subscribe, retrieve or renew).
            try:
                self._require_usable(s, me, asset)
            except SubscriptionRequired as exc:
                raise SubscriptionRequired(f"Step {step!r} of {workflow.title!r}: {exc}") from None
            return
        if not self._step_open(s, me, workflow, asset, version):
            raise _step_unavailable(step, workflow)

    def _step_open(self, s, me: UserRow, workflow: AssetRow, asset: AssetRow, version: VersionRow) -> bool:
        """The rule of import and run, as a yes/no: the workflow's publisher may still use the
        step's algorithm version (audience and U4), and ``me`` is in its audience."""
        publisher = workflow.publisher
        return (self._in_audience(s, publisher, asset, version) and self._has_use(s, publisher, asset)
                and self._in_audience(s, me, asset, version))

    def _require_steps_open(self, s, me: UserRow, workflow: AssetRow, version: VersionRow) -> None:
        for _, step, asset, algorithm_version in self._step_rows(s, [version.id]):
            self._require_step_open(s, me, workflow, step, asset, algorithm_version)

    def _require_step_usable(self, content_id: str, version: str, reference: str, step: str | None = None):
        """Before a step of an imported workflow runs: U4 for the workflow, then the step's
        rule above. Returns what the step's algorithm handle needs (its digest included).

        Raises:
            NotFound: the workflow, its version or the step is not available to you.
            SubscriptionRequired: your subscription to the workflow is not active.
        """
        with self._db.read() as s:
            me = self._me(s)
            workflow = self._visible_asset(s, me, content_id)
            self._require_usable(s, me, workflow)
            major, minor, patch = validate.parse_version(version)
            row = s.scalar(select(VersionRow).where(
                VersionRow.asset_id == workflow.id, VersionRow.major == major, VersionRow.minor == minor,
                VersionRow.patch == patch))
            if row is None or not self._version_open_to(me, workflow, row):
                raise NotFound(f"{workflow.title!r} has no version {version!r} that you may use.")
            for _, name, asset, algorithm_version in self._step_rows(s, [row.id]):
                if f"{asset.content_id}@{algorithm_version.version}" == reference:
                    self._require_step_open(s, me, workflow, step or name, asset, algorithm_version)
                    return dict(content_id=asset.content_id, title=asset.title, version=algorithm_version.version,
                                manifest=dict(algorithm_version.manifest), digest=algorithm_version.digest,
                                code_visible=asset.code_open or asset.publisher_id == me.id or self._is_admin(me))
            # Not one of this version's steps (a hidden one, or a manifest edited in the kernel).
            raise _step_unavailable(step or "?", workflow)


def _step_unavailable(step: str, workflow: AssetRow) -> NotFound:
    """One message whatever the reason (withdrawn, never shared with you, or no longer with
    the workflow's publisher), so it tells nothing about an algorithm you may not see."""
    return NotFound(
        f"Step {step!r} of {workflow.title!r} runs an algorithm that is not available to you: it was withdrawn, "
        f"or it is not shared with you. Ask the workflow's publisher ({workflow.publisher.username}) to publish "
        "a version that works for you."
    )
