"""A workflow reaches no further than its steps (SPEC V1, V5, V6, U4; docs/rules.md,
"Workflows and access").

carol publishes a group algorithm whitelisting alice; alice subscribes and puts it in a
workflow. Publishing, widening, importing and running that workflow must never let
anyone use carol's algorithm who could not use it directly — and whoever cannot, must
not learn its id or title from the workflow either. Steps run as real job processes.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import gallery_widgets as gw
from gallery_widgets.core.workflow_access import HIDDEN_STEP

PREP = """\
def main(params, inputs, outputs):
    values = [int(x) for x in inputs["data"].read_text().split()]
    (outputs["table"] / "rows.txt").write_text("\\n".join(str(v * 10) for v in values))
"""

FIT = """\
import os
from pathlib import Path


def main(params, inputs, outputs):
    rows = [int(x) for x in (inputs["table"] / "rows.txt").read_text().split()]
    marker = os.environ.get("GALLERY_TEST_MARKER") or params.get("marker")
    if marker:
        Path(marker).write_text("carol's code ran")
    return {"sum": sum(rows)}
"""

_counter = itertools.count()


def algorithm(tmp_path: Path, name: str, code: str, *, inputs, outputs, params: str = "") -> gw.Algorithm:
    root = tmp_path / "steps" / f"{name}-{next(_counter)}"
    root.mkdir(parents=True)
    manifest = (f"name: {name}\nentrypoint: train:main\n"
                f"inputs: [{', '.join('{name: %s}' % i for i in inputs)}]\n"
                f"outputs: [{', '.join('{name: %s}' % o for o in outputs)}]\n")
    if params:
        manifest += "hyperparameters:\n  " + params + "\n"
    (root / "algorithm.yaml").write_text(manifest)
    (root / "train.py").write_text(code)
    return gw.Algorithm.from_dir(root)


def prep_algo(tmp_path, code=PREP):
    return algorithm(tmp_path, "prep-algo", code, inputs=["data"], outputs=["table"])


def fit_algo(tmp_path, code=FIT):
    return algorithm(tmp_path, "secret-fit", code, inputs=["table"], outputs=["model"],
                     params="- {name: marker, type: str, default: ''}")


def subscribe(g, content_id):
    return g.subscribe(content_id, accept_constraints=True, accept_agreements=True)


def artifact_files(tmp_path) -> set[str]:
    root = tmp_path / "artifacts"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "data.txt"
    path.write_text("1\n2\n3\n")
    return path


@pytest.fixture
def carols(alice, carol, tmp_path):
    """carol's group algorithm "Carol Secret Fit", whitelisting alice, who subscribed to it."""
    asset = carol.publish(fit_algo(tmp_path), title="Carol Secret Fit", visibility="group", group_users=["alice"],
                          agree=True)
    subscribe(alice, asset.content_id)
    return asset


def flow(tmp_path, data, step_algorithm, name="shared-flow") -> gw.Workflow:
    prep = gw.Step("prep", prep_algo(tmp_path), inputs={"data": str(data)})
    fit = gw.Step("fit", step_algorithm, inputs={"table": prep.output("table")})
    return gw.Workflow(name, steps=[prep, fit])


def ref(asset, version="1.0.0") -> str:
    return f"{asset.content_id}@{version}"


def state(g, tmp_path):
    """What a refused call must leave as it was."""
    return ({(a.title, a.visibility) for a in g.publishes()},
            {a.content_id: [(v.version, v.whitelist) for v in g.asset(a.content_id, count_view=False).versions]
             for a in g.publishes()},
            artifact_files(tmp_path))


def assert_tells_nothing_of(error, asset) -> None:
    text = str(error)
    assert asset.content_id not in text
    for word in ("carol", "secret"):
        assert word not in text.lower().replace("secret-fit", "?"), text


