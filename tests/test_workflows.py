"""SPEC U3, P6, V6: building, releasing (the 003 seed's ``release_to_gallery``), whitelisting,
importing and running workflows. Steps run as real job processes and hand files to each other."""

from __future__ import annotations

import itertools
import re
import textwrap
from pathlib import Path

import pytest

import gallery_widgets as gw
from gallery_widgets import workflow as wf
from gallery_widgets.errors import Conflict, InvalidInput, NotFound, SubscriptionRequired

PREP = """\
def main(params, inputs, outputs):
    values = [int(x) for x in inputs["data"].read_text().split()]
    (outputs["table"] / "rows.txt").write_text("\\n".join(str(v * params["factor"]) for v in values))
    return {"rows": len(values)}
"""

FIT = """\
def main(params, inputs, outputs):
    rows = [int(x) for x in (inputs["table"] / "rows.txt").read_text().split()]
    (outputs["model"] / "sum.txt").write_text(str(sum(rows) + params["bias"]))
    return {"sum": sum(rows) + params["bias"]}
"""

BOOM = """\
def main(params, inputs, outputs):
    raise ValueError("boom step broke on purpose")
"""

_counter = itertools.count()


def algorithm(tmp_path: Path, name: str, code: str, *, inputs, outputs, hyperparameters: str = "") -> gw.Algorithm:
    root = tmp_path / "steps" / f"{name}-{next(_counter)}"
    root.mkdir(parents=True)
    manifest = (f"name: {name}\nentrypoint: train:main\n"
                f"inputs: [{', '.join('{name: %s}' % i for i in inputs)}]\n"
                f"outputs: [{', '.join('{name: %s}' % o for o in outputs)}]\n")
    if hyperparameters:
        manifest += "hyperparameters:\n" + textwrap.indent(textwrap.dedent(hyperparameters), "  ")
    (root / "algorithm.yaml").write_text(manifest)
    (root / "train.py").write_text(code)
    return gw.Algorithm.from_dir(root)


def prep_algo(tmp_path, code=PREP):
    return algorithm(tmp_path, "prep-algo", code, inputs=["data"], outputs=["table"],
                     hyperparameters="- {name: factor, type: int, default: 2}\n")


def fit_algo(tmp_path, code=FIT):
    return algorithm(tmp_path, "fit-algo", code, inputs=["table"], outputs=["model"],
                     hyperparameters="- {name: bias, type: int, default: 0}\n")


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "data.txt"
    path.write_text("1\n2\n3\n")
    return path


def pipeline(tmp_path, data, name="churn-pipeline", *, prep=None, fit=None, fit_params=None) -> gw.Workflow:
    prep_step = gw.Step("prep", prep or prep_algo(tmp_path), params={"factor": 10}, inputs={"data": str(data)})
    fit_step = gw.Step("fit", fit or fit_algo(tmp_path), params=fit_params or {"bias": 1},
                       inputs={"table": prep_step.output("table")})
    return gw.Workflow(name, steps=[fit_step, prep_step])  # listed out of order on purpose


def artifact_files(tmp_path) -> set[str]:
    root = tmp_path / "artifacts"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def subscribe(g, content_id):
    return g.subscribe(content_id, accept_constraints=True, accept_agreements=True)


def by_title(g, kind):
    return {a.title: a for a in g.publishes(kind)}


# --- building (U3) -------------------------------------------------------------------------------------


def test_u3_workflow_with_a_cycle_is_refused(tmp_path):
    fit = fit_algo(tmp_path)
    a = gw.Step("a", fit)
    b = gw.Step("b", fit, inputs={"table": a.output("model")})
    a.inputs["table"] = b.output("model")
    with pytest.raises(InvalidInput, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        gw.Workflow("loop", steps=[a, b])
    selfish = gw.Step("self", fit)
    selfish.inputs["table"] = selfish.output("model")
    with pytest.raises(InvalidInput, match=r"cycle: self -> self"):
        gw.Workflow("loop", steps=[selfish])


def test_u3_duplicate_step_name_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match=r"repeats step name\(s\) prep"):
        gw.Workflow("dup", steps=[gw.Step("prep", prep_algo(tmp_path)), gw.Step("prep", fit_algo(tmp_path))])


