"""SPEC P5: formats are told by content, archives are opened level by level, and what
cannot be checked does not pass. Real files built with zipfile/tarfile/gzip/pickle; real
bandit, in this process and in its worker processes."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import zipfile

import pytest

from gallery_widgets import scan
from gallery_widgets.scan import blocking, python_code, scan_files, scan_source

SHELL = b"import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"


class _RunsShell:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def _zip(entries: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _targz(entries: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _rules(findings, severity=None):
    return {(f.file, f.rule) for f in findings if severity is None or f.severity == severity}


# --- Python that cannot be checked does not pass --------------------------------------------------


def test_p5_expression_2000_terms_deep_is_checked_in_a_deep_worker():
    # In this process bandit's recursive walk overflows on it; a worker with a deep stack checks it.
    code = b"import os\nx = " + b" + ".join([b"1"] * 2000) + b"\n" + SHELL
    findings = scan_files({"deep.py": code})
    assert ("deep.py", "B602") in _rules(findings, "high")
    assert "python-unparsed" not in {f.rule for f in findings}


def test_p5_python_nested_beyond_the_deep_worker_is_high(monkeypatch):
    monkeypatch.setattr(python_code, "DEEP_RECURSION_LIMIT", 500)  # the real limit is 200,000 frames
    python_code._CACHE.clear()
    code = b"x = " + b" + ".join([b"1"] * 2000) + b"\n"
    findings = scan_files({"pkg/deep.py": code})
    assert [(f.file, f.rule, f.severity) for f in findings] == [("pkg/deep.py", "python-unparsed", "high")]
    assert "nested too deeply" in findings[0].message and "cannot be published" in findings[0].message
    python_code._CACHE.clear()  # the verdict above holds only for the lowered limit


def test_p5_python_of_a_newer_syntax_says_which_python_scanned_it():
    import sys

    findings = scan_files({"new.py": b"type Vector = list[float]\n"}) if sys.version_info < (3, 12) else \
        scan_files({"new.py": b"def f(:\n    pass\n"})
    assert [(f.rule, f.severity) for f in findings] == [("python-unparsed", "high")]
    assert f"Python {sys.version_info[0]}.{sys.version_info[1]}" in findings[0].message
    assert "publish from a kernel of that Python" in findings[0].message


def test_p5_python_script_without_a_py_suffix_is_checked():
    findings = scan_files({"bin/run": b"#!/usr/bin/env python3\n" + SHELL, "bin/notes": b"#!/bin/sh\necho hi\n"})
    assert _rules(findings, "high") == {("bin/run", "B602")}


def test_p5_large_cold_scans_use_workers_and_agree_with_one_process(monkeypatch):
    files = {f"pkg/m{i}.py": b"".join(b"def f%d_%d(x):\n    return x + %d\n\n\n" % (i, j, j) for j in range(300))
             + (SHELL if i == 3 else b"") for i in range(6)}
    python_code._CACHE.clear()
    monkeypatch.setattr(python_code, "_free_cpus", lambda: 2)
    monkeypatch.setattr(python_code, "PARALLEL_MIN_BYTES", 1)
    in_this_process = python_code.bandit

    def refuse(items):
        raise AssertionError("bandit ran in the test process, not in the workers")

    monkeypatch.setattr(python_code, "bandit", refuse)  # the workers import their own, unpatched copy
    in_workers = scan_files(files)
    python_code._CACHE.clear()
    monkeypatch.setattr(python_code, "bandit", in_this_process)
    monkeypatch.setattr(python_code, "PARALLEL_MIN_BYTES", 10**12)
    assert scan_files(files) == in_workers
    assert ("pkg/m3.py", "B602") in _rules(in_workers, "high")


def test_p5_python_workers_that_fail_fall_back_to_this_process(monkeypatch):
    python_code._CACHE.clear()
    monkeypatch.setattr(python_code, "_free_cpus", lambda: 2)
    monkeypatch.setattr(python_code, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(python_code.sys, "executable", "/nonexistent/python")
    findings = scan_files({"a.py": SHELL, "b.py": b"x = 1\n"})
    assert _rules(findings, "high") == {("a.py", "B602")}
    python_code._CACHE.clear()


# --- nested archives -------------------------------------------------------------------------------


def test_p5_zip_inside_a_zip_is_opened():
    inner = _zip({"model.pkl": pickle.dumps(_RunsShell(), protocol=4), "ok.txt": b"fine"})
    report = scan_source({"bundle.zip": _zip({"inner.zip": inner})})
    assert _rules(report.findings, "high") == {("bundle.zip::inner.zip::model.pkl", "pickle-global")}


def test_p5_tar_gz_inside_a_zip_and_python_inside_it_are_checked():
    inner = _targz({"pkg/run.py": SHELL, "pkg/__init__.py": b""})
    findings = scan_files({"vendor.zip": _zip({"deps/pkg.tar.gz": inner})})
    assert _rules(findings, "high") == {("vendor.zip::deps/pkg.tar.gz::pkg/run.py", "B602")}
    assert next(f for f in findings if f.rule == "B602").line == 5


def test_p5_traversal_inside_a_nested_archive_is_high():
    inner = _zip({"../../etc/cron.d/job": b"* * * * * root sh"})
    findings = scan_files({"data.tgz": _targz({"inner.zip": inner})})
    assert _rules(findings, "high") == {("data.tgz::inner.zip", "archive-traversal")}


def test_p5_archive_named_otherwise_is_found_by_content():
    findings = scan_files({"weights.dat": _zip({"run.py": SHELL}), "data/blob": _targz({"m.pkl": b"cos\nsystem\n."})})
    assert _rules(findings, "high") == {("weights.dat::run.py", "B602"), ("data/blob::m.pkl", "pickle-global")}


def test_p5_gzip_of_a_pickle_with_any_name_is_walked():
    findings = scan_files({"state.gz": gzip.compress(pickle.dumps(_RunsShell(), protocol=4))})
    assert _rules(findings, "high") == {("state.gz", "pickle-global")}


def test_p5_archives_nested_too_deep_are_high():
    data = _zip({"model.pkl": pickle.dumps({"a": 1})})
    for level in range(scan.MAX_NESTING + 1):
        data = _zip({f"level{level}.zip": data})
    findings = scan_files({"deep.zip": data})
    assert [(f.rule, f.severity) for f in findings] == [("archive-too-deep", "high")]
    assert findings[0].file.count("::") == scan.MAX_NESTING


def test_p5_nested_unpacking_shares_one_size_budget(monkeypatch):
    monkeypatch.setattr(scan.common, "MAX_ARCHIVE_BYTES", 2**20)  # the real budget is 500 MiB
    big = pickle.dumps(bytes(700_000), protocol=4)
    inner = _zip({"a.pkl": big, "b.pkl": big})  # each fits, both together do not
    findings = scan_files({"outer.zip": _zip({"inner.zip": inner})})
    assert ("outer.zip", "archive-too-large") in _rules(findings, "high") or \
        ("outer.zip::inner.zip", "archive-too-large") in _rules(findings, "high")


def test_p5_encrypted_zip_entries_are_high():
    data = bytearray(_zip({"secret.pkl": b"x", "ok.txt": b"fine"}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" flag bit
        index = data.find(signature)
        data[index + offset] |= 0x1
    findings = scan_files({"locked.zip": bytes(data)})
    assert [(f.rule, f.severity) for f in findings] == [("archive-encrypted", "high")]
    assert "'secret.pkl'" in findings[0].message


def test_p5_clean_nested_archives_have_no_findings():
    inner = _targz({"pkg/__init__.py": b"", "pkg/model.py": b"def f(x):\n    return x\n",
                    "pkg/state.pkl": pickle.dumps({"w": [1.0, 2.0]}, protocol=4)})
    report = scan_source({"dist.zip": _zip({"pkg.tar.gz": inner, "README.md": b"# hi\n"})})
    assert report.findings == ()
    assert report.pickle_imports == ()