@pytest.fixture
def group_flow(alice, bob, carol, carols, tmp_path, data):
    """alice's group workflow for bob over carol's algorithm (carol whitelisted bob too);
    bob subscribed and imported it as "mine"."""
    carol.add_whitelist_users(carols.content_id, "1.0.0", ["bob"])
    asset = flow(tmp_path, data, ref(carols)).release_to_gallery(title="Shared flow", visibility="group",
                                                                  group_users=["bob"], gallery=alice)
    subscribe(bob, asset.content_id)
    return asset, bob.import_workflow(asset.content_id, name="mine")


def run_statuses(imported):
    run = imported.run().wait(120)
    return {name: step.status for name, step in run.steps.items()}, run


# -- publishing (V6) -------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["release_to_gallery", "publish"])
def test_v6_public_workflow_may_not_run_a_group_step(alice, carols, tmp_path, data, how):
    before = state(alice, tmp_path)
    pipeline = flow(tmp_path, data, ref(carols))

    with pytest.raises(gw.PermissionDenied, match=r"step 'fit'.*not public") as refused:
        if how == "publish":
            alice.publish(pipeline, title="Laundered", visibility="public", agree=True)
        else:
            pipeline.release_to_gallery(title="Laundered", visibility="public", gallery=alice)

    assert "Laundered" in str(refused.value) and "ask the step algorithm's publisher" in str(refused.value)
    assert state(alice, tmp_path) == before  # not the workflow, not its local prep step, no blob


def test_v6_group_workflow_only_for_users_allowed_on_every_step(alice, bob, carol, carols, tmp_path, data):
    before = state(alice, tmp_path)
    with pytest.raises(gw.PermissionDenied, match=r"step 'fit'.*bob may not use"):
        flow(tmp_path, data, ref(carols)).release_to_gallery(title="For bob", visibility="group",
                                                              group_users=["bob"], gallery=alice)
    assert state(alice, tmp_path) == before

    carol.add_whitelist_users(carols.content_id, "1.0.0", ["bob"])
    asset = flow(tmp_path, data, ref(carols)).release_to_gallery(title="For bob", visibility="group",
                                                                  group_users=["bob"], gallery=alice)
    assert ref(carols) in bob.asset(asset.content_id).versions[0].dependencies


def test_v6_private_workflow_may_use_a_step_shared_with_its_publisher(alice, carols, tmp_path, data):
    asset = flow(tmp_path, data, ref(carols)).release_to_gallery(title="Mine only", gallery=alice)
    assert asset.visibility == "private"
    run = alice.import_workflow(asset.content_id).run().wait(120)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}


def test_v6_widening_a_workflow_is_checked_like_publishing(alice, bob, carol, open_as, carols, tmp_path, data):
    asset = flow(tmp_path, data, ref(carols)).release_to_gallery(title="Widened", gallery=alice)
    cid = asset.content_id
    before = state(alice, tmp_path)

    with pytest.raises(gw.PermissionDenied, match="not public"):
        alice.set_restrictions(cid, visibility="public")
    with pytest.raises(gw.PermissionDenied, match="bob may not use"):
        alice.set_restrictions(cid, visibility="group", group_users=["bob"])
    assert state(alice, tmp_path) == before

    carol.add_whitelist_users(carols.content_id, "1.0.0", ["bob"])
    assert alice.set_restrictions(cid, visibility="group", group_users=["bob"]).visibility == "group"
    before = state(alice, tmp_path)

    dave = open_as("dave")
    with pytest.raises(gw.PermissionDenied, match="dave may not use"):
        alice.add_whitelist_users(cid, "1.0.0", ["dave"])
    assert state(alice, tmp_path) == before  # nor was dave put on alice's own prep algorithm (V6)
    with pytest.raises(gw.NotFound):
        dave.asset(cid)

    carol.add_whitelist_users(carols.content_id, "1.0.0", ["dave"])
    change = alice.add_whitelist_users(cid, "1.0.0", ["dave"])
    assert change.skipped == (ref(carols),) and len(change.propagated) == 1
    with pytest.raises(gw.PermissionDenied, match="not public"):  # still: carol's algorithm is a group one
        alice.set_restrictions(cid, visibility="public")


