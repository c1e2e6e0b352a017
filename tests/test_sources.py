"""Local sources: the ``algorithm.yaml`` / ``model.yaml`` reader, deterministic packing,
and unique file names (SPEC §4 local sources, P4, U7's digests)."""

from __future__ import annotations

import hashlib
import io
import os
import textwrap
import zipfile
from pathlib import Path

import pytest

import gallery_widgets as gw
from conftest import write_algorithm

VALID_HEAD = "name: demo\nentrypoint: train:main\n"


def algorithm_dir(tmp_path: Path, manifest: str, *, files: dict | None = None, name: str = "src") -> Path:
    root = tmp_path / name
    root.mkdir(parents=True, exist_ok=True)
    (root / "algorithm.yaml").write_text(textwrap.dedent(manifest))
    for rel, content in ({"train.py": "def main(params, inputs, outputs):\n    return {}\n"} | (files or {})).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content) if isinstance(content, str) else path.write_bytes(content)
    return root


def model_dir(tmp_path: Path, manifest: str, *, files: dict | None = None, name: str = "model") -> Path:
    root = tmp_path / name
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.yaml").write_text(textwrap.dedent(manifest))
    for rel, content in ({"load.py": "def load(path):\n    return None\n"} | (files or {})).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content) if isinstance(content, str) else path.write_bytes(content)
    return root


# -- reading a valid manifest ------------------------------------------------------------------


def test_algorithm_from_dir_reads_the_manifest(algo_dir):
    source = gw.Algorithm.from_dir(algo_dir)
    assert source.kind == "algorithm"
    assert source.name == "demo-algo"
    assert source.manifest["entrypoint"] == "train:main"
    by_name = {h["name"]: h for h in source.hyperparameters}
    assert list(by_name) == ["lr", "epochs", "optimizer"]
    assert by_name["lr"] == {
        "name": "lr", "type": "float", "default": 0.1, "required": False, "range": [0.0, 1.0],
        "choices": None, "description": "learning rate",
    }
    assert by_name["epochs"]["required"] is True and by_name["epochs"]["default"] == 2
    assert by_name["optimizer"]["choices"] == ["sgd", "adam"]
    assert source.manifest["inputs"] == [{"name": "data", "description": "training data"}]
    assert source.manifest["outputs"] == [{"name": "model", "description": ""}]
    assert set(source.files) == {"algorithm.yaml", "train.py"}


def test_algorithm_from_dir_reads_constraints(tmp_path):
    root = write_algorithm(tmp_path / "a", python=">=3.10", requirements=("numpy>=1.24", "pandas"))
    source = gw.Algorithm.from_dir(root)
    assert source.constraints.python == ">=3.10"
    assert source.constraints.requirements == ("numpy>=1.24", "pandas")


def test_algorithm_from_dir_accepts_minimal_manifest_and_package_entrypoint(tmp_path):
    root = algorithm_dir(tmp_path, "name: tiny\nentrypoint: pkg.run:main\n",
                         files={"pkg/__init__.py": "", "pkg/run.py": "def main(p, i, o):\n    pass\n"})
    source = gw.Algorithm.from_dir(root)
    assert source.hyperparameters == []
    assert source.manifest["inputs"] == [] and source.manifest["outputs"] == []
    pkg = algorithm_dir(tmp_path, "name: pkg\nentrypoint: mypkg:main\n", files={"mypkg/__init__.py": ""}, name="p")
    assert gw.Algorithm.from_dir(pkg).name == "pkg"


def test_algorithm_from_dir_accepts_a_path_string(algo_dir):
    assert gw.Algorithm.from_dir(str(algo_dir)).name == "demo-algo"


def test_model_from_dir_reads_the_manifest(tmp_path):
    root = model_dir(tmp_path, "name: churn\nloader: load:load\nrequirements: [scikit-learn>=1.3]\npython: '>=3.9'\n")
    source = gw.Model.from_dir(root)
    assert source.kind == "model"
    assert source.name == "churn"
    assert source.manifest["loader"] == "load:load"
    assert source.constraints.requirements == ("scikit-learn>=1.3",)
    assert source.constraints.python == ">=3.9"


# -- every bad manifest is refused, naming the file and the field ------------------------------

