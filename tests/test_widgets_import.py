"""ImportWorkflowDialog (SPEC §5, U3, U4) and the job / run views (SPEC U2), driven from Python
over a real embedded SQLite gallery; runs start real job processes."""

from __future__ import annotations

import re
import types

import pytest
from conftest import write_algorithm

import gallery_widgets as gw
from gallery_widgets.kernel.handles import ImportedWorkflow
from gallery_widgets.widgets.import_workflow import ImportWorkflowDialog

WAIT = 120

TRAIN_OK = """\
from gallery_widgets.kernel.runtime.report import report

def main(params, inputs, outputs):
    print("epoch 1 of", params["epochs"], flush=True)
    report(progress=0.5, accuracy=0.9)
    print("epoch 2 of", params["epochs"], flush=True)
    return {"loss": 0.25}
"""

TRAIN_FAILS = """\
def main(params, inputs, outputs):
    print("about to fail", flush=True)
    raise RuntimeError("the data is empty")
"""

TRAIN_SLOW = """\
import time

def main(params, inputs, outputs):
    print("sleeping", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def backend():
    """Widget tests run over the embedded SQLite gallery only."""
    return "sqlite"


@pytest.fixture
def opener(open_as):
    return open_as


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1\n2\n3\n")
    return path


@pytest.fixture
def make_workflow(alice, tmp_path, data):
    """``make_workflow(title, train_py)``: alice publishes a public one-step workflow."""
    counter = iter(range(1000))

    def _make(title="Churn pipeline", train_py=TRAIN_OK, **options):
        n = next(counter)
        algo = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / f"step{n}", f"step-{n}",
                                                     extra_files={"train.py": train_py}))
        workflow = gw.Workflow(f"flow-{n}", steps=[gw.Step("train", algo, params={"epochs": 2},
                                                           inputs={"data": str(data)})])
        options.setdefault("visibility", "public")
        return alice.publish(workflow, title=title, agree=True, **options)

    return _make


@pytest.fixture
def subscribed(bob, make_workflow):
    asset = make_workflow()
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    return asset


def test_u3_import_dialog_defaults(bob, subscribed):
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace={})
    assert dialog.asset.value == subscribed.content_id
    assert "Churn pipeline" in {v: k for k, v in dialog.asset.options}[subscribed.content_id]
    assert dialog.version.options == (("1.0.0", "1.0.0"),)
    assert dialog.version.value == "1.0.0"
    assert re.fullmatch(r"workflow_[0-9a-f]{4}", dialog.name.value)
    assert dialog.region.value == "local"
    assert dialog.workspace.value == "default"
    assert dialog.variable.value == dialog.name.value
    assert dialog.run_button.layout.display == "none"
    assert dialog.imported is None
    assert "gw-import-workflow" in dialog._dom_classes


def test_u3_import_dialog_puts_workflow_in_namespace(bob, subscribed):
    namespace = {}
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace=namespace)
    dialog.name.value = "churn_run"
    assert dialog.variable.value == "churn_run"  # follows the name until the user picks their own
    dialog.variable.value = "pipeline"
    dialog.workspace.value = "team-a"
    dialog.import_button.click()
    assert dialog.messages.text == "Imported as `pipeline` — run it with pipeline.run()"
    imported = namespace["pipeline"]
    assert isinstance(imported, ImportedWorkflow)
    assert imported is dialog.imported
    assert (imported.content_id, imported.version, imported.name, imported.workspace, imported.region) == (
        subscribed.content_id, "1.0.0", "churn_run", "team-a", "local")
    assert [w.name for w in bob.workflows("team-a")] == ["churn_run"]  # kept in that workspace (U3)
    assert dialog.run_button.layout.display == ""


def test_u3_import_dialog_picks_a_version(alice, bob, subscribed, tmp_path, data):
    algo = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "v2", "step-v2"))
    alice.add_version(subscribed.content_id, gw.Workflow("flow-v2", steps=[
        gw.Step("train", algo, params={"epochs": 2}, inputs={"data": str(data)})]), agree=True)
    namespace = {}
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace=namespace)
    assert [value for _, value in dialog.version.options] == ["1.0.1", "1.0.0"]
    assert dialog.version.value == "1.0.1"  # the latest by default
    dialog.version.value = "1.0.0"
    dialog.import_button.click()
    assert namespace[dialog.variable.value].version == "1.0.0"


def test_u3_import_dialog_lists_usable_subscriptions_and_own_workflows(alice, bob, make_workflow):
    first = make_workflow("First flow")
    second = make_workflow("Second flow")
    for asset in (first, second):
        bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    bob.cancel_subscription(second.content_id)
    dialog = ImportWorkflowDialog(bob, namespace={})
    assert [value for _, value in dialog.asset.options] == [first.content_id]  # not the cancelled one
    own = ImportWorkflowDialog(alice, namespace={})
    labels = {v: k for k, v in own.asset.options}
    assert set(labels) == {first.content_id, second.content_id}
    assert all("published by you" in label for label in labels.values())


def test_u3_import_dialog_empty_state(bob):
    dialog = ImportWorkflowDialog(bob, namespace={})
    assert dialog.asset.options == ()
    assert "No workflows to import yet" in dialog.empty.value
    assert dialog.import_button.disabled is True


def test_u4_import_dialog_refused_after_cancel_inline(bob, subscribed):
    bob.cancel_subscription(subscribed.content_id)
    namespace = {}
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace=namespace)
    assert dialog.asset.value == subscribed.content_id
    assert "Subscription canceled" in {v: k for k, v in dialog.asset.options}[subscribed.content_id]
    dialog.import_button.click()
    assert "retrieve" in dialog.messages.text.lower()
    assert "gw-error" in dialog.messages.value
    assert namespace == {} and dialog.imported is None
    assert dialog.run_button.layout.display == "none"


def test_u3_import_dialog_name_taken_inline(bob, subscribed):
    namespace = {}
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace=namespace)
    dialog.name.value = "flow_one"
    dialog.import_button.click()
    again = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace=namespace)
    again.name.value = "flow_one"
    again.variable.value = "other"
    again.import_button.click()
    assert "already has a workflow named 'flow_one'" in again.messages.text
    assert "other" not in namespace


def test_u3_import_dialog_bad_names_inline(bob, subscribed):
    namespace = {}
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace=namespace)
    dialog.variable.value = "2 bad"
    dialog.import_button.click()
    assert "not a Python identifier" in dialog.messages.text
    dialog.variable.value = "fine"
    dialog.name.value = "no spaces allowed"
    dialog.import_button.click()
    assert "name" in dialog.messages.text and "letters, digits" in dialog.messages.text
    dialog.name.value = "ok_name"
    dialog.workspace.value = "bad workspace!"
    dialog.import_button.click()
    assert "workspace" in dialog.messages.text
    assert namespace == {}


def test_u3_import_dialog_uses_ipython_namespace_when_none_given(bob, subscribed, monkeypatch):
    shell = types.SimpleNamespace(user_ns={})
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id)
    dialog.variable.value = "from_kernel"
    dialog.import_button.click()
    assert shell.user_ns["from_kernel"] is dialog.imported


# --- running: RunView and JobView ---------------------------------------------------------------

def test_u2_import_dialog_run_shows_run_view(bob, subscribed):
    pytest.importorskip("gallery_widgets.kernel.runtime.jobs")
    from gallery_widgets.widgets.jobs import JobView, RunView

    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace={})
    dialog.import_button.click()
    dialog.run_button.click()
    assert dialog.messages.text == "", dialog.messages.text
    view = dialog.run_view
    assert isinstance(view, RunView)
    assert dialog.run_area.children == (view,)
    view.wait(WAIT)
    assert view.run.status == "succeeded", view.rows["train"].error.value
    assert "Succeeded" in view.status.value
    assert view.progress.value == view.progress.max == 1
    row = view.rows["train"]
    assert "Succeeded" in row.status.value
    assert "gw-step-failed" not in row._dom_classes
    assert isinstance(row.job_view, JobView)
    job_view = row.job_view.wait(WAIT)
    assert "loss" in job_view.metrics.value and "0.25" in job_view.metrics.value
    assert "accuracy" in job_view.metrics.value
    assert "epoch 2 of 2" in job_view.logs.value
    assert job_view.progress.value == 1.0 and job_view.progress.bar_style == "success"


def test_u2_run_view_highlights_failed_step(bob, make_workflow):
    pytest.importorskip("gallery_widgets.kernel.runtime.jobs")
    asset = make_workflow("Failing pipeline", TRAIN_FAILS)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    dialog = ImportWorkflowDialog(bob, content_id=asset.content_id, namespace={})
    dialog.import_button.click()
    dialog.run_button.click()
    view = dialog.run_view.wait(WAIT)
    assert view.run.status == "failed"
    assert view.run.failed_step == "train"
    row = view.rows["train"]
    assert "gw-step-failed" in row._dom_classes
    assert "Failed" in row.status.value
    assert "Step 'train' failed" in view.messages.text
    job_view = row.job_view.wait(WAIT)
    assert "the data is empty" in job_view.error.value
    assert "about to fail" in job_view.logs.value
    assert job_view.progress.bar_style == "danger"
    assert job_view.cancel_button.layout.display == "none"


def test_u4_run_refused_after_cancel_inline(bob, subscribed):
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace={})
    dialog.import_button.click()
    bob.cancel_subscription(subscribed.content_id)
    dialog.run_button.click()
    assert "cancelled" in dialog.messages.text and "retrieve" in dialog.messages.text
    assert dialog.run_view is None




def test_w3_configure_an_imported_workflow_before_run(bob, subscribed, tmp_path):
    pytest.importorskip("gallery_widgets.kernel.runtime.jobs")
    dialog = ImportWorkflowDialog(bob, content_id=subscribed.content_id, namespace={})
    assert dialog.configure_button.layout.display == "none"
    dialog.import_button.click()
    dialog.configure_button.click()
    dialog.config_task.join(WAIT)
    config = dialog.config
    form = config.forms["train"]
    assert form.controls["epochs"].value == 2  # the workflow's value, not the manifest's default
    assert form.controls["lr"].value == 0.1 and form.controls["optimizer"].value == "sgd"
    assert "wired from the workflow" in form.input_states["data"].value  # empty: stays wired
    form.controls["lr"].value = 5.0
    assert "field 'lr' must be between 0.0 and 1.0" in form.errors["lr"]
    dialog.run_button.click()
    assert "Fix the step fields" in dialog.messages.text and dialog.run_view is None
    form.controls["lr"].value = 0.5
    form.controls["epochs"].value = 3
    assert config.params() == {"train": {"lr": 0.5, "epochs": 3}}
    dialog.run_button.click()
    view = dialog.run_view.wait(WAIT)
    assert view.run.status == "succeeded", view.rows["train"].error.value
    assert "epoch 2 of 3" in view.rows["train"].job_view.wait(WAIT).logs.value


def test_u3_workflow_run_refuses_params_for_an_unknown_step(bob, subscribed):
    imported = bob.import_workflow(subscribed.content_id)
    with pytest.raises(gw.InvalidInput, match="unknown step"):
        imported.run(params={"nope": {"lr": 0.5}})
    with pytest.raises(gw.InvalidInput, match="no step 'nope'"):
        imported.step_algorithm("nope")
