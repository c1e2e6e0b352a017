"""SPEC U2: training an imported algorithm — hyperparameters checked against the manifest
before anything starts, then a real job process that writes outputs, reports progress and
returns metrics; and ``Algorithm.from_function`` capturing a function from a test module and
from a real notebook cell (nbclient kernel)."""

from __future__ import annotations

import json
import math
import statistics
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import gallery_widgets as gw
from gallery_widgets.errors import InvalidInput

from conftest import write_algorithm

MANIFEST = """\
name: summer
entrypoint: train:main
hyperparameters:
  - {name: lr, type: float, default: 0.5, range: [0.0, 1.0]}
  - {name: epochs, type: int, default: 3, range: [1, 10]}
  - {name: optimizer, type: str, default: sgd, choices: [sgd, adam]}
  - {name: seed, type: int, required: true}
  - {name: verbose, type: bool, default: false}
inputs: [{name: data}]
outputs: [{name: model}, {name: report}]
"""

TRAIN = """\
import json

import gallery_widgets as gw


def main(params, inputs, outputs):
    numbers = [int(x) for x in (inputs["data"]).read_text().split()]
    for epoch in range(1, params["epochs"] + 1):
        gw.report(progress=epoch / params["epochs"], epoch=epoch, partial=sum(numbers[:epoch]))
        print(f"epoch {epoch} done")
    total = sum(numbers) * params["lr"]
    (outputs["model"] / "total.txt").write_text(repr(total))
    (outputs["report"] / "params.json").write_text(json.dumps(params, sort_keys=True))
    return {"total": total, "rows": len(numbers), "seed": params["seed"]}
"""


@pytest.fixture
def summer(alice, bob, tmp_path):
    """An algorithm alice publishes publicly and bob subscribed to and imported."""
    root = write_algorithm(tmp_path / "src" / "summer", manifest=MANIFEST)
    (root / "train.py").write_text(TRAIN)
    asset = alice.publish(gw.Algorithm.from_dir(root), title="Summer", visibility="public", agree=True)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    return bob.import_algorithm(asset.content_id)


@pytest.fixture
def numbers(tmp_path) -> Path:
    path = tmp_path / "numbers.txt"
    path.write_text("4\n5\n6\n7\n")
    return path


def snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize(
    "params, inputs, field",
    [
        ({"seed": 1, "learning_rate": 0.1}, None, "learning_rate"),
        ({"seed": 1, "epochs": "three"}, None, "epochs"),
        ({"seed": 1, "epochs": 2.5}, None, "epochs"),
        ({"seed": 1, "verbose": 1}, None, "verbose"),
        ({"seed": 1, "lr": 1.5}, None, "lr"),
        ({"seed": 1, "epochs": 0}, None, "epochs"),
        ({"seed": 1, "optimizer": "rmsprop"}, None, "optimizer"),
        ({}, None, "seed"),
        ({"seed": 1}, {}, "data"),
        ({"seed": 1}, {"data": "/surely/not/here.txt"}, "data"),
        ({"seed": 1}, {"extra": "x"}, "extra"),
    ],
    ids=["unknown", "wrong-type", "float-for-int", "int-for-bool", "above-range", "below-range", "not-a-choice",
         "missing-required", "missing-input", "input-not-found", "unknown-input"],
)
def test_u2_bad_hyperparameters_are_refused_by_name_before_a_job_starts(summer, numbers, tmp_path, params,
                                                                        inputs, field):
    jobs = tmp_path / "jobs"
    before = snapshot(jobs)
    with pytest.raises(InvalidInput, match=rf"\b{field}\b") as caught:
        summer.train(params, {"data": numbers} if inputs is None else inputs, output_dir=tmp_path / "out")
    assert "Traceback" not in str(caught.value)
    assert snapshot(jobs) == before
    assert not (tmp_path / "out").exists()


def test_u2_imported_algorithm_runs_as_a_job_with_outputs_progress_and_metrics(summer, numbers, tmp_path):
    job = summer.train({"seed": 7, "lr": 0.5, "epochs": 4}, {"data": numbers}, output_dir=tmp_path / "out")
    assert job.status in ("queued", "running", "succeeded")

    job.wait(60)

    assert job.status == "succeeded", job.logs
    assert job.progress == 1.0
    assert job.metrics == {"epoch": 4, "partial": 22, "total": 11.0, "rows": 4, "seed": 7}
    assert (tmp_path / "out" / "model" / "total.txt").read_text() == "11.0"
    assert json.loads((tmp_path / "out" / "report" / "params.json").read_text()) == {
        "epochs": 4, "lr": 0.5, "optimizer": "sgd", "seed": 7, "verbose": False}
    assert "epoch 4 done" in job.logs
    events = [json.loads(line) for line in (job.job_dir / "events.jsonl").read_text().splitlines()]
    assert [e["progress"] for e in events] == [0.25, 0.5, 0.75, 1.0]
    assert job.job_dir.parent == tmp_path / "jobs"
    assert [j.id for j in summer.jobs()] == [job.id]


