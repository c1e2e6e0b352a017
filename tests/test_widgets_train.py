"""Rule W3: the Train form is generated from the algorithm's manifest, checks each field with the
same messages train() gives, and Start shows the job in a JobView. Real jobs, real processes."""

from __future__ import annotations

import html

import ipywidgets as w
import pytest
from conftest import write_algorithm

import gallery_widgets as gw
from gallery_widgets.widgets.train import TrainForm

WAIT = 120

MANY = "\n".join(
    ["name: many", "entrypoint: train:main", "hyperparameters:"]
    + [f"  - {{name: p{i}, type: float, default: 0.5, range: [0.0, 1.0]}}" for i in range(17)]
    + ["  - {name: flag, type: bool, default: true}",
       "  - {name: label, type: str}",
       "  - {name: size, type: int, required: true}",
       "inputs: [{name: data}]", "outputs: [{name: model}, {name: report}]"]
) + "\n"


@pytest.fixture
def backend():
    return "sqlite"


@pytest.fixture
def algo(tmp_path):
    return gw.Algorithm.from_dir(write_algorithm(tmp_path / "src", "train-me"))


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1\n2\n")
    return path


def test_w3_train_form_controls_follow_the_manifest(algo):
    form = TrainForm(algo)
    controls = form.params_form.controls
    assert isinstance(controls["lr"], w.FloatText) and controls["lr"].value == 0.1
    assert isinstance(controls["epochs"], w.IntText) and controls["epochs"].value == 2
    assert controls["epochs"].description == "epochs *"  # required is marked
    assert isinstance(controls["optimizer"], w.Dropdown)
    assert [v for _, v in controls["optimizer"].options] == ["sgd", "adam"]
    assert controls["optimizer"].value == "sgd"
    assert "data" in form.params_form.input_paths
    assert "does not exist" not in form.params_form.input_states["data"].value  # empty: "no path yet"
    assert form.start_button.disabled  # the required input is missing


def test_w3_train_form_checks_each_field_with_the_service_messages(algo, data, tmp_path):
    form = TrainForm(algo)
    params = form.params_form
    params.controls["lr"].value = 3.0
    assert "field 'lr' must be between 0.0 and 1.0, not 3.0" in params.errors["lr"]
    assert params.errors["lr"] in html.unescape(params.notes["lr"].value)  # shown next to the field
    assert form.start_button.disabled
    params.controls["lr"].value = 0.2
    assert params.errors["lr"] == ""
    params.input_paths["data"].value = str(tmp_path / "missing.csv")
    assert "does not exist" in params.input_states["data"].value
    params.input_paths["data"].value = str(data)
    assert "file exists" in params.input_states["data"].value
    assert not form.start_button.disabled
    form.output_dir.value = str(tmp_path)
    assert "folder exists" in form.output_state.value
    form.output_dir.value = str(tmp_path / "new-out")
    assert "will be created" in form.output_state.value


def test_w3_train_form_text_fields_for_numbers_without_default(tmp_path):
    source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "many", "many", manifest=MANY))
    form = TrainForm(source)
    size = form.params_form.controls["size"]
    assert isinstance(size, w.Text) and size.description == "size *"
    assert isinstance(form.params_form.controls["flag"], w.Checkbox)
    form.params_form.check_all()
    assert "field 'size' is required" in form.params_form.errors["size"]
    size.value = "many"
    assert "must be of type int" in form.params_form.errors["size"]
    size.value = "7"
    assert form.params_form.errors["size"] == ""
    assert form.params_form.params()["size"] == 7 and "label" not in form.params_form.params()


def test_w3_train_form_start_shows_the_job(algo, data, tmp_path):
    form = TrainForm(algo, output_dir=str(tmp_path / "out"))
    form.params_form.input_paths["data"].value = str(data)
    form.params_form.controls["optimizer"].value = "adam"
    form.start_button.click()
    assert form.messages.text.startswith("Started job"), form.messages.text
    view = form.job_view.wait(WAIT)
    assert form.job_area.children == (view,)
    assert view.job.status == "succeeded" and "Succeeded" in view.status.value
    assert "loss" in view.metrics.value
    assert (tmp_path / "out" / "model").is_dir()


def test_w3_train_form_for_an_imported_algorithm_refuses_after_cancel(alice, bob, publish, make_source, data):
    asset = publish(alice, "Trainable", source=make_source("trainable"))
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    form = TrainForm(bob.import_algorithm(asset.content_id))
    form.params_form.input_paths["data"].value = str(data)
    bob.cancel_subscription(asset.content_id)
    form.start_button.click()
    assert "cancelled" in form.messages.text and form.job is None