def test_u3_step_wired_to_a_missing_step_is_refused(tmp_path):
    ghost = gw.Step("ghost", prep_algo(tmp_path))
    fit = gw.Step("fit", fit_algo(tmp_path), inputs={"table": ghost.output("table")})
    with pytest.raises(InvalidInput, match=r"'ghost', which is not in this workflow"):
        gw.Workflow("orphan", steps=[fit])


def test_u3_output_the_algorithm_does_not_declare_is_refused(tmp_path):
    prep = gw.Step("prep", prep_algo(tmp_path))
    with pytest.raises(InvalidInput, match=r"no output 'model'.*declares: table"):
        prep.output("model")


@pytest.mark.parametrize("bad", [
    lambda t: gw.Step("prep", "not-a-reference"),
    lambda t: gw.Step("bad name!", prep_algo(t)),
    lambda t: gw.Step("prep", prep_algo(t), inputs={"data": 42}),
    lambda t: gw.Workflow("empty", steps=[]),
    lambda t: gw.Workflow("not steps", steps=["prep"]),
], ids=["bad-reference", "bad-step-name", "bad-input", "no-steps", "not-a-step"])
def test_u3_malformed_steps_are_refused(tmp_path, bad):
    with pytest.raises(InvalidInput):
        bad(tmp_path)


def test_u3_wired_output_of_a_gallery_step_is_checked_at_release(alice, tmp_path, data):
    prep_asset = alice.publish(prep_algo(tmp_path), title="Prep", agree=True)
    ref = gw.Step("prep", f"{prep_asset.content_id}@1.0.0", inputs={"data": str(data)})
    fit = gw.Step("fit", fit_algo(tmp_path), inputs={"table": ref.output("model")})
    flow = gw.Workflow("wired", steps=[ref, fit])
    before = (by_title(alice, None).keys(), artifact_files(tmp_path))
    with pytest.raises(InvalidInput, match=r"output 'model' of step 'prep', which its algorithm does not declare"):
        flow.release_to_gallery(title="Wired", gallery=alice)
    assert (by_title(alice, None).keys(), artifact_files(tmp_path)) == before


# --- release_to_gallery (P6) ----------------------------------------------------------------------------


def test_p6_release_creates_workflow_and_one_algorithm_per_local_step_at_1_0_0(alice, bob, tmp_path, data):
    asset = pipeline(tmp_path, data).release_to_gallery(title="Churn pipeline", desc="first", gallery=alice)

    assert (asset.kind, asset.title, asset.visibility, asset.publisher) == ("workflow", "Churn pipeline", "private",
                                                                            "alice")
    assert [(v.version, v.description) for v in asset.versions] == [("1.0.0", "first")]
    algorithms = by_title(alice, "algorithm")
    assert set(algorithms) == {"prep-algo", "fit-algo"}
    for algo in algorithms.values():
        details = alice.asset(algo.content_id)
        assert details.visibility == "private"
        assert [v.version for v in details.versions] == ["1.0.0"]
    assert set(asset.versions[0].dependencies) == {f"{a.content_id}@1.0.0" for a in algorithms.values()}
    for content_id in [asset.content_id, *(a.content_id for a in algorithms.values())]:
        with pytest.raises(NotFound):
            bob.asset(content_id)


def test_p6_title_defaults_to_the_workflow_name(alice, tmp_path, data):
    asset = pipeline(tmp_path, data, name="nightly-retrain").release_to_gallery(gallery=alice)
    assert asset.title == "nightly-retrain"
    assert asset.versions[0].version == "1.0.0"


def test_p6_group_needs_group_users(alice, tmp_path, data):
    flow = pipeline(tmp_path, data)
    with pytest.raises(InvalidInput, match="group_users"):
        flow.release_to_gallery(title="Group", visibility="group", gallery=alice)
    assert alice.publishes() == () and artifact_files(tmp_path) == set()