def test_v6_a_new_workflow_version_is_checked_too(alice, carols, tmp_path, data):
    asset = flow(tmp_path, data, fit_algo(tmp_path)).release_to_gallery(title="Open flow", visibility="public",
                                                                          gallery=alice)
    before = state(alice, tmp_path)
    with pytest.raises(gw.PermissionDenied, match="not public"):
        flow(tmp_path, data, ref(carols)).release_to_gallery(content_id=asset.content_id, gallery=alice)
    assert state(alice, tmp_path) == before


def test_v6_own_step_algorithms_are_widened_with_the_workflow(alice, bob, carol, open_as, tmp_path, data):
    asset = flow(tmp_path, data, fit_algo(tmp_path)).release_to_gallery(title="All mine", gallery=alice)
    own = {a.title: a.content_id for a in alice.publishes("algorithm")}
    assert {alice.asset(c).visibility for c in own.values()} == {"private"}

    alice.set_restrictions(asset.content_id, visibility="group", group_users=["bob"])
    for cid in own.values():
        details = alice.asset(cid)
        assert (details.visibility, details.versions[0].whitelist) == ("group", ("bob",))
    alice.add_whitelist_users(asset.content_id, "1.0.0", ["carol"])  # V6 as before
    assert {alice.asset(c).versions[0].whitelist for c in own.values()} == {("bob", "carol")}

    alice.set_restrictions(asset.content_id, visibility="public")
    assert {alice.asset(c).visibility for c in own.values()} == {"public"}
    dave = open_as("dave")
    subscribe(dave, asset.content_id)
    run = dave.import_workflow(asset.content_id).run().wait(120)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}


def test_v6_public_steps_of_others_may_go_anywhere(alice, bob, carol, tmp_path, data):
    theirs = carol.publish(fit_algo(tmp_path), title="Carol Public Fit", visibility="public", agree=True)
    subscribe(alice, theirs.content_id)
    asset = flow(tmp_path, data, ref(theirs)).release_to_gallery(title="Open", visibility="public", gallery=alice)
    subscribe(bob, asset.content_id)
    run = bob.import_workflow(asset.content_id).run().wait(120)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}


# -- import and run (U4) ----------------------------------------------------------------------------------


def test_u4_workflow_stops_when_its_publisher_cancels_the_step(alice, bob, carols, group_flow, tmp_path):
    asset, mine = group_flow
    statuses, _ = run_statuses(mine)
    assert statuses == {"prep": "succeeded", "fit": "succeeded"}

    alice.cancel_subscription(carols.content_id)

    statuses, run = run_statuses(mine)
    assert statuses == {"prep": "succeeded", "fit": "failed"}
    assert "not available to you" in run.steps["fit"].error
    assert_tells_nothing_of(run.steps["fit"].error, carols)
    with pytest.raises(gw.NotFound, match=r"Step 'fit' of 'Shared flow'") as refused:
        bob.import_workflow(asset.content_id, name="again")
    assert_tells_nothing_of(refused.value, carols)
    with pytest.raises(gw.SubscriptionRequired, match="retrieve"):  # the publisher is told what to do
        alice.import_workflow(asset.content_id)

    alice.retrieve_subscription(carols.content_id)
    assert run_statuses(mine)[0] == {"prep": "succeeded", "fit": "succeeded"}


def test_u4_workflow_stops_when_the_step_is_discontinued(alice, bob, carol, carols, group_flow):
    asset, mine = group_flow
    carol.discontinue(carols.content_id)

    statuses, run = run_statuses(mine)
    assert statuses["fit"] == "failed" and "not available to you" in run.steps["fit"].error
    with pytest.raises(gw.NotFound):
        bob.import_workflow(asset.content_id, name="again")
    # alice subscribed before: V2 lets her keep using it, in her own workflow too.
    own = alice.import_workflow(asset.content_id).run().wait(120)
    assert own.status == "succeeded", {n: s.error for n, s in own.steps.items()}


