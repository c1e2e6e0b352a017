"""SPEC P5 for model files: what a pickle may import, shown to subscribers; real files only.

Pickles come from pickle.dumps, joblib.dump, numpy.save, safetensors and skops of real
objects (datetime, pandas, scikit-learn), or are spelled opcode by opcode for libraries
that are not installed here (torch). Nothing is ever unpickled.
"""

from __future__ import annotations

import collections
import datetime
import functools
import io
import os
import pickle
import zipfile
import zoneinfo

import joblib
import numpy as np
import pandas as pd
import pytest
from packaging.version import Version as PackagingVersion
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from gallery_widgets.scan import blocking, pickle_policy, scan_source
from gallery_widgets.scan.pickles import scan_pickle


class _RunsShell:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def _joblib(value, compress=0) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(value, buffer, compress=compress)
    return buffer.getvalue()


def _rules(report, severity=None):
    return {(f.file, f.rule) for f in report.findings if severity is None or f.severity == severity}


def _imports(report) -> set[str]:
    return {name for _, name in report.pickle_imports}


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.rand(80, 3), columns=["a", "b", "c"])
    y = (X["a"] > 0.5).astype(int)
    return {
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=4, random_state=rng).fit(X, y),
        "log1p": FunctionTransformer(np.log1p).fit(X),
    }


# --- what is reviewed as safe passes without a finding ------------------------------------------


def test_p5_pickled_datetimes_with_time_zones_pass():
    value = [datetime.datetime(2026, 1, 2, 3, 4, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
             datetime.datetime.now(datetime.timezone.utc), datetime.date(2026, 1, 1), datetime.timedelta(3)]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        report = scan_source({"dates.pkl": pickle.dumps(value, protocol=protocol)})
        assert report.findings == ()
        # ZoneInfo pickles as getattr(ZoneInfo, "_unpickle"): the method is recorded, not getattr
        assert {"datetime.datetime", "zoneinfo.ZoneInfo._unpickle"} <= _imports(report)
        assert "builtins.getattr" not in _imports(report)


def test_p5_pickled_pandas_dataframe_passes():
    frame = pd.DataFrame({
        "n": [1, 2, 3], "s": ["x", "y", None], "c": pd.Categorical(["u", "v", "u"]),
        "t": pd.date_range("2026-01-01", periods=3, tz="Europe/Paris"), "i": pd.array([1, None, 3], dtype="Int64"),
        "d": pd.to_timedelta([1, 2, 3], unit="s"), "p": pd.period_range("2026-01", periods=3, freq="M"),
    }).set_index(pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)]))
    for protocol in (2, 4, 5):
        report = scan_source({"frame.pkl": pickle.dumps(frame, protocol=protocol),
                              "frame.joblib": _joblib(frame, compress=3)})
        assert report.findings == ()
        assert "pandas.DataFrame" in _imports(report)


def test_p5_numpy_arrays_random_states_and_plain_values_pass():
    value = {"a": np.arange(6.0).reshape(2, 3), "r": np.random.RandomState(1), "g": np.random.default_rng(2),
             "rec": np.array([(1, 2.0)], dtype=[("x", "i4"), ("y", "f8")]), "s": np.float32(1.5),
             "o": collections.OrderedDict(k=[1, 2]), "dq": collections.deque([1])}
    for protocol in (2, 4, 5):
        assert scan_source({"state.pkl": pickle.dumps(value, protocol=protocol)}).findings == ()


def test_p5_safetensors_pass_whatever_their_name():
    from safetensors.numpy import save

    tensors = save({"weight": np.ones((4, 4), dtype=np.float32), "bias": np.zeros(4, dtype=np.float32)})
    # A header of 0x280..0x57f bytes makes the file start like a pickle header (0x80 0x02..0x05).
    padded = next(data for size in range(600, 1500, 8)
                  if (data := save({"t": np.zeros(1, dtype=np.float32)}, metadata={"k": "v" * size}))[0] == 0x80)
    assert padded[0] == 0x80 and 2 <= padded[1] <= 5, "the test needs a header size that looks like PROTO"
    report = scan_source({"model.safetensors": tensors, "pytorch_model.bin": tensors, "odd.safetensors": padded,
                          "bundle.zip": _zip({"weights.safetensors": padded})})
    assert report.findings == () and report.pickle_imports == ()


