"""SPEC U1, U4, U5, U6, U7: importing subscribed algorithms and models into the kernel.

Everything is real: the gallery database (SQLite file / PostgreSQL), the artifact folder
on disk, the local cache, and training jobs as separate processes.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

import gallery_widgets as gw
from gallery_widgets.kernel import extract
from gallery_widgets.artifacts import sha256
from gallery_widgets.errors import (
    GalleryError,
    InvalidInput,
    PermissionDenied,
    SubscriptionRequired,
)
from gallery_widgets.store.schema import ImportRow, VersionRow

from conftest import write_algorithm

RICH_MANIFEST = """\
name: rich-algo
entrypoint: train:main
description: sums numbers
hyperparameters:
  - {name: lr, type: float, default: 0.1, range: [0.0, 1.0], description: learning rate}
  - {name: epochs, type: int, default: 2, required: true, description: passes}
  - {name: optimizer, type: str, default: sgd, choices: [sgd, adam]}
  - {name: shuffle, type: bool, default: true}
inputs: [{name: data, description: numbers one per line}]
outputs: [{name: model, description: the fitted total}]
requirements: ['pyyaml>=5.1']
"""

RICH_TRAIN = """\
def main(params, inputs, outputs):
    numbers = [int(x) for x in inputs["data"].read_text().split()]
    (outputs["model"] / "total.txt").write_text(str(sum(numbers)))
    return {"total": sum(numbers), "epochs": params["epochs"]}