def test_u4_a_discontinued_step_version_keeps_its_workflows_running(alice, bob, carol, carols, group_flow,
                                                                     tmp_path):
    asset, mine = group_flow
    carol.add_version(carols.content_id, fit_algo(tmp_path, FIT + "\n# v2\n"), agree=True)
    carol.discontinue_version(carols.content_id, "1.0.0")  # no longer offered; still open to its audience
    assert run_statuses(mine)[0] == {"prep": "succeeded", "fit": "succeeded"}
    assert bob.import_workflow(asset.content_id, name="again").version == "1.0.0"


def test_u4_runner_taken_off_the_step_whitelist_can_no_longer_run_it(alice, bob, carol, carols, group_flow):
    asset, mine = group_flow
    carol.delete_whitelist_users(carols.content_id, "1.0.0", ["bob"])

    statuses, run = run_statuses(mine)
    assert statuses == {"prep": "succeeded", "fit": "failed"}
    assert_tells_nothing_of(run.steps["fit"].error, carols)
    with pytest.raises(gw.NotFound):
        bob.import_workflow(asset.content_id, name="again")


def test_u4_a_cancelled_workflow_subscription_stops_the_next_step(alice, bob, group_flow):
    asset, mine = group_flow
    bob.cancel_subscription(asset.content_id)
    with pytest.raises(gw.SubscriptionRequired, match="retrieve"):
        mine.run()
    bob.retrieve_subscription(asset.content_id)
    assert run_statuses(mine)[0] == {"prep": "succeeded", "fit": "succeeded"}


def test_u4_a_manifest_edited_in_the_kernel_cannot_run_another_algorithm(alice, bob, carol, group_flow, tmp_path):
    asset, mine = group_flow
    marker = tmp_path / "ran.txt"
    hidden = carol.publish(fit_algo(tmp_path), title="Carol Private Fit", agree=True)  # private
    public = carol.publish(fit_algo(tmp_path), title="Carol Open Fit", visibility="public", agree=True)
    for other in (hidden, public):  # neither is a step of the workflow; bob subscribes to neither
        fit = next(s for s in mine.steps if s["name"] == "fit")
        fit["algorithm"] = ref(other)
        fit["params"] = {"marker": str(marker)}
        statuses, run = run_statuses(mine)
        assert statuses == {"prep": "succeeded", "fit": "failed"}, run.steps["fit"].error
        assert "not available to you" in run.steps["fit"].error
        assert other.content_id not in run.steps["fit"].error
        assert not marker.exists()


# -- what the workflow shows (V1, V5) -------------------------------------------------------------------------


def test_v1_dependency_list_and_manifest_hide_steps_the_viewer_may_not_use(admin, alice, bob, carol, carols,
                                                                           group_flow):
    asset, _ = group_flow
    prep = next(d for d in alice.asset(asset.content_id).versions[0].dependencies if d != ref(carols))
    assert set(bob.asset(asset.content_id).versions[0].dependencies) == {prep, ref(carols)}

    carol.delete_whitelist_users(carols.content_id, "1.0.0", ["bob"])

    assert bob.asset(asset.content_id).versions[0].dependencies == (prep,)
    listed = bob.workflows()[0]
    assert [s["algorithm"] for s in listed.steps] == [prep, HIDDEN_STEP]
    assert carols.content_id not in repr(listed.manifest)
    for g in (admin, alice):  # alice is still whitelisted and subscribed; admins see everything
        assert set(g.asset(asset.content_id).versions[0].dependencies) == {prep, ref(carols)}
    with pytest.raises(gw.NotFound) as hidden:
        bob.asset(carols.content_id)
    assert "Secret" not in str(hidden.value)


def test_v1_deleting_a_step_algorithm_names_only_workflows_you_may_see(admin, carol, tmp_path, data):
    theirs = carol.publish(fit_algo(tmp_path), title="Carol Public Fit", visibility="public", agree=True)
    # An admin uses it without subscribing (anyone else's subscription would block the delete first).
    flow(tmp_path, data, ref(theirs)).release_to_gallery(title="Admin Hidden Flow", gallery=admin)  # private

    with pytest.raises(gw.Conflict, match="published by other users") as refused:
        carol.delete(theirs.content_id)
    assert "Hidden" not in str(refused.value) and "1 " not in str(refused.value)

    flow(tmp_path, data, ref(theirs), name="carols-flow").release_to_gallery(title="Carol Own Flow", gallery=carol)
    with pytest.raises(gw.Conflict, match="'Carol Own Flow'") as refused:
        carol.delete(theirs.content_id)
    assert "Hidden" not in str(refused.value)
    assert carol.asset(theirs.content_id).title == "Carol Public Fit"