def test_p6_group_release_whitelists_the_workflow_and_its_algorithms(alice, bob, carol, tmp_path, data):
    asset = pipeline(tmp_path, data).release_to_gallery(title="Group", visibility="group", group_users=["bob"],
                                                        gallery=alice)
    assert asset.visibility == "group" and asset.versions[0].whitelist == ("bob",)
    for dependency in asset.versions[0].dependencies:
        content_id = dependency.split("@")[0]
        assert bob.asset(content_id).visibility == "group"
        with pytest.raises(NotFound):
            carol.asset(content_id)
    assert bob.asset(asset.content_id).title == "Group"


def test_p6_new_version_bumps_the_workflow_and_only_the_changed_algorithm(alice, tmp_path, data):
    prep = prep_algo(tmp_path)
    first = pipeline(tmp_path, data, prep=prep).release_to_gallery(title="Churn pipeline", gallery=alice)
    algorithms = by_title(alice, "algorithm")
    prep_cid, fit_cid = algorithms["prep-algo"].content_id, algorithms["fit-algo"].content_id

    changed_fit = fit_algo(tmp_path, FIT.replace("sum(rows) + params", "sum(rows) * 1 + params"))
    second = pipeline(tmp_path, data, prep=prep, fit=changed_fit).release_to_gallery(
        content_id=first.content_id, desc="faster fit", gallery=alice)

    assert second.content_id == first.content_id
    assert [v.version for v in second.versions] == ["1.0.1", "1.0.0"]
    assert second.versions[0].description == "faster fit"
    assert set(second.versions[0].dependencies) == {f"{prep_cid}@1.0.0", f"{fit_cid}@1.0.1"}
    assert [v.version for v in alice.asset(prep_cid).versions] == ["1.0.0"]
    assert [v.version for v in alice.asset(fit_cid).versions] == ["1.0.1", "1.0.0"]
    assert set(by_title(alice, "algorithm")) == {"prep-algo", "fit-algo"}  # no new algorithm assets

    # Same code again (a fresh folder with the same files): same algorithm versions reused.
    third = pipeline(tmp_path, data, prep=prep_algo(tmp_path),
                     fit=fit_algo(tmp_path, FIT.replace("sum(rows) + params", "sum(rows) * 1 + params"))
                     ).release_to_gallery(content_id=first.content_id, version="2.0.0", gallery=alice)
    assert [v.version for v in third.versions] == ["2.0.0", "1.0.1", "1.0.0"]
    assert set(third.versions[0].dependencies) == {f"{prep_cid}@1.0.0", f"{fit_cid}@1.0.1"}
    assert len(alice.asset(fit_cid).versions) == 2

    with pytest.raises(Conflict, match="not greater"):
        pipeline(tmp_path, data).release_to_gallery(content_id=first.content_id, version="1.5.0", gallery=alice)


def test_p6_one_local_algorithm_used_by_two_steps_is_published_once(alice, tmp_path, data):
    prep = prep_algo(tmp_path)
    first = gw.Step("first", prep, params={"factor": 1}, inputs={"data": str(data)})
    second = gw.Step("second", prep, params={"factor": 3}, inputs={"data": str(data)})
    asset = gw.Workflow("twice", steps=[first, second]).release_to_gallery(gallery=alice)

    algorithms = alice.publishes("algorithm")
    assert [a.title for a in algorithms] == ["prep-algo"]
    assert asset.versions[0].dependencies == (f"{algorithms[0].content_id}@1.0.0",)
    run = alice.import_workflow(asset.content_id).run().wait(120)
    assert run.status == "succeeded"
    assert (run.jobs["second"].outputs["table"] / "rows.txt").read_text() == "3\n6\n9"