"""


def rich_source(tmp_path: Path, name: str = "rich") -> gw.Algorithm:
    root = write_algorithm(tmp_path / "src" / name, manifest=RICH_MANIFEST)
    (root / "train.py").write_text(RICH_TRAIN)
    (root / "helpers").mkdir()
    (root / "helpers" / "util.py").write_text("def twice(x):\n    return 2 * x\n")
    return gw.Algorithm.from_dir(root)


def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "numbers.txt"
    path.write_text("1\n2\n3\n4\n")
    return path


def subscribe(g, content_id):
    return g.subscribe(content_id, accept_constraints=True, accept_agreements=True)


def artifact_path(tmp_path: Path, digest: str) -> Path:
    return tmp_path / "artifacts" / "sha256" / digest[:2] / digest[2:]


def import_count(g, digest: str) -> int:
    with g._db.read() as s:
        return s.scalar(select(func.count()).select_from(ImportRow)
                        .join(VersionRow, VersionRow.id == ImportRow.version_id).where(VersionRow.digest == digest))


# --- U1 -------------------------------------------------------------------------------------------------


def test_u1_import_algorithm_returns_the_full_manifest(alice, bob, tmp_path):
    asset = alice.publish(rich_source(tmp_path), title="Rich", visibility="public", agree=True)
    subscribe(bob, asset.content_id)

    algo = bob.import_algorithm(asset.content_id)

    assert (algo.content_id, algo.title, algo.version) == (asset.content_id, "Rich", "1.0.0")
    assert algo.manifest["entrypoint"] == algo.entrypoint == "train:main"
    params = {p["name"]: p for p in algo.hyperparameters}
    assert list(params) == ["lr", "epochs", "optimizer", "shuffle"]
    assert params["lr"]["type"] == "float" and params["lr"]["default"] == 0.1
    assert params["lr"]["range"] == [0.0, 1.0] and params["lr"]["description"] == "learning rate"
    assert params["lr"]["required"] is False
    assert params["epochs"]["type"] == "int" and params["epochs"]["required"] is True
    assert params["optimizer"]["choices"] == ["sgd", "adam"] and params["optimizer"]["default"] == "sgd"
    assert params["shuffle"]["type"] == "bool" and params["shuffle"]["default"] is True
    assert algo.inputs == [{"name": "data", "description": "numbers one per line"}]
    assert algo.outputs == [{"name": "model", "description": "the fitted total"}]
    assert algo.requirements == ["pyyaml>=5.1"]
    assert algo.unmet_constraints == ()


def test_u1_closed_code_hides_module_and_files_but_still_trains(alice, bob, tmp_path):
    asset = alice.publish(rich_source(tmp_path), title="Rich", visibility="public", agree=True)
    assert alice.asset(asset.content_id).code_open is False  # the default
    subscribe(bob, asset.content_id)
    algo = bob.import_algorithm(asset.content_id)

    with pytest.raises(PermissionDenied, match="not open"):
        algo.module
    with pytest.raises(PermissionDenied):
        algo.files
    with pytest.raises(PermissionDenied):
        algo.preview()

    job = algo.train({"epochs": 3}, {"data": data_file(tmp_path)}, output_dir=tmp_path / "out").wait(60)
    assert job.status == "succeeded", job.logs
    assert job.metrics == {"total": 10, "epochs": 3}
    assert (tmp_path / "out" / "model" / "total.txt").read_text() == "10"


def test_u1_open_code_shows_module_files_and_preview(alice, bob, tmp_path):
    asset = alice.publish(rich_source(tmp_path), title="Rich", visibility="public", agree=True)
    alice.edit_asset(asset.content_id, code_open=True, license="MIT")
    subscribe(bob, asset.content_id)

    algo = bob.import_algorithm(asset.content_id)

    assert set(algo.files) == {"algorithm.yaml", "train.py", "helpers/util.py"}
    assert algo.preview() == RICH_TRAIN
    assert "def twice" in algo.preview("helpers/util.py")
    with pytest.raises(InvalidInput, match="no file"):
        algo.preview("missing.py")
    assert callable(algo.module.main)
    assert algo.module.main.__module__ != "train"  # loaded under a private name, not shadowing user modules


def test_p4_an_unpacked_artifact_packs_back_to_the_same_archive(alice, bob, tmp_path):
    """Publishing again from an imported (unpacked) folder must not carry the cache's own
    marker file into the archive: the new version imports like any other."""
    asset = alice.publish(rich_source(tmp_path), title="Rich", visibility="public", agree=True)
    alice.edit_asset(asset.content_id, code_open=True, license="MIT")
    original = alice.import_algorithm(asset.content_id)
    again = gw.Algorithm.from_dir(original.folder)

    assert sha256(again.pack()) == sha256(rich_source(tmp_path / "again").pack())
    alice.add_version(asset.content_id, again, version="2.0.0", agree=True)
    subscribe(bob, asset.content_id)
    assert set(bob.import_algorithm(asset.content_id, version="2.0.0").files) == {
        "algorithm.yaml", "train.py", "helpers/util.py"}


def test_u1_publisher_sees_the_code_even_when_closed(alice, tmp_path):
    asset = alice.publish(rich_source(tmp_path), title="Rich", agree=True)
    algo = alice.import_algorithm(asset.content_id)
    assert "train.py" in algo.files
    assert "def main" in algo.preview()
    assert callable(algo.module.main)


def test_u1_package_entrypoint_module_and_preview(alice, tmp_path):
    root = write_algorithm(tmp_path / "src" / "pkg", manifest="name: pkg-algo\nentrypoint: trainer:main\n")
    (root / "train.py").unlink()
    (root / "trainer").mkdir()
    (root / "trainer" / "__init__.py").write_text("from .core import main\n")
    (root / "trainer" / "core.py").write_text("def main(params, inputs, outputs):\n    return {'ok': 1}\n")
    asset = alice.publish(gw.Algorithm.from_dir(root), title="Package", agree=True)

    algo = alice.import_algorithm(asset.content_id)

    assert algo.preview() == "from .core import main\n"
    assert algo.module.main({}, {}, {}) == {"ok": 1}
    assert set(algo.files) == {"algorithm.yaml", "trainer/__init__.py", "trainer/core.py"}
    assert algo.train().wait(60).metrics == {"ok": 1}


def test_u1_import_of_a_model_asset_as_algorithm_is_refused(alice, tmp_path):
    asset = alice.publish(gw.Model.from_dir(write_model(tmp_path / "m")), title="Model", agree=True)
    with pytest.raises(InvalidInput, match="import_model"):
        alice.import_algorithm(asset.content_id)


# --- default version --------------------------------------------------------------------------------


def test_u3_default_version_is_the_latest_normal_one(alice, bob, tmp_path, make_source):
    asset = alice.publish(make_source(), title="Versions", visibility="public", agree=True)
    alice.add_version(asset.content_id, make_source(extra_files={"notes.txt": "v2"}), agree=True)
    subscribe(bob, asset.content_id)
    assert bob.import_algorithm(asset.content_id).version == "1.0.1"

    alice.discontinue_version(asset.content_id, "1.0.1")

    assert bob.import_algorithm(asset.content_id).version == "1.0.0"
    assert bob.import_algorithm(asset.content_id, "1.0.0").version == "1.0.0"
    with pytest.raises(gw.NotFound, match="1.0.1"):
        bob.import_algorithm(asset.content_id, "1.0.1")


def test_u3_default_version_is_the_latest_one_the_user_is_whitelisted_on(alice, bob, make_source):
    asset = alice.publish(make_source(), title="Group algo", visibility="group", group_users=["bob"], agree=True)
    alice.add_version(asset.content_id, make_source(extra_files={"notes.txt": "v2"}), agree=True)
    alice.add_whitelist_users(asset.content_id, "1.0.1", ["carol"])
    alice.delete_whitelist_users(asset.content_id, "1.0.1", ["bob"])
    subscribe(bob, asset.content_id)

    assert bob.import_algorithm(asset.content_id).version == "1.0.0"
    with pytest.raises(gw.NotFound):
        bob.import_algorithm(asset.content_id, "1.0.1")


# --- U4 ---------------------------------------------------------------------------------------------


def test_u4_not_subscribed_says_subscribe(alice, bob, publish):
    asset = publish(alice, "Needs a subscription")
    with pytest.raises(SubscriptionRequired, match=r"(?i)subscribe") as caught:
        bob.import_algorithm(asset.content_id)
    assert asset.content_id in str(caught.value)


def test_u4_cancelled_says_retrieve(alice, bob, publish):
    asset = publish(alice, "Cancelled")
    subscribe(bob, asset.content_id)
    bob.cancel_subscription(asset.content_id)
    with pytest.raises(SubscriptionRequired, match=r"retrieve"):
        bob.import_algorithm(asset.content_id)
    bob.retrieve_subscription(asset.content_id)
    assert bob.import_algorithm(asset.content_id).version == "1.0.0"


def test_u4_expired_says_renew(alice, bob, publish, clock):
    asset = publish(alice, "Seven days", duration=gw.Duration(7))
    subscribe(bob, asset.content_id)
    clock.advance(days=6)
    bob.import_algorithm(asset.content_id)  # still within the quota
    clock.advance(days=2)
    with pytest.raises(SubscriptionRequired, match=r"renew"):
        bob.import_algorithm(asset.content_id)
    subscribe(bob, asset.content_id)  # renewing makes it usable again
    bob.import_algorithm(asset.content_id)


def test_u4_discontinued_asset_keeps_working_for_its_subscribers(alice, bob, carol, publish):
    asset = publish(alice, "Retiring")
    subscribe(bob, asset.content_id)
    alice.discontinue(asset.content_id)

    assert bob.import_algorithm(asset.content_id).version == "1.0.0"
    with pytest.raises(gw.NotFound):
        carol.import_algorithm(asset.content_id)


def test_u4_subscription_cancelled_after_import_stops_train(alice, bob, tmp_path):
    asset = alice.publish(rich_source(tmp_path), title="Rich", visibility="public", agree=True)
    subscribe(bob, asset.content_id)
    algo = bob.import_algorithm(asset.content_id)
    bob.cancel_subscription(asset.content_id)
    jobs = tmp_path / "jobs"

    with pytest.raises(SubscriptionRequired, match="retrieve"):
        algo.train({"epochs": 1}, {"data": data_file(tmp_path)})
    assert not jobs.exists() or not any(jobs.iterdir())


def test_u4_expiry_after_import_stops_train(alice, bob, tmp_path, clock):
    asset = alice.publish(rich_source(tmp_path), title="Rich", visibility="public", duration=3, agree=True)
    subscribe(bob, asset.content_id)
    algo = bob.import_algorithm(asset.content_id)
    clock.advance(days=4)
    with pytest.raises(SubscriptionRequired, match="renew"):
        algo.train({"epochs": 1}, {"data": data_file(tmp_path)})


def test_u4_publisher_needs_no_subscription(alice, tmp_path):
    asset = alice.publish(rich_source(tmp_path), title="Rich", agree=True)
    algo = alice.import_algorithm(asset.content_id)
    job = algo.train({"epochs": 1}, {"data": data_file(tmp_path)}).wait(60)
    assert job.status == "succeeded", job.logs
    assert job.metrics["total"] == 10


# --- U5 ---------------------------------------------------------------------------------------------

CONSTRAINTS = {
    "python": ("python: '<3.0'", "python <3.0"),
    "requirement": ("requirements: ['surely-not-installed-pkg>=1']", "surely-not-installed-pkg>=1"),
    "gpu": ("resources: {gpu: 1}", "gpu: 1"),
}


def constrained_source(tmp_path: Path, *lines: str) -> gw.Algorithm:
    manifest = "name: constrained\nentrypoint: train:main\n" + "".join(line + "\n" for line in lines)
    return gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "constrained", manifest=manifest))


@pytest.mark.parametrize("which", list(CONSTRAINTS))
def test_u5_unmet_constraint_warns_by_name_and_raises_on_request(alice, bob, tmp_path, which):
    line, named = CONSTRAINTS[which]
    asset = alice.publish(constrained_source(tmp_path, line), title="Constrained", visibility="public", agree=True)
    subscribe(bob, asset.content_id)

    with pytest.warns(UserWarning, match=named.replace("[", r"\[")) as caught:
        algo = bob.import_algorithm(asset.content_id)
    assert len(caught) == 1
    assert any(named in problem for problem in algo.unmet_constraints)

    with pytest.raises(InvalidInput, match=named.replace("[", r"\[")):
        bob.import_algorithm(asset.content_id, check_constraints="raise")


def test_u5_every_unmet_constraint_is_named_in_one_report(alice, tmp_path):
    asset = alice.publish(constrained_source(tmp_path, *(line for line, _ in CONSTRAINTS.values())),
                          title="All constraints", agree=True)
    with pytest.warns(UserWarning) as caught:
        algo = alice.import_algorithm(asset.content_id)
    message = str(caught[0].message)
    for _, named in CONSTRAINTS.values():
        assert named in message
    assert len(algo.unmet_constraints) == 3
    with pytest.raises(InvalidInput) as refused:
        alice.import_algorithm(asset.content_id, check_constraints="raise")
    for _, named in CONSTRAINTS.values():
        assert named in str(refused.value)


def test_u5_met_constraints_import_silently(alice, tmp_path):
    asset = alice.publish(constrained_source(tmp_path, "python: '>=3.8'", "requirements: ['pyyaml>=5.1']",
                                             "resources: {cpu: 1}"), title="Easy", agree=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        algo = alice.import_algorithm(asset.content_id, check_constraints="raise")
    assert algo.unmet_constraints == ()


def test_u5_bad_check_constraints_mode_is_refused(alice, publish):
    asset = publish(alice)
    with pytest.raises(InvalidInput, match="check_constraints"):
        alice.import_algorithm(asset.content_id, check_constraints="sometimes")


# --- U6 ---------------------------------------------------------------------------------------------

MODEL_CODE = """\
import json
from pathlib import Path