# -- the wire-level calls a kernel-side layer imports and runs through (SPEC §6) -------------------------------


def test_u4_wire_calls_follow_the_step_rule(alice, bob, carol, carols, group_flow):
    asset, _ = group_flow
    usable = bob.usable_version(asset.content_id, kind="workflow")
    step = next(s for s in usable.steps if s.content_id == carols.content_id)
    bob.check_step_usable(asset.content_id, "1.0.0", step.reference, "fit")
    assert bob.open_artifact(step.digest).read()
    kept = bob.add_workspace_workflow(asset.content_id, "1.0.0", "kept")
    assert carols.content_id in {s.content_id for s in kept.version.steps}

    carol.delete_whitelist_users(carols.content_id, "1.0.0", ["bob"])

    for call in (lambda: bob.usable_version(asset.content_id, kind="workflow"),
                 lambda: bob.add_workspace_workflow(asset.content_id, "1.0.0", "again"),
                 lambda: bob.check_step_usable(asset.content_id, "1.0.0", step.reference, "fit")):
        with pytest.raises(gw.NotFound, match="not available to you") as refused:
            call()
        assert_tells_nothing_of(refused.value, carols)
    with pytest.raises(gw.NotFound):
        bob.open_artifact(step.digest)  # the workflow's subscription no longer covers it
    listed = bob.workspace_workflow("kept")
    assert carols.content_id not in {s.content_id for s in listed.version.steps}
    assert carols.content_id not in repr(listed.version.manifest)
    with pytest.raises(gw.NotFound):  # a reference that is not one of the workflow's steps
        alice.check_step_usable(asset.content_id, "1.0.0", f"{asset.content_id}@1.0.0", "fit")
    alice.check_step_usable(asset.content_id, "1.0.0", step.reference, "fit")  # alice still may
    assert alice.open_artifact(step.digest).read()


def test_u4_workspace_workflows_of_a_hidden_workflow_are_not_listed(alice, bob, carol, carols, group_flow):
    asset, _ = group_flow
    bob.add_workspace_workflow(asset.content_id, "1.0.0", "kept")
    alice.set_restrictions(asset.content_id, group_users=["carol"])  # bob is off the workflow's whitelist
    assert bob.workspace_workflows() == ()
    assert bob.workflows() == []
    with pytest.raises(gw.NotFound):
        bob.workspace_workflow("kept")


def test_u4_check_step_usable_refuses_malformed_and_crossed_arguments(alice, bob, carols, group_flow, tmp_path,
                                                                     data):
    asset, _ = group_flow
    reference = ref(carols)
    for bad in ({"content_id": None}, {"content_id": "../x"}, {"version": "1.0"}, {"version": None}):
        args = {"content_id": asset.content_id, "version": "1.0.0", **bad}
        with pytest.raises(gw.InvalidInput):
            bob.check_step_usable(args["content_id"], args["version"], reference, "fit")
    for wrong in (None, "", "fit", reference + "x", ref(carols, "1.0.1")):
        with pytest.raises(gw.NotFound, match="not available to you"):
            bob.check_step_usable(asset.content_id, "1.0.0", wrong, "fit")
    with pytest.raises(gw.NotFound):  # a version of the workflow that does not exist
        bob.check_step_usable(asset.content_id, "9.9.9", reference, "fit")
    # Another workflow bob may use does not vouch for carol's step.
    other = flow(tmp_path, data, fit_algo(tmp_path), name="other").release_to_gallery(
        title="Other flow", visibility="public", gallery=alice)
    subscribe(bob, other.content_id)
    with pytest.raises(gw.NotFound, match="not available to you"):
        bob.check_step_usable(other.content_id, "1.0.0", reference, "fit")