def test_p6_one_gallery_algorithm_version_used_by_two_steps(alice, tmp_path, data):
    prep = alice.publish(prep_algo(tmp_path), title="Prep", agree=True)
    steps = [gw.Step(name, f"{prep.content_id}@1.0.0", inputs={"data": str(data)}) for name in ("left", "right")]
    asset = gw.Workflow("pair", steps=steps).release_to_gallery(gallery=alice)
    assert asset.versions[0].dependencies == (f"{prep.content_id}@1.0.0",)
    assert [s["algorithm"] for s in alice.import_workflow(asset.content_id).steps] == [f"{prep.content_id}@1.0.0"] * 2


def test_p6_renamed_step_keeps_its_algorithm_asset(alice, tmp_path, data):
    first = pipeline(tmp_path, data).release_to_gallery(title="Churn pipeline", gallery=alice)
    algorithms = by_title(alice, "algorithm")
    prep = gw.Step("prepare", prep_algo(tmp_path), params={"factor": 10}, inputs={"data": str(data)})
    fit = gw.Step("fit", fit_algo(tmp_path, FIT + "\n# tuned\n"), inputs={"table": prep.output("table")})

    second = gw.Workflow("churn-pipeline", steps=[prep, fit]).release_to_gallery(content_id=first.content_id,
                                                                                   gallery=alice)

    assert set(by_title(alice, "algorithm")) == {"prep-algo", "fit-algo"}
    assert set(second.versions[0].dependencies) == {f"{algorithms['prep-algo'].content_id}@1.0.0",
                                                    f"{algorithms['fit-algo'].content_id}@1.0.1"}


def test_p6_new_step_whose_algorithm_title_is_taken_gets_its_own_asset(alice, tmp_path, data):
    alice.publish(algorithm(tmp_path, "score-algo", FIT, inputs=["table"], outputs=["model"],
                            hyperparameters="- {name: bias, type: int, default: 0}\n"), title="Score-Algo", agree=True)
    first = pipeline(tmp_path, data).release_to_gallery(title="Churn pipeline", gallery=alice)
    prep = gw.Step("prep", prep_algo(tmp_path), params={"factor": 10}, inputs={"data": str(data)})
    score = gw.Step("score", algorithm(tmp_path, "score-algo", FIT + "\n# new\n", inputs=["table"],
                                       outputs=["model"], hyperparameters="- {name: bias, type: int, default: 0}\n"),
                    inputs={"table": prep.output("table")})

    second = gw.Workflow("churn-pipeline", steps=[prep, score]).release_to_gallery(content_id=first.content_id,
                                                                                    gallery=alice)

    titles = by_title(alice, "algorithm")
    assert "score-algo (Churn pipeline)" in titles
    assert f"{titles['score-algo (Churn pipeline)'].content_id}@1.0.0" in second.versions[0].dependencies
    assert [v.version for v in alice.asset(titles["Score-Algo"].content_id).versions] == ["1.0.0"]


def test_p6_only_the_publisher_adds_workflow_versions(alice, bob, tmp_path, data):
    first = pipeline(tmp_path, data).release_to_gallery(title="Public flow", visibility="public", gallery=alice)
    before = artifact_files(tmp_path)
    with pytest.raises(gw.PermissionDenied):
        pipeline(tmp_path, data).release_to_gallery(content_id=first.content_id, gallery=bob)
    assert bob.publishes() == () and artifact_files(tmp_path) == before