class Scaler:
    def __init__(self, factor):
        self.factor = factor

    def predict(self, values):
        return [v * self.factor for v in values]


def load(folder):
    return Scaler(json.loads((Path(folder) / "weights.json").read_text())["factor"])


def load_nothing(folder):
    return {"factor": 3}
"""


def write_model(root: Path, loader: str = "model:load") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.yaml").write_text(f"name: scaler\nloader: {loader}\nrequirements: ['pyyaml>=5.1']\n")
    (root / "model.py").write_text(MODEL_CODE)
    (root / "weights.json").write_text('{"factor": 3}')
    return root


def test_u6_import_model_returns_the_loaders_predictor(alice, bob, tmp_path):
    asset = alice.publish(gw.Model.from_dir(write_model(tmp_path / "model")), title="Scaler",
                          visibility="public", agree=True)
    subscribe(bob, asset.content_id)

    predictor = bob.import_model(asset.content_id)

    assert type(predictor).__name__ == "Scaler"
    assert predictor.predict([1, 2, 5]) == [3, 6, 15]


def test_u6_model_needs_a_subscription_too(alice, bob, tmp_path):
    asset = alice.publish(gw.Model.from_dir(write_model(tmp_path / "model")), title="Scaler",
                          visibility="public", agree=True)
    with pytest.raises(SubscriptionRequired, match="(?i)subscribe"):
        bob.import_model(asset.content_id)


def test_u6_loader_without_predict_is_refused(alice, tmp_path):
    asset = alice.publish(gw.Model.from_dir(write_model(tmp_path / "model", "model:load_nothing")),
                          title="No predict", agree=True)
    with pytest.raises(InvalidInput, match="predict"):
        alice.import_model(asset.content_id)
    assert import_count(alice, alice.asset(asset.content_id).versions[0].digest) == 0


def test_u6_import_model_of_an_algorithm_is_refused(alice, publish):
    asset = publish(alice)
    with pytest.raises(InvalidInput, match="import_algorithm"):
        alice.import_model(asset.content_id)


def sibling_model(root: Path, factor: int) -> gw.Model:
    """A model whose loader imports a sibling module ``scale.py`` (a name many artifacts share)."""
    root.mkdir(parents=True)
    (root / "model.yaml").write_text("name: sibling\nloader: model:load\n")
    (root / "model.py").write_text(textwrap.dedent("""\
        from scale import FACTOR


        class Predictor:
            def predict(self, values):
                import scale  # imported again at predict time, from the same artifact
                return [v * FACTOR + 0 * scale.FACTOR for v in values]


        def load(folder):
            return Predictor()
    """))
    (root / "scale.py").write_text(f"FACTOR = {factor}\n")
    return gw.Model.from_dir(root)


def test_u6_each_version_loads_its_own_sibling_modules(alice, bob, tmp_path):
    asset = alice.publish(sibling_model(tmp_path / "v1", 2), title="Sibling", visibility="public", agree=True)
    alice.add_version(asset.content_id, sibling_model(tmp_path / "v2", 3), agree=True)
    other = alice.publish(sibling_model(tmp_path / "other", 5), title="Other", visibility="public", agree=True)
    subscribe(bob, asset.content_id)
    subscribe(bob, other.content_id)

    v1 = bob.import_model(asset.content_id, "1.0.0")
    v2 = bob.import_model(asset.content_id, "1.0.1")
    third = bob.import_model(other.content_id)

    assert v1.predict([1, 10]) == [2, 20]
    assert v2.predict([1, 10]) == [3, 30]
    assert third.predict([1]) == [5]
    assert bob.import_model(asset.content_id, "1.0.0").predict([1]) == [2]


def test_u1_module_of_each_version_uses_its_own_sibling_modules(alice, tmp_path):
    def version(name, factor):
        root = write_algorithm(tmp_path / "src" / name, "sibling-algo")
        (root / "train.py").write_text("from scale import FACTOR\n\ndef main(params, inputs, outputs):\n"
                                       "    return {'factor': FACTOR}\n")
        (root / "scale.py").write_text(f"FACTOR = {factor}\n")
        return gw.Algorithm.from_dir(root)

    asset = alice.publish(version("v1", 2), title="Sibling algo", agree=True)
    alice.add_version(asset.content_id, version("v2", 3), agree=True)

    assert alice.import_algorithm(asset.content_id, "1.0.0").module.FACTOR == 2
    assert alice.import_algorithm(asset.content_id, "1.0.1").module.FACTOR == 3
    assert not [p for p in sys.path if p.startswith(str(tmp_path / "cache"))]  # no artifact left on sys.path


# --- U7 ---------------------------------------------------------------------------------------------


def test_u7_tampered_artifact_is_refused(alice, bob, tmp_path, publish):
    asset = publish(alice, "Tampered")
    subscribe(bob, asset.content_id)
    digest = asset.versions[0].digest
    stored = artifact_path(tmp_path, digest)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))

    with pytest.raises(GalleryError, match="sha256") as caught:
        bob.import_algorithm(asset.content_id)
    assert "Ask the publisher" in str(caught.value)
    assert not (tmp_path / "cache" / digest).exists()
    assert import_count(bob, digest) == 0
    with pytest.raises(GalleryError, match="sha256"):  # refused every time, not only once
        alice.import_algorithm(asset.content_id)


def test_u7_tampered_model_is_refused_before_its_loader_runs(alice, tmp_path):
    root = write_model(tmp_path / "model")
    marker = tmp_path / "loader-ran"
    (root / "model.py").write_text(MODEL_CODE + f"\nopen({str(marker)!r}, 'w').close()\n")
    asset = alice.publish(gw.Model.from_dir(root), title="Scaler", agree=True)
    stored = artifact_path(tmp_path, asset.versions[0].digest)
    data = stored.read_bytes()
    stored.write_bytes(data[:40] + bytes([data[40] ^ 0xFF]) + data[41:])

    with pytest.raises(GalleryError, match="sha256"):
        alice.import_model(asset.content_id)
    assert not marker.exists()


def evil_archive(entry: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.py", "def main(params, inputs, outputs):\n    pass\n")
        archive.writestr(entry, "print('pwned')\n")
    return buffer.getvalue()


@pytest.mark.parametrize("entry", ["../evil.py", "sub/../../evil.py", "/tmp/evil-abs.py"])
def test_u7_archive_entry_outside_its_folder_is_refused(tmp_path, entry):
    data = evil_archive(entry)
    cache = tmp_path / "deep" / "cache"

    with pytest.raises(InvalidInput, match="outside its folder"):
        extract.extract(data, sha256(data), cache)

    assert not (tmp_path / "deep" / "evil.py").exists()
    assert not (tmp_path / "evil.py").exists()
    assert not (cache / sha256(data)).exists()
    assert [p.name for p in cache.iterdir()] == []  # no staging folder left behind
    assert extract.cached_folder(sha256(data), cache) is None


def test_u7_cache_is_reused_by_the_second_import(alice, bob, tmp_path, publish):
    asset = publish(alice, "Cached")
    alice.edit_asset(asset.content_id, code_open=True)  # so the handle shows its folder
    subscribe(bob, asset.content_id)
    digest = asset.versions[0].digest

    first = bob.import_algorithm(asset.content_id)
    assert first.folder == tmp_path / "cache" / digest
    before = {p: p.stat().st_mtime_ns for p in first.folder.rglob("*")}
    (first.folder / "train.py").stat()

    second = bob.import_algorithm(asset.content_id)
    third = alice.import_algorithm(asset.content_id)

    assert second.folder == first.folder == third.folder
    assert {p: p.stat().st_mtime_ns for p in second.folder.rglob("*")} == before
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [digest]
    assert import_count(bob, digest) == 3


def test_u7_a_new_kernel_verifies_again_and_reuses_the_cache(alice, bob, tmp_path, publish, gallery_url):
    asset = publish(alice, "Cached")
    alice.edit_asset(asset.content_id, code_open=True)  # so the handle shows its folder
    subscribe(bob, asset.content_id)
    digest = asset.versions[0].digest
    folder = bob.import_algorithm(asset.content_id).folder
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    script = textwrap.dedent(f"""
        import gallery_widgets as gw
        g = gw.open({gallery_url!r}, user="bob", artifacts={str(tmp_path / "artifacts")!r})
        try:
            print("FOLDER", g.import_algorithm({asset.content_id!r}).folder)
        except gw.GalleryError as exc:
            print("REFUSED", exc)
    """)

    def other_kernel() -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY_")}
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                              timeout=120, check=True).stdout

    assert other_kernel().strip() == f"FOLDER {folder}"
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before  # not unpacked again

    stored = artifact_path(tmp_path, digest)
    stored.write_bytes(stored.read_bytes() + b"tail")
    out = other_kernel()
    assert out.startswith("REFUSED") and "sha256" in out