# (manifest text, extra files, the fragments the message must hold besides the file's path)
BAD_ALGORITHMS = {
    "missing-name": ("entrypoint: train:main\n", {}, ["'name'"]),
    "name-not-text": ("name: 12\nentrypoint: train:main\n", {}, ["'name'"]),
    "name-with-slash": ("name: a/b\nentrypoint: train:main\n", {}, ["'name'"]),
    "missing-entrypoint": ("name: demo\n", {}, ["'entrypoint'"]),
    "entrypoint-without-function": ("name: demo\nentrypoint: train\n", {}, ["'entrypoint'", "module:function"]),
    "entrypoint-bad-module": ("name: demo\nentrypoint: 'my-module:main'\n", {}, ["'entrypoint'"]),
    "entrypoint-module-missing": ("name: demo\nentrypoint: fit:main\n", {}, ["'entrypoint'", "fit.py"]),
    "unknown-field": (VALID_HEAD + "entry_point: train:main\n", {}, ["entry_point"]),
    "hyperparameters-not-list": (VALID_HEAD + "hyperparameters: {lr: 0.1}\n", {}, ["'hyperparameters'"]),
    "hyperparameter-not-mapping": (VALID_HEAD + "hyperparameters: [lr]\n", {}, ["hyperparameters[0]"]),
    "hyperparameter-unknown-key": (
        VALID_HEAD + "hyperparameters: [{name: lr, type: float, min: 0}]\n", {}, ["hyperparameters[0]", "min"]
    ),
    "hyperparameter-missing-name": (VALID_HEAD + "hyperparameters: [{type: float}]\n", {}, ["hyperparameters[0].name"]),
    "hyperparameter-bad-name": (
        VALID_HEAD + "hyperparameters: [{name: 1lr, type: float}]\n", {}, ["hyperparameters[0].name"]
    ),
    "hyperparameter-repeated": (
        VALID_HEAD + "hyperparameters: [{name: lr, type: float}, {name: lr, type: int}]\n", {},
        ["hyperparameters[1].name", "'lr'"],
    ),
    "hyperparameter-missing-type": (VALID_HEAD + "hyperparameters: [{name: lr}]\n", {}, ["lr.type"]),
    "hyperparameter-bad-type": (VALID_HEAD + "hyperparameters: [{name: lr, type: double}]\n", {}, ["lr.type", "double"]),
    "default-wrong-type": (
        VALID_HEAD + "hyperparameters: [{name: epochs, type: int, default: two}]\n", {}, ["epochs.default"]
    ),
    "default-bool-for-int": (
        VALID_HEAD + "hyperparameters: [{name: epochs, type: int, default: true}]\n", {}, ["epochs.default"]
    ),
    "default-float-for-int": (
        VALID_HEAD + "hyperparameters: [{name: epochs, type: int, default: 2.5}]\n", {}, ["epochs.default"]
    ),
    "default-out-of-range": (
        VALID_HEAD + "hyperparameters: [{name: lr, type: float, default: 2.0, range: [0, 1]}]\n", {}, ["lr.default"]
    ),
    "default-not-a-choice": (
        VALID_HEAD + "hyperparameters: [{name: opt, type: str, default: rmsprop, choices: [sgd, adam]}]\n", {},
        ["opt.default", "rmsprop"],
    ),
    "default-string-for-bool": (
        VALID_HEAD + "hyperparameters: [{name: shuffle, type: bool, default: 'yes'}]\n", {}, ["shuffle.default"]
    ),
    "range-on-str": (VALID_HEAD + "hyperparameters: [{name: s, type: str, range: [0, 1]}]\n", {}, ["s.range"]),
    "range-reversed": (VALID_HEAD + "hyperparameters: [{name: lr, type: float, range: [1, 0]}]\n", {}, ["lr.range"]),
    "range-three-items": (
        VALID_HEAD + "hyperparameters: [{name: lr, type: float, range: [0, 1, 2]}]\n", {}, ["lr.range"]
    ),
    "range-not-numbers": (
        VALID_HEAD + "hyperparameters: [{name: lr, type: float, range: [a, b]}]\n", {}, ["lr.range"]
    ),
    "choices-empty": (VALID_HEAD + "hyperparameters: [{name: opt, type: str, choices: []}]\n", {}, ["opt.choices"]),
    "choices-not-list": (VALID_HEAD + "hyperparameters: [{name: opt, type: str, choices: sgd}]\n", {}, ["opt.choices"]),
    "choices-wrong-type": (
        VALID_HEAD + "hyperparameters: [{name: n, type: int, choices: [1, two]}]\n", {}, ["n.choices"]
    ),
    "required-not-bool": (
        VALID_HEAD + "hyperparameters: [{name: n, type: int, required: maybe}]\n", {}, ["required"]
    ),
    "inputs-not-list": (VALID_HEAD + "inputs: data\n", {}, ["'inputs'"]),
    "input-bad-name": (VALID_HEAD + "inputs: [{name: 'my data'}]\n", {}, ["inputs[0].name"]),
    "input-missing-name": (VALID_HEAD + "inputs: [{description: data}]\n", {}, ["inputs[0].name"]),
    "input-repeated": (VALID_HEAD + "inputs: [data, {name: data}]\n", {}, ["inputs[1].name", "'data'"]),
    "outputs-not-list": (VALID_HEAD + "outputs: {name: model}\n", {}, ["'outputs'"]),
    "output-bad-name": (VALID_HEAD + "outputs: [{name: 3d}]\n", {}, ["outputs[0].name"]),
    "requirements-string": (VALID_HEAD + "requirements: numpy\n", {}, ["'requirements'"]),
    "requirement-invalid": (VALID_HEAD + "requirements: ['numpy>>=1']\n", {}, ["'requirements'", "numpy>>=1"]),
    "python-invalid": (VALID_HEAD + "python: three\n", {}, ["'python'", "three"]),
    "resources-not-mapping": (VALID_HEAD + "resources: [gpu]\n", {}, ["'resources'"]),
}