@pytest.fixture
def bad_reference(request, alice, bob, tmp_path):
    """A 'content_id@x.y.z' that does not exist or that alice may not use."""
    case = request.param
    if case == "missing-asset":
        return "abcdefghijklmnop@1.0.0"
    if case == "missing-version":
        return alice.publish(fit_algo(tmp_path), title="Own fit", agree=True).content_id + "@9.9.9"
    if case == "others-private":
        return bob.publish(fit_algo(tmp_path), title="Bob's fit", agree=True).content_id + "@1.0.0"
    if case == "not-subscribed":
        return bob.publish(fit_algo(tmp_path), title="Bob's fit", visibility="public", agree=True).content_id + "@1.0.0"
    if case == "discontinued-version":
        asset = bob.publish(fit_algo(tmp_path), title="Bob's fit", visibility="public", agree=True)
        bob.add_version(asset.content_id, fit_algo(tmp_path, FIT + "\n# v2\n"), agree=True)
        bob.discontinue_version(asset.content_id, "1.0.0")
        subscribe(alice, asset.content_id)
        return asset.content_id + "@1.0.0"
    if case == "a-model":
        model = tmp_path / "model"
        model.mkdir()
        (model / "model.yaml").write_text("name: m\nloader: m:load\n")
        (model / "m.py").write_text("def load(folder):\n    return None\n")
        return alice.publish(gw.Model.from_dir(model), title="A model", agree=True).content_id + "@1.0.0"
    raise AssertionError(case)


@pytest.mark.parametrize("bad_reference", ["missing-asset", "missing-version", "others-private", "not-subscribed",
                                           "discontinued-version", "a-model"], indirect=True)
def test_p6_step_reference_that_cannot_be_used_publishes_nothing(alice, tmp_path, data, bad_reference):
    prep = gw.Step("prep", prep_algo(tmp_path), inputs={"data": str(data)})
    fit = gw.Step("fit", bad_reference, inputs={"table": prep.output("table")})
    flow = gw.Workflow("refs", steps=[prep, fit])
    before = (alice.publishes(), artifact_files(tmp_path))

    with pytest.raises(InvalidInput, match=r"Step 'fit'"):
        flow.release_to_gallery(title="Refs", gallery=alice)

    assert (alice.publishes(), artifact_files(tmp_path)) == before


def test_p6_step_reference_to_a_subscribed_algorithm_is_not_republished(alice, bob, tmp_path, data):
    theirs = bob.publish(fit_algo(tmp_path), title="Bob's fit", visibility="public", agree=True)
    subscribe(alice, theirs.content_id)
    prep = gw.Step("prep", prep_algo(tmp_path), inputs={"data": str(data)})
    fit = gw.Step("fit", f"{theirs.content_id}@1.0.0", params={"bias": 5}, inputs={"table": prep.output("table")})
    asset = gw.Workflow("mixed", steps=[prep, fit]).release_to_gallery(gallery=alice)
    assert set(by_title(alice, "algorithm")) == {"prep-algo"}
    assert f"{theirs.content_id}@1.0.0" in asset.versions[0].dependencies
    assert [v.version for v in bob.asset(theirs.content_id).versions] == ["1.0.0"]


def test_p6_step_params_are_checked_against_the_algorithm_at_release(alice, tmp_path, data):
    with pytest.raises(InvalidInput, match=r"Step 'fit'.*bias"):
        pipeline(tmp_path, data, fit_params={"bias": "high"}).release_to_gallery(title="Bad params", gallery=alice)
    assert alice.publishes() == ()


# --- import_workflow (U3) -----------------------------------------------------------------------------------


@pytest.fixture
def public_flow(alice, tmp_path, data):
    return pipeline(tmp_path, data).release_to_gallery(title="Churn pipeline", visibility="public", gallery=alice)


def test_u3_import_workflow_defaults(alice, bob, public_flow):
    subscribe(bob, public_flow.content_id)

    imported = bob.import_workflow(public_flow.content_id)

    assert re.fullmatch(r"workflow_[0-9a-f]{4}", imported.name)
    assert (imported.region, imported.workspace, imported.version) == ("local", "default", "1.0.0")
    assert [s["name"] for s in imported.steps] == ["prep", "fit"]
    assert [w.name for w in bob.workflows()] == [imported.name]
    assert bob.workflows("default")[0].content_id == public_flow.content_id
    assert bob.workflow(imported.name).version == "1.0.0"
    assert alice.workflows() == []  # imports are per user