def test_u2_default_output_folder_is_under_the_jobs_folder(summer, numbers, tmp_path):
    job = summer.train({"seed": 1}, {"data": numbers}).wait(60)
    assert job.status == "succeeded", job.logs
    assert job.outputs["model"].is_relative_to(tmp_path / "jobs")
    assert (job.outputs["model"] / "total.txt").read_text() == repr(22 * 0.5)


def test_u2_failing_algorithm_fails_its_job_not_the_kernel(alice, tmp_path):
    root = write_algorithm(tmp_path / "src" / "crash", "crash")
    (root / "train.py").write_text("def main(params, inputs, outputs):\n    raise RuntimeError('diverged at epoch 2')\n")
    asset = alice.publish(gw.Algorithm.from_dir(root), title="Crash", agree=True)
    data = tmp_path / "d.txt"
    data.write_text("x")
    job = alice.import_algorithm(asset.content_id).train({}, {"data": data}).wait(60)
    assert job.status == "failed"
    assert "diverged at epoch 2" in job.error


# --- from_function --------------------------------------------------------------------------------------

SCALE = 3
OPEN_LOG = None  # replaced by an open file in the test of uncapturable globals


def _scaled(values):
    return [value * SCALE for value in values]


def fit_mean(params, inputs, outputs):
    """Mean of the scaled numbers, times a factor."""
    values = [float(x) for x in inputs["data"].read_text().split()]
    mean = statistics.fmean(_scaled(values)) * params["factor"]
    (outputs["model"] / "mean.txt").write_text(repr(mean))
    gw.report(progress=1.0, seen=len(values))
    return {"mean": mean, "spread": statistics.pstdev(_scaled(values))}


def writes_to_open_log(params, inputs, outputs):
    OPEN_LOG.write("trained\n")


FUNCTION_OPTIONS = dict(name="fit-mean", hyperparameters={"factor": 2.0}, inputs=["data"], outputs=["model"])


def test_u2_from_function_published_and_imported_by_another_user_trains_the_same(alice, bob, numbers, tmp_path):
    local = gw.Algorithm.from_function(fit_mean, **FUNCTION_OPTIONS)
    source = local.files["train.py"].decode()
    assert "import statistics" in source and "import gallery_widgets as gw" in source
    assert "SCALE = 3" in source and "def _scaled" in source and "def fit_mean" in source
    assert local.manifest["description"] == "Mean of the scaled numbers, times a factor."
    local_job = local.train({"factor": 0.5}, {"data": numbers}, jobs_root=tmp_path / "local-jobs").wait(60)
    assert local_job.status == "succeeded", local_job.logs

    asset = alice.publish(local, title="Fit mean", visibility="public", agree=True)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    imported = bob.import_algorithm(asset.content_id)
    assert imported.entrypoint == "train:fit_mean"
    assert imported.hyperparameters[0]["name"] == "factor" and imported.hyperparameters[0]["type"] == "float"
    remote_job = imported.train({"factor": 0.5}, {"data": numbers}, output_dir=tmp_path / "out").wait(60)

    assert remote_job.status == "succeeded", remote_job.logs
    expected = statistics.fmean([12, 15, 18, 21]) * 0.5
    assert remote_job.metrics == local_job.metrics == {
        "mean": expected, "spread": statistics.pstdev([12, 15, 18, 21]), "seen": 4}
    assert (tmp_path / "out" / "model" / "mean.txt").read_text() == repr(expected)
    with pytest.raises(InvalidInput, match="factor"):
        imported.train({"factor": "big"}, {"data": numbers})


def test_u2_from_function_refuses_an_uncapturable_global_by_name(tmp_path, monkeypatch):
    handle = open(tmp_path / "log.txt", "w")
    try:
        monkeypatch.setattr(sys.modules[__name__], "OPEN_LOG", handle)
        with pytest.raises(InvalidInput, match="OPEN_LOG"):
            gw.Algorithm.from_function(writes_to_open_log, name="logger")
    finally:
        handle.close()