def test_p5_skops_files_are_checked_as_zips_and_pass(fitted):
    import skops.io

    report = scan_source({"model.skops": skops.io.dumps(fitted["pipeline"])})
    assert report.findings == ()


# --- scikit-learn models: unreviewed imports are medium and shown ---------------------------------


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("lzma", 3), ("bz2", 3)])
def test_p5_scikit_learn_models_saved_with_joblib_publishable(fitted, compress):
    report = scan_source({name + ".joblib": _joblib(model, compress) for name, model in fitted.items()})
    assert blocking(report.findings) == ()
    assert _rules(report) <= {(f"{name}.joblib", "pickle-unreviewed") for name in fitted}
    imports = _imports(report)
    assert {"sklearn.linear_model._logistic.LogisticRegression", "sklearn.tree._tree.Tree", "numpy.log1p",
            "joblib.numpy_pickle.NumpyArrayWrapper"} <= imports
    unreviewed = " ".join(f.message for f in report.findings)
    assert "sklearn.pipeline.Pipeline" in unreviewed and "NumpyArrayWrapper" not in unreviewed


def test_p5_scikit_learn_model_pickled_plainly_is_publishable(fitted):
    report = scan_source({"model.pkl": pickle.dumps(fitted["forest"], protocol=5)})
    assert blocking(report.findings) == () and report.findings
    assert "sklearn.ensemble._forest.RandomForestClassifier" in _imports(report)


def test_p5_an_object_of_an_installed_unreviewed_library_is_medium():
    report = scan_source({"version.pkl": pickle.dumps(PackagingVersion("1.2.3"), protocol=4)})
    assert [(f.rule, f.severity) for f in report.findings] == [("pickle-unreviewed", "medium")]
    assert "packaging.version.Version" in report.findings[0].message
    assert report.pickle_imports == (("version.pkl", "packaging.version.Version"),)


# --- what can execute is blocked ------------------------------------------------------------------