def test_u3_import_workflow_names_regions_and_workspaces(bob, public_flow):
    subscribe(bob, public_flow.content_id)
    bob.import_workflow(public_flow.content_id, name="churn", workspace="team-a")

    with pytest.raises(Conflict, match="churn"):
        bob.import_workflow(public_flow.content_id, name="churn", workspace="team-a")
    with pytest.raises(InvalidInput, match="region"):
        bob.import_workflow(public_flow.content_id, name="other", region="mars")
    for bad in ("two words", "", "x" * 65, "../up"):
        with pytest.raises(InvalidInput):
            bob.import_workflow(public_flow.content_id, name=bad)
        with pytest.raises(InvalidInput):
            bob.import_workflow(public_flow.content_id, workspace=bad)

    bob.import_workflow(public_flow.content_id, name="churn")  # same name, another workspace
    assert [w.name for w in bob.workflows("team-a")] == ["churn"]
    assert [w.name for w in bob.workflows()] == ["churn"]
    with pytest.raises(NotFound):
        bob.workflow("missing", "team-a")


def test_u3_import_workflow_default_version_is_the_latest_normal_one(alice, bob, tmp_path, data, public_flow):
    pipeline(tmp_path, data, fit=fit_algo(tmp_path, FIT + "\n# v2\n")).release_to_gallery(
        content_id=public_flow.content_id, gallery=alice)
    subscribe(bob, public_flow.content_id)
    assert bob.import_workflow(public_flow.content_id).version == "1.0.1"
    assert bob.import_workflow(public_flow.content_id, "1.0.0").version == "1.0.0"
    alice.discontinue_version(public_flow.content_id, "1.0.1")
    assert bob.import_workflow(public_flow.content_id).version == "1.0.0"


def test_u4_import_workflow_needs_a_subscription(bob, public_flow):
    with pytest.raises(SubscriptionRequired, match="(?i)subscribe"):
        bob.import_workflow(public_flow.content_id)
    assert bob.workflows() == []


# --- running (U3) -----------------------------------------------------------------------------------------------


def test_u3_run_executes_steps_in_dependency_order_passing_outputs(bob, public_flow, data, tmp_path):
    subscribe(bob, public_flow.content_id)
    imported = bob.import_workflow(public_flow.content_id, name="nightly")

    run = imported.run().wait(120)

    assert run.status == "succeeded", {n: (s.status, s.error) for n, s in run.steps.items()}
    assert {n: s.status for n, s in run.steps.items()} == {"prep": "succeeded", "fit": "succeeded"}
    prep_job, fit_job = run.jobs["prep"], run.jobs["fit"]
    assert prep_job.finished_at <= fit_job.started_at
    assert (prep_job.outputs["table"] / "rows.txt").read_text() == "10\n20\n30"
    assert fit_job.inputs["table"] == prep_job.outputs["table"]
    assert (fit_job.outputs["model"] / "sum.txt").read_text() == "61"
    assert fit_job.metrics == {"sum": 61} and prep_job.metrics == {"rows": 3}
    assert run.failed_step is None

    other = tmp_path / "other.txt"
    other.write_text("5\n")
    second = imported.run(inputs={"prep": {"data": other}}).wait(120)
    assert second.status == "succeeded"
    assert second.jobs["fit"].metrics == {"sum": 51}
    with pytest.raises(InvalidInput, match="ghost"):
        imported.run(inputs={"ghost": {"data": other}})


def test_u3_failing_step_fails_the_run_and_skips_its_dependents(alice, tmp_path, data):
    prep = gw.Step("prep", prep_algo(tmp_path), inputs={"data": str(data)})
    boom = gw.Step("boom", algorithm(tmp_path, "boom-algo", BOOM, inputs=["table"], outputs=["table"]),
                   inputs={"table": prep.output("table")})
    fit = gw.Step("fit", fit_algo(tmp_path), inputs={"table": boom.output("table")})
    side = gw.Step("side", prep_algo(tmp_path, PREP + "\n"), inputs={"data": str(data)})
    asset = gw.Workflow("fragile", steps=[prep, boom, fit, side]).release_to_gallery(gallery=alice)
    imported = alice.import_workflow(asset.content_id)  # the publisher needs no subscription

    run = imported.run().wait(120)

    assert run.status == "failed"
    assert run.failed_step == "boom"
    assert {n: s.status for n, s in run.steps.items()} == {
        "prep": "succeeded", "boom": "failed", "fit": "skipped", "side": "succeeded"}
    assert "boom step broke on purpose" in run.steps["boom"].error
    assert "boom" in run.steps["fit"].error
    assert "fit" not in run.jobs