@pytest.mark.parametrize("case", list(BAD_ALGORITHMS), ids=list(BAD_ALGORITHMS))
def test_bad_algorithm_manifest_names_file_and_field(tmp_path, case):
    manifest, files, fragments = BAD_ALGORITHMS[case]
    root = algorithm_dir(tmp_path, manifest, files=files)
    with pytest.raises(gw.InvalidInput) as info:
        gw.Algorithm.from_dir(root)
    message = str(info.value)
    assert str(root / "algorithm.yaml") in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert isinstance(info.value, ValueError)


BAD_MODELS = {
    "missing-name": ("loader: load:load\n", ["'name'"]),
    "missing-loader": ("name: m\n", ["'loader'"]),
    "loader-without-function": ("name: m\nloader: load\n", ["'loader'", "module:function"]),
    "loader-module-missing": ("name: m\nloader: weights:load\n", ["'loader'", "weights"]),
    "entrypoint-is-for-algorithms": ("name: m\nloader: load:load\nentrypoint: load:load\n", ["entrypoint"]),
    "requirement-invalid": ("name: m\nloader: load:load\nrequirements: ['torch==']\n", ["'requirements'"]),
    "python-invalid": ("name: m\nloader: load:load\npython: newest\n", ["'python'"]),
    "resources-not-mapping": ("name: m\nloader: load:load\nresources: 4\n", ["'resources'"]),
}


@pytest.mark.parametrize("case", list(BAD_MODELS), ids=list(BAD_MODELS))
def test_bad_model_manifest_names_file_and_field(tmp_path, case):
    manifest, fragments = BAD_MODELS[case]
    root = model_dir(tmp_path, manifest)
    with pytest.raises(gw.InvalidInput) as info:
        gw.Model.from_dir(root)
    message = str(info.value)
    assert str(root / "model.yaml") in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize(
    "content",
    ["name: [unclosed\n", "- just\n- a list\n", "a plain string\n", "", "name: demo\n\tentrypoint: x\n"],
    ids=["invalid-yaml", "list", "scalar", "empty", "tab-indent"],
)
def test_unreadable_manifest_names_the_file(tmp_path, content):
    root = algorithm_dir(tmp_path, "")
    (root / "algorithm.yaml").write_text(content)
    with pytest.raises(gw.InvalidInput) as info:
        gw.Algorithm.from_dir(root)
    assert str(root / "algorithm.yaml") in str(info.value)


def test_missing_manifest_names_the_file(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "train.py").write_text("")
    with pytest.raises(gw.InvalidInput) as info:
        gw.Algorithm.from_dir(root)
    assert str(root / "algorithm.yaml") in str(info.value)
    with pytest.raises(gw.InvalidInput) as info:
        gw.Model.from_dir(root)
    assert str(root / "model.yaml") in str(info.value)


def test_source_folder_must_exist(tmp_path):
    with pytest.raises(gw.InvalidInput, match="algorithm.yaml"):
        gw.Algorithm.from_dir(tmp_path / "nowhere")
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(gw.InvalidInput, match="not a folder"):
        gw.Model.from_dir(file)


def test_symlink_in_source_refused(tmp_path):
    root = algorithm_dir(tmp_path, VALID_HEAD)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    os.symlink(outside, root / "link.txt")
    with pytest.raises(gw.InvalidInput, match="link.txt"):
        gw.Algorithm.from_dir(root)


# -- deterministic packing ------------------------------------------------------------------------

FILES = {
    "train.py": "def main(params, inputs, outputs):\n    return {'loss': 0.5}\n",
    "lib/util.py": "X = 1\n",
    "lib/data/table.csv": "a,b\n1,2\n",
    "weights.bin": bytes(range(256)) * 4,
}


def _digest(source) -> str:
    return hashlib.sha256(source.pack()).hexdigest()


