"""SPEC §6 layers: the service core never loads the kernel side (or widgets), the kernel
side never loads the SQL store, and importing, training and running go through the
public ``GalleryService`` calls only.

``interface_only`` wraps a gallery in a ``GalleryService`` that forwards each call of the
interface, by name, and has nothing else (no ``_db``, no private core methods): if the
kernel-side layer reached past the interface, these tests would fail with an
AttributeError. A REST client runs the same tests by being that service.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gallery_widgets as gw
from gallery_widgets.errors import SubscriptionRequired
from gallery_widgets.kernel.facade import KernelSide
from gallery_widgets.service import GalleryService

from conftest import write_algorithm

LAYER_PROBE = """
import importlib, pkgutil, sys
import gallery_widgets

def load_all(package):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)

for name in {packages!r}:
    load_all(name) if name.endswith(("core", "kernel")) else importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("gallery_widgets", "sqlalchemy", "ipywidgets",
                                                             "alembic", "psycopg"))
print(" ".join(loaded))
"""


def loaded_modules(*packages: str) -> set[str]:
    code = LAYER_PROBE.format(packages=packages)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY_")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_layers_core_never_loads_the_kernel_side_or_widgets():
    loaded = loaded_modules("gallery_widgets.core")
    assert "gallery_widgets.core.sql_gallery" in loaded and "sqlalchemy" in loaded  # the probe did load the core
    leaks = {m for m in loaded if m.startswith(("gallery_widgets.kernel", "gallery_widgets.widgets", "ipywidgets"))}
    leaks |= loaded & {"gallery_widgets.workflow", "gallery_widgets.gallery", "gallery_widgets.demo"}
    assert leaks == set()


def test_layers_kernel_side_never_loads_the_store():
    loaded = loaded_modules("gallery_widgets.kernel", "gallery_widgets.workflow", "gallery_widgets.service")
    assert "gallery_widgets.kernel.facade" in loaded and "gallery_widgets.kernel.runtime.jobs" in loaded
    leaks = {m for m in loaded if m.startswith(("sqlalchemy", "alembic", "psycopg", "gallery_widgets.core",
                                                "gallery_widgets.store", "ipywidgets", "gallery_widgets.widgets"))}
    assert leaks == set()


def test_layers_the_interface_module_is_plain_data():
    loaded = loaded_modules("gallery_widgets.service")
    assert {m for m in loaded if m.startswith("gallery_widgets.")} <= {
        "gallery_widgets.service", "gallery_widgets.entities", "gallery_widgets.errors"}


# -- the kernel side over nothing but the interface -------------------------------------------------
def interface_only(gallery: GalleryService, kernel_home: Path, calls: list[str]):
    """A ``KernelSide`` over a service that has exactly the interface's calls (forwarded to
    ``gallery``) and records their names."""

    def forward(name):
        def call(self, *args, **kwargs):
            calls.append(name)
            return getattr(gallery, name)(*args, **kwargs)

        call.__name__ = name
        return call

    namespace = {}
    for name in GalleryService.__abstractmethods__:
        if isinstance(getattr(GalleryService, name), property):
            namespace[name] = property(lambda self, n=name: (calls.append(n), getattr(gallery, n))[1])
        else:
            namespace[name] = forward(name)
    namespace["username"] = gallery.username
    namespace["kernel_home"] = property(lambda self: kernel_home)
    service = type("InterfaceOnly", (KernelSide, GalleryService), namespace)
    return service()


@pytest.fixture
def through_interface(tmp_path):
    """``through_interface(g)`` → (the same user's gallery seen only through the interface, its call log)."""

    def wrap(gallery):
        calls: list[str] = []
        return interface_only(gallery, tmp_path / f"kernel-{gallery.username}", calls), calls

    return wrap


TRAIN = """\
def main(params, inputs, outputs):
    numbers = [int(x) for x in inputs["data"].read_text().split()]
    (outputs["model"] / "total.txt").write_text(str(sum(numbers) * params["epochs"]))
    return {"total": sum(numbers) * params["epochs"]}
"""

MODEL = """\
class Doubler:
    def predict(self, values):
        return [2 * v for v in values]


def load(folder):
    return Doubler()
"""


def algorithm_source(tmp_path: Path) -> gw.Algorithm:
    root = write_algorithm(tmp_path / "src" / "summer", "summer")
    (root / "train.py").write_text(TRAIN)
    return gw.Algorithm.from_dir(root)


def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "numbers.txt"
    path.write_text("1\n2\n3\n")
    return path


def test_u1_u2_publish_import_and_train_through_the_interface_only(alice, bob, tmp_path, through_interface):
    publisher, _ = through_interface(alice)
    asset = publisher.publish(algorithm_source(tmp_path), title="Summer", visibility="public", agree=True)
    assert isinstance(asset, gw.Asset)
    publisher.edit_asset(asset.content_id, code_open=True)  # so the handle shows its folder
    subscriber, calls = through_interface(bob)
    subscriber.subscribe(asset.content_id, accept_agreements=True)

    imported = subscriber.import_algorithm(asset.content_id)
    assert imported.folder.is_relative_to(tmp_path / "kernel-bob" / "cache")
    assert {"usable_version", "open_artifact", "record_import"} <= set(calls)
    job = imported.train({"epochs": 3}, {"data": data_file(tmp_path)}, output_dir=tmp_path / "out").wait(60)
    assert job.status == "succeeded", job.error
    assert job.metrics["total"] == 18
    assert "check_usable" in calls

    calls.clear()
    again = subscriber.import_algorithm(asset.content_id)
    assert again.folder == imported.folder and "open_artifact" not in calls  # cached: nothing transferred

    subscriber.cancel_subscription(asset.content_id)
    with pytest.raises(SubscriptionRequired, match="retrieve"):
        imported.train({"epochs": 1}, {"data": data_file(tmp_path)})


def test_u6_import_a_model_through_the_interface_only(alice, bob, tmp_path, through_interface):
    root = tmp_path / "model"
    root.mkdir()
    (root / "model.yaml").write_text("name: doubler\nloader: model:load\n")
    (root / "model.py").write_text(MODEL)
    asset = alice.publish(gw.Model.from_dir(root), title="Doubler", visibility="public", agree=True)
    subscriber, calls = through_interface(bob)
    subscriber.subscribe(asset.content_id, accept_agreements=True)
    assert subscriber.import_model(asset.content_id).predict([1, 4]) == [2, 8]
    assert calls.count("open_artifact") == 1


def test_u3_import_and_run_a_workflow_through_the_interface_only(alice, bob, tmp_path, through_interface):
    publisher, _ = through_interface(alice)
    workflow = gw.Workflow("summing", steps=[
        gw.Step("sum", algorithm_source(tmp_path), params={"epochs": 2}, inputs={"data": str(data_file(tmp_path))}),
    ])
    asset = publisher.release_workflow(workflow, title="Summing", visibility="public")
    subscriber, calls = through_interface(bob)
    subscriber.subscribe(asset.content_id, accept_agreements=True)

    imported = subscriber.import_workflow(asset.content_id, name="daily")
    assert [w.name for w in subscriber.workflows()] == ["daily"]
    run = subscriber.workflow("daily").run().wait(60)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}
    assert run.jobs["sum"].metrics["total"] == 12
    assert {"usable_version", "add_workspace_workflow", "workspace_workflows", "workspace_workflow",
            "check_usable", "open_artifact"} <= set(calls)
    assert imported.name == "daily"