def test_u3_runs_started_together_keep_their_own_outputs(alice, public_flow, tmp_path):
    imported = alice.import_workflow(public_flow.content_id)
    other = tmp_path / "other.txt"
    other.write_text("5\n")

    first = imported.run()
    second = imported.run(inputs={"prep": {"data": other}})
    first.wait(120), second.wait(120)

    assert first.status == second.status == "succeeded"
    assert first.run_dir != second.run_dir
    assert first.jobs["fit"].metrics == {"sum": 61} and second.jobs["fit"].metrics == {"sum": 51}
    assert (first.jobs["fit"].outputs["model"] / "sum.txt").read_text() == "61"
    assert (second.jobs["fit"].outputs["model"] / "sum.txt").read_text() == "51"


def test_u7_tampered_step_artifact_fails_that_step_not_the_kernel(alice, public_flow, tmp_path):
    fit_cid = by_title(alice, "algorithm")["fit-algo"].content_id
    digest = alice.asset(fit_cid).versions[0].digest
    stored = tmp_path / "artifacts" / "sha256" / digest[:2] / digest[2:]
    data = bytearray(stored.read_bytes())
    data[len(data) // 3] ^= 0x20
    stored.write_bytes(bytes(data))

    run = alice.import_workflow(public_flow.content_id).run().wait(120)

    assert run.status == "failed" and run.failed_step == "fit"
    assert run.steps["prep"].status == "succeeded"
    assert "sha256" in run.steps["fit"].error
    assert not (tmp_path / "cache" / digest).exists()


def test_u5_import_workflow_reports_its_steps_unmet_constraints(alice, bob, tmp_path, data):
    needy = algorithm(tmp_path, "needy-algo", FIT, inputs=["table"], outputs=["model"],
                      hyperparameters="- {name: bias, type: int, default: 0}\n")
    needy.manifest["requirements"] = ["surely-not-installed-pkg>=1"]
    asset = pipeline(tmp_path, data, fit=needy).release_to_gallery(title="Needy", visibility="public",
                                                                    gallery=alice)
    subscribe(bob, asset.content_id)

    with pytest.warns(UserWarning, match="surely-not-installed-pkg>=1"):
        bob.import_workflow(asset.content_id, name="warned")
    with pytest.raises(InvalidInput, match="surely-not-installed-pkg>=1"):
        bob.import_workflow(asset.content_id, name="refused", check_constraints="raise")
    assert [w.name for w in bob.workflows()] == ["warned"]


def test_u4_cancelled_workflow_subscription_stops_runs(bob, public_flow):
    subscribe(bob, public_flow.content_id)
    imported = bob.import_workflow(public_flow.content_id)
    bob.cancel_subscription(public_flow.content_id)
    with pytest.raises(SubscriptionRequired, match="retrieve"):
        imported.run()


# --- whitelists (V6) and the SDK's gallery argument ---------------------------------------------------------


def test_v6_whitelist_change_applies_to_own_algorithms_and_reports_others(alice, bob, carol, open_as, tmp_path,
                                                                          data):
    theirs = carol.publish(fit_algo(tmp_path), title="Carol's fit", visibility="public", agree=True)
    subscribe(alice, theirs.content_id)
    prep = gw.Step("prep", prep_algo(tmp_path), inputs={"data": str(data)})
    fit = gw.Step("fit", f"{theirs.content_id}@1.0.0", inputs={"table": prep.output("table")})
    asset = gw.Workflow("shared", steps=[prep, fit]).release_to_gallery(
        title="Shared", visibility="group", group_users=["bob"], gallery=alice)
    own_cid = by_title(alice, "algorithm")["prep-algo"].content_id
    dave = open_as("dave")
    with pytest.raises(NotFound):
        dave.asset(asset.content_id)
    with pytest.raises(NotFound):
        dave.asset(own_cid)

    change = wf.add_whitelist_users(content_id=asset.content_id, version_num="1.0.0", user_groups=["dave"],
                                    gallery=alice)

    assert change.propagated == (f"{own_cid}@1.0.0",)
    assert change.skipped == (f"{theirs.content_id}@1.0.0",)
    assert set(alice.asset(asset.content_id).versions[0].whitelist) == {"bob", "dave"}
    assert set(alice.asset(own_cid).versions[0].whitelist) == {"bob", "dave"}
    assert carol.asset(theirs.content_id).versions[0].whitelist == ()  # left as it was
    assert dave.asset(asset.content_id).title == "Shared"
    assert dave.asset(own_cid).visibility == "group"
    subscribe(dave, asset.content_id)
    assert dave.import_workflow(asset.content_id, name="shared").version == "1.0.0"
    subscribe(dave, own_cid)
    assert dave.import_algorithm(own_cid).version == "1.0.0"

    removed = wf.delete_whitelist_users(content_id=asset.content_id, version_num="1.0.0", user_groups=["dave"],
                                        gallery=alice)

    assert removed.propagated == (f"{own_cid}@1.0.0",)
    assert removed.skipped == (f"{theirs.content_id}@1.0.0",)
    assert set(alice.asset(own_cid).versions[0].whitelist) == {"bob"}
    with pytest.raises(NotFound):
        dave.asset(own_cid)
    with pytest.raises(NotFound):
        dave.import_workflow(asset.content_id, name="again")
    assert bob.asset(own_cid).title == "prep-algo"  # bob stays whitelisted


def test_v6_only_the_publisher_changes_a_workflow_whitelist(alice, bob, tmp_path, data):
    asset = pipeline(tmp_path, data).release_to_gallery(title="Group", visibility="group", group_users=["bob"],
                                                        gallery=alice)
    with pytest.raises(gw.PermissionDenied):
        wf.add_whitelist_users(content_id=asset.content_id, version_num="1.0.0", user_groups=["bob"], gallery=bob)
    with pytest.raises(InvalidInput, match="at least one"):  # V4: a group asset keeps someone
        wf.delete_whitelist_users(content_id=asset.content_id, version_num="1.0.0", user_groups=["bob"],
                                  gallery=alice)
    assert set(alice.asset(asset.content_id).versions[0].whitelist) == {"bob"}
    for dependency in alice.asset(asset.content_id).versions[0].dependencies:
        assert alice.asset(dependency.split("@")[0]).versions[0].whitelist == ("bob",)


def test_p6_sdk_acts_on_the_given_gallery_or_the_most_recently_opened(alice, bob, open_as, tmp_path, data):
    # bob was opened last: the SDK's default gallery acts as bob.
    bobs = pipeline(tmp_path, data, name="bobs-flow").release_to_gallery()
    assert bobs.publisher == "bob"
    alices = pipeline(tmp_path, data, name="alices-flow").release_to_gallery(gallery=alice)
    assert alices.publisher == "alice"
    assert {a.title for a in alice.publishes("workflow")} == {"alices-flow"}
    with pytest.raises(NotFound):  # as bob, alice's private workflow does not exist
        wf.add_whitelist_users(content_id=alices.content_id, version_num="1.0.0", user_groups=["carol"])

    open_as("alice")  # now alice is the most recently opened gallery
    change = wf.add_whitelist_users(content_id=alices.content_id, version_num="1.0.0", user_groups=["carol"])
    assert change.users == ("carol",) and len(change.propagated) == 2
    change = wf.delete_whitelist_users(content_id=alices.content_id, version_num="1.0.0", user_groups=["carol"])
    assert change.users == ("carol",)
    assert alice.asset(alices.content_id).versions[0].whitelist == ()