def test_u2_from_function_refuses_lambdas_and_non_functions():
    with pytest.raises(InvalidInput, match="lambda"):
        gw.Algorithm.from_function(lambda params, inputs, outputs: None)
    with pytest.raises(InvalidInput, match="function"):
        gw.Algorithm.from_function(print)


write_text = None  # a notebook variable that shares its name with an attribute fit_mean uses


class Normaliser:
    """A helper class whose method needs an import the entrypoint itself does not use."""

    def __init__(self, values):
        self.values = values

    def norm(self):
        return math.sqrt(sum(v * v for v in self.values))


def fit_norm(params, inputs, outputs):
    values = [float(x) for x in inputs["data"].read_text().split()]
    return {"norm": Normaliser(values).norm()}


def test_u2_from_function_ignores_attribute_names_that_match_notebook_variables(tmp_path, monkeypatch):
    handle = open(tmp_path / "other.txt", "w")
    try:
        monkeypatch.setattr(sys.modules[__name__], "write_text", handle)
        algo = gw.Algorithm.from_function(fit_mean, **FUNCTION_OPTIONS)  # .write_text is an attribute only
    finally:
        handle.close()
    assert "write_text =" not in algo.files["train.py"].decode()


def test_u2_from_function_captures_what_a_helper_class_uses(numbers, tmp_path):
    algo = gw.Algorithm.from_function(fit_norm, inputs=["data"])
    assert "import math" in algo.files["train.py"].decode()
    job = algo.train({}, {"data": numbers}, jobs_root=tmp_path / "jobs").wait(60)
    assert job.status == "succeeded", job.error
    assert job.metrics == {"norm": math.sqrt(16 + 25 + 36 + 49)}


NOTEBOOK_CELLS = [
    "import json\nimport statistics\nimport gallery_widgets as gw\nSCALE = 3",
    "def helper(values):\n    return [v * SCALE for v in values]",
    textwrap.dedent("""\
        def nb_mean(params, inputs, outputs):
            values = [float(x) for x in inputs["data"].read_text().split()]
            mean = statistics.fmean(helper(values)) * params["factor"]
            (outputs["model"] / "mean.txt").write_text(repr(mean))
            return {"mean": mean}"""),
    textwrap.dedent("""\
        g = gw.open()
        algo = gw.Algorithm.from_function(nb_mean, name="nb-mean", hyperparameters={"factor": 2.0},
                                          inputs=["data"], outputs=["model"])
        asset = g.publish(algo, title="Notebook mean", visibility="public", agree=True)
        job = g.import_algorithm(asset.content_id).train({"factor": 0.5}, {"data": DATA}).wait(60)
        print(json.dumps({"cid": asset.content_id, "user": g.username, "status": job.status,
                          "metrics": job.metrics, "source": algo.files["train.py"].decode()}))"""),
]


def test_u2_from_function_captures_a_real_notebook_cell(tmp_path, numbers, monkeypatch):
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path))
    monkeypatch.setenv("GALLERY_USER", "alice")
    monkeypatch.delenv("GALLERY_ARTIFACTS", raising=False)
    cells = list(NOTEBOOK_CELLS)
    cells[0] += f"\nDATA = {str(numbers)!r}"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(notebook, tmp_path / "capture.ipynb")

    client = NotebookClient(nbformat.read(tmp_path / "capture.ipynb", as_version=4), timeout=120,
                            kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    executed = client.execute()

    outputs = executed.cells[-1].outputs
    assert [o.output_type for o in outputs] == ["stream"], outputs
    result = json.loads(outputs[0].text)
    assert result["user"] == "alice" and result["status"] == "succeeded"
    assert "SCALE = 3" in result["source"] and "def helper" in result["source"]
    assert "import statistics" in result["source"] and "json" not in result["source"]
    expected = statistics.fmean([12, 15, 18, 21]) * 0.5
    assert result["metrics"] == {"mean": expected}

    bob = gw.open(f"sqlite:///{tmp_path / 'gallery.db'}", user="bob")
    try:
        bob.subscribe(result["cid"], accept_constraints=True, accept_agreements=True)
        job = bob.import_algorithm(result["cid"]).train({"factor": 0.5}, {"data": numbers}).wait(60)
        assert job.status == "succeeded", job.logs
        assert job.metrics == result["metrics"]
    finally:
        bob.close()