def test_p6_release_to_gallery_acts_on_the_gallery_given(alice, tmp_path, through_interface):
    publisher, calls = through_interface(alice)
    workflow = gw.Workflow("given", steps=[gw.Step("only", algorithm_source(tmp_path), inputs={"data": "x"})])
    asset = workflow.release_to_gallery(title="Given", gallery=publisher)
    assert calls == ["publish"] and asset.title == "Given"


def test_layers_a_fresh_process_imports_a_cached_algorithm(alice, bob, tmp_path, publish, gallery_url):
    """``gw.open(); g.import_algorithm(cid)`` in a new kernel reuses the unpacked cache (U7)."""
    asset = publish(alice, "Cached")
    alice.edit_asset(asset.content_id, code_open=True)  # so the handle shows its folder
    bob.subscribe(asset.content_id, accept_agreements=True)
    folder = bob.import_algorithm(asset.content_id).folder
    script = textwrap.dedent(f"""
        import sys
        import gallery_widgets as gw
        g = gw.open({gallery_url!r}, user="bob", artifacts={str(tmp_path / "artifacts")!r})
        print(g.import_algorithm({asset.content_id!r}).folder)
        print("ipywidgets" in sys.modules, "gallery_widgets.kernel.runtime.jobs" in sys.modules)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY_")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout.split("\n")
    assert out[0] == str(folder)
    assert out[1] == "False False"  # no widgets, and no job machinery until a job starts