def _call(module: str, name: str) -> bytes:
    """Protocol 0, as written by hand: import module.name and call it with one string."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n(S'x'\ntR."


@pytest.mark.parametrize("module, name", [
    ("os", "system"), ("posix", "system"), ("nt", "system"), ("subprocess", "Popen"), ("subprocess", "check_output"),
    ("builtins", "eval"), ("builtins", "exec"), ("builtins", "getattr"), ("builtins", "__import__"),
    ("builtins", "compile"), ("builtins", "open"), ("__builtin__", "eval"), ("runpy", "_run_code"),
    ("importlib", "import_module"), ("pty", "spawn"), ("socket", "create_connection"), ("shutil", "rmtree"),
    ("sys", "exit"), ("code", "InteractiveInterpreter"), ("webbrowser", "open"), ("pickle", "loads"),
    ("_pickle", "loads"), ("marshal", "loads"), ("operator", "attrgetter"), ("operator", "methodcaller"),
    ("_operator", "attrgetter"), ("functools", "reduce"), ("ctypes", "CDLL"), ("torch", "load"),
    ("torch.serialization", "load"), ("torch.storage", "_load_from_bytes"), ("torch.hub", "load"),
    ("numpy", "load"), ("numpy.lib.npyio", "load"), ("numpy.testing._private.utils", "runstring"),
    ("numpy.f2py", "compile"), ("pandas", "read_pickle"), ("pandas.io.pickle", "read_pickle"), ("pandas", "eval"),
    ("joblib", "load"), ("dill", "loads"), ("cloudpickle", "loads"), ("yaml", "load"), ("requests.api", "get"),
    ("sklearn.datasets", "fetch_openml"), ("somelib.tools", "run_command"), ("somelib", "download_and_exec"),
    ("collections", "OrderedDict.__class__"), ("numpy", "ndarray.tofile"),
])
def test_p5_pickle_importing_what_can_execute_is_high(module, name):
    report = scan_source({"model.pkl": _call(module, name)})
    assert [(f.rule, f.severity) for f in blocking(report.findings)] == [("pickle-global", "high")]
    assert f"{module}.{name}" in report.findings[0].message


def test_p5_functools_partial_is_as_safe_as_what_it_wraps():
    safe = scan_source({"ok.pkl": pickle.dumps(functools.partial(np.add, 1), protocol=4)})
    assert blocking(safe.findings) == () and "functools.partial" in _imports(safe)
    evil = scan_source({"evil.pkl": pickle.dumps(functools.partial(os.system, "echo owned"), protocol=4)})
    assert any("system" in f.message for f in blocking(evil.findings))


def test_p5_getattr_is_allowed_only_on_a_reviewed_class_with_a_constant_name():
    # getattr(collections.OrderedDict, "fromkeys") is a class method: judged as the dotted name.
    method = (b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93\x8c\x0bcollections\x8c\x0bOrderedDict\x93"
              b"\x8c\x08fromkeys\x86R)R.")
    assert "collections.OrderedDict.fromkeys" in " ".join(f.message for f in blocking(scan_source(
        {"m.pkl": method}).findings))  # not reviewed as safe: a dotted path
    # getattr(datetime.datetime, x) where x comes from a call cannot be judged: getattr itself is blocked.
    computed = (b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93\x8c\x08datetime\x8c\x08datetime\x93"
                b"\x8c\x08builtins\x8c\x03str\x93\x8c\x03now\x85R\x86R)R.")
    assert "builtins.getattr" in " ".join(f.message for f in blocking(scan_source({"c.pkl": computed}).findings))
    # getattr kept as data (here in a tuple) can be called later by whoever holds it.
    kept = b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93\x85."
    assert "builtins.getattr" in " ".join(f.message for f in blocking(scan_source({"k.pkl": kept}).findings))


def test_p5_copyreg_extension_codes_are_high():
    assert blocking(scan_source({"x.pkl": b"\x80\x02\x82\x01)R."}).findings)


# --- joblib arrays are walked, not trusted ----------------------------------------------------------


def test_p5_joblib_file_hiding_a_call_after_an_array_is_high():
    data = _joblib([np.arange(100.0), _RunsShell()])
    report = scan_source({"model.joblib": data})
    assert ("model.joblib", "pickle-global") in _rules(report, "high")
    # pickle.load stops at the array, so a plain pickle walker never gets there
    import pickletools
    with pytest.raises(ValueError):
        list(pickletools.genops(data))


def test_p5_joblib_object_array_nested_pickle_is_walked():
    report = scan_source({"model.joblib": _joblib({"o": np.array([_RunsShell(), 1], dtype=object)})})
    assert ("model.joblib", "pickle-global") in _rules(report, "high")


def test_p5_joblib_array_bytes_that_pickle_load_would_run_are_high():
    # The wrapper says "100 raw bytes follow" to joblib; pickle.load reads those bytes as opcodes.
    payload = b"cos\nsystem\n(S'echo owned'\ntR."
    wrapper = joblib.numpy_pickle.NumpyArrayWrapper(np.ndarray, (len(payload),), "C", np.dtype("uint8"),
                                                   numpy_array_alignment_bytes=None)
    data = pickle.dumps(wrapper, protocol=4)[:-1] + payload + b"."
    report = scan_source({"model.joblib": data})
    assert any("os.system" in f.message for f in blocking(report.findings))


def test_p5_joblib_array_cut_short_is_high():
    data = _joblib([np.arange(1000.0), {"k": 1}])
    report = scan_source({"model.joblib": data[: len(data) // 2]})
    assert ("model.joblib", "pickle-unreadable") in _rules(report, "high")


# --- numpy object arrays ------------------------------------------------------------------------------


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _zip(entries: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_p5_npy_object_array_is_walked_whatever_its_name():
    evil = _npy(np.array([_RunsShell()], dtype=object))
    report = scan_source({"features.npy": evil, "features.dat": evil})
    assert _rules(report, "high") == {("features.npy", "pickle-global"), ("features.dat", "pickle-global")}
    assert "object array" in report.findings[0].message
    strings = _npy(np.array(["a", None, 3], dtype=object))
    numbers = _npy(np.arange(10.0))
    assert scan_source({"strings.npy": strings, "numbers.npy": numbers}).findings == ()


def test_p5_npz_object_array_is_walked():
    buffer = io.BytesIO()
    np.savez(buffer, weights=np.ones(3), meta=np.array([_RunsShell()], dtype=object))
    report = scan_source({"arrays.npz": buffer.getvalue()})
    assert _rules(report, "high") == {("arrays.npz::meta.npy", "pickle-global")}


def test_p5_npy_with_an_unreadable_header_is_high():
    report = scan_source({"x.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <broken"})
    assert [(f.rule, f.severity) for f in report.findings] == [("npy-unreadable", "high")]
    # Python 2 spelled shapes with longs; numpy still reads them, so an object array behind one is refused.
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1L,), }"
    header += b" " * (63 - len(header)) + b"\n"
    old = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"cos\nsystem\n(S'x'\ntR."
    assert blocking(scan_source({"old.npy": old}).findings)


# --- torch-style files ----------------------------------------------------------------------------------

# What torch.save writes for {"weight": <4 floats>} (torch need not be installed).
TORCH_STATE_DICT = (
    b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x06\x00\x00\x00weightq\x02"
    b"ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05"
    b"X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x04tq\x08QK\x00K\x04\x85q\tK\x01\x85q\n\x89h\x00)Rq\x0b"
    b"tq\x0cRq\rs."
)


def test_p5_torch_zip_checkpoints_are_found_by_content():
    clean = _zip({"archive/data.pkl": TORCH_STATE_DICT, "archive/data/0": b"\x00" * 16, "archive/version": b"3\n"})
    evil = _zip({"archive/data.pkl": pickle.dumps(_RunsShell(), protocol=2), "archive/version": b"3\n"})
    report = scan_source({"clean.pt": clean, "best.pth.tar": evil, "checkpoint": evil})
    assert _rules(report, "high") == {("best.pth.tar::archive/data.pkl", "pickle-global"),
                                      ("checkpoint::archive/data.pkl", "pickle-global")}
    assert "torch._utils._rebuild_tensor_v2" in _imports(report)


def test_p5_protocol_0_pickle_with_a_model_suffix_is_found_and_raw_weights_are_not():
    report = scan_source({"model.bin": _call("os", "system"), "weights.bin": np.arange(64.0).tobytes(),
                          "raw.pt": bytes(range(256))})
    assert _rules(report) == {("model.bin", "pickle-global")}


def test_p5_pickle_with_an_unusual_suffix_is_found_by_its_header():
    report = scan_source({"model.weights": pickle.dumps(_RunsShell(), protocol=2),
                          "notes.txt": pickle.dumps(_RunsShell(), protocol=5)})
    assert _rules(report, "high") == {("model.weights", "pickle-global"), ("notes.txt", "pickle-global")}


# --- the policy itself ----------------------------------------------------------------------------------


def test_p5_policy_normalises_python_2_names():
    assert pickle_policy.verdict("__builtin__", "set")[0] == pickle_policy.SAFE
    assert pickle_policy.verdict("copy_reg", "_reconstructor")[0] == pickle_policy.SAFE
    assert pickle_policy.verdict("__builtin__", "getattr")[0] == pickle_policy.BLOCKED


def test_p5_scan_pickle_names_where_the_import_is():
    result = scan_pickle("m.pkl", lambda: io.BytesIO(_call("os", "system")))
    assert "byte 0" in result.findings[0].message and result.imports == {"os.system"}


def test_p5_joblib_model_with_columns_named_like_modules_is_not_blocked():
    # Past joblib's first array pickle.load would read bytes against the wrong memo; strings such
    # as "os" or "system" found there are no evidence of a call.
    cols = ["time", "dtype", "os", "system", "random", "numpy", "subprocess", "ndarray"]
    X = pd.DataFrame(np.random.RandomState(0).rand(40, len(cols)), columns=cols)
    model = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression()).fit(X, (X["time"] > 0.5).astype(int))
    for compress in (0, 3):
        data = _joblib({"model": model, "columns": np.array(cols, dtype=object), "names": cols}, compress)
        assert blocking(scan_source({"model.joblib": data}).findings) == ()