def test_packing_is_deterministic(tmp_path):
    first = algorithm_dir(tmp_path, VALID_HEAD, files=FILES, name="first")
    # The same files written in another order, at other times, with other permissions.
    second = tmp_path / "second"
    second.mkdir()
    for rel in reversed(list(FILES) + ["algorithm.yaml"]):
        path = second / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        content = (first / rel).read_bytes()
        path.write_bytes(content)
    for i, path in enumerate(sorted(second.rglob("*"))):
        os.utime(path, (1_000_000 + i * 7777, 1_000_000 + i * 7777))
    os.chmod(second / "train.py", 0o755)
    # Caches are not part of the code.
    (second / "__pycache__").mkdir()
    (second / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"cache")
    (second / "lib" / "util.pyc").write_bytes(b"cache")
    (second / ".ipynb_checkpoints").mkdir()
    (second / ".ipynb_checkpoints" / "train-checkpoint.py").write_text("old")

    a, b = gw.Algorithm.from_dir(first), gw.Algorithm.from_dir(second)
    assert a.pack() == b.pack()
    assert _digest(a) == _digest(b)
    assert _digest(a) == _digest(gw.Algorithm.from_dir(first))  # and again


def test_packing_changes_with_content(tmp_path):
    base = _digest(gw.Algorithm.from_dir(algorithm_dir(tmp_path, VALID_HEAD, files=FILES, name="a")))
    changed_file = dict(FILES, **{"lib/util.py": "X = 2\n"})
    renamed = {("lib/helpers.py" if k == "lib/util.py" else k): v for k, v in FILES.items()}
    variants = [
        algorithm_dir(tmp_path, VALID_HEAD, files=changed_file, name="b"),
        algorithm_dir(tmp_path, VALID_HEAD, files=renamed, name="c"),
        algorithm_dir(tmp_path, VALID_HEAD, files=dict(FILES, **{"extra.txt": ""}), name="d"),
        algorithm_dir(tmp_path, VALID_HEAD.replace("demo", "demo2"), files=FILES, name="e"),
    ]
    digests = {_digest(gw.Algorithm.from_dir(v)) for v in variants}
    assert base not in digests and len(digests) == len(variants)


def test_pack_holds_the_files_and_the_manifest(tmp_path):
    source = gw.Algorithm.from_dir(algorithm_dir(tmp_path, VALID_HEAD, files=FILES))
    with zipfile.ZipFile(io.BytesIO(source.pack())) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert set(FILES) | {"algorithm.yaml"} <= set(names)
        assert archive.read("weights.bin") == FILES["weights.bin"]
        assert archive.read("lib/util.py").decode() == FILES["lib/util.py"]


def test_same_files_published_twice_share_the_digest(alice, bob, tmp_path):
    a = gw.Algorithm.from_dir(algorithm_dir(tmp_path, VALID_HEAD, files=FILES, name="alice-src"))
    b = gw.Algorithm.from_dir(algorithm_dir(tmp_path, VALID_HEAD, files=FILES, name="bob-src"))
    first = alice.publish(a, title="Same code", agree=True).versions[0].digest
    second = bob.publish(b, title="Same code", agree=True).versions[0].digest
    assert first == second == _digest(a)
    stored = tmp_path / "artifacts" / "sha256" / first[:2] / first[2:]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == first


# -- P4 unique names --------------------------------------------------------------------------


def _refused_names(tmp_path, files, *, alice=None) -> str:
    source = gw.Algorithm.from_dir(algorithm_dir(tmp_path, VALID_HEAD, files=files))
    with pytest.raises(gw.InvalidInput) as info:
        source.pack()
    if alice is not None:
        with pytest.raises(gw.InvalidInput) as published:
            alice.publish(source, title="Clash", agree=True)
        assert str(published.value) == str(info.value)
        assert alice.publishes() == ()
    return str(info.value)


def test_p4_refuses_names_differing_only_in_case(tmp_path, alice):
    message = _refused_names(tmp_path, {"Train.py": "x = 1\n"}, alice=alice)
    assert "'Train.py'" in message and "'train.py'" in message
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").rglob("*.*"))


def test_p4_refuses_file_and_folder_of_one_name(tmp_path, alice):
    message = _refused_names(tmp_path, {"data": "plain file", "DATA/x.csv": "a,b\n"}, alice=alice)
    assert "'data'" in message and "'DATA" in message
    assert "file" in message and "folder" in message


def test_p4_refuses_nested_clashes_and_names_each(tmp_path):
    message = _refused_names(tmp_path, {"lib/Util.py": "", "lib/util.py": "", "Docs/a.md": "", "docs/b.md": ""})
    assert "'lib/Util.py'" in message and "'lib/util.py'" in message
    assert "'Docs'" in message and "'docs'" in message


def test_p4_accepts_same_name_in_different_folders(tmp_path):
    source = gw.Algorithm.from_dir(
        algorithm_dir(tmp_path, VALID_HEAD, files={"a/util.py": "", "b/util.py": "", "a/Util2.py": "", "util": ""})
    )
    assert source.pack()
