"""SPEC P5: the publish-time security scan of Python code, pickled files and archives.

Every input here is real: pickles come from pickle.dumps or are spelled opcode by
opcode, archives are built with zipfile/tarfile, Python goes through real bandit.
"""

from __future__ import annotations

import collections
import gzip
import io
import logging
import os
import pickle
import pickletools
import subprocess
import sys
import tarfile
import time
import warnings
import zipfile
import zlib

import pytest

from gallery_widgets import scan
from gallery_widgets.scan import Finding, blocking, scan_files


class _RunsShell:
    """Pickles as a call of os.system: pickle.dumps writes it as STACK_GLOBAL (protocol 4+)."""

    def __reduce__(self):
        return (os.system, ("echo owned",))


def _rules(findings, severity=None):
    return {(f.file, f.rule) for f in findings if severity is None or f.severity == severity}


def _zip(entries: dict, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(members, mode="w:gz") -> bytes:
    """members: (TarInfo, data or None)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file_info(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info


# --- findings ----------------------------------------------------------------------------


def test_p5_finding_prints_file_line_severity_rule_and_message():
    assert str(Finding("train.py", 12, "B602", "high", "shell=True.")) == "train.py:12 [high B602] shell=True."
    assert str(Finding("m.pkl", None, "pickle-global", "high", "x")) == "m.pkl [high pickle-global] x"


def test_p5_only_high_findings_block():
    findings = (
        Finding("a.py", 1, "B101", "low", "assert"),
        Finding("a.py", 2, "B307", "medium", "eval"),
        Finding("a.py", 3, "B602", "high", "shell"),
    )
    assert blocking(findings) == (findings[2],)
    assert blocking(()) == ()


def test_p5_scan_refuses_what_is_not_a_dict_of_bytes():
    with pytest.raises(ValueError, match="dict"):
        scan_files([("a.py", b"")])
    with pytest.raises(ValueError, match="bytes"):
        scan_files({"a.py": "print(1)"})


# --- Python code (bandit) ------------------------------------------------------------------


def test_p5_bandit_flags_shell_true_as_high():
    code = b"import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
    findings = scan_files({"src/train.py": code})
    shell = [f for f in findings if f.rule == "B602"]
    assert len(shell) == 1
    assert shell[0].file == "src/train.py" and shell[0].line == 5 and shell[0].severity == "high"
    assert "shell=True" in shell[0].message and "bandit" in shell[0].message
    assert str(shell[0]).startswith("src/train.py:5 [high B602] subprocess call with shell=True")
    assert shell[0] in blocking(findings)


def test_p5_clean_python_has_no_findings():
    code = b'"""A clean model."""\n\n\ndef fit(rows):\n    return sum(rows) / len(rows)\n'
    assert scan_files({"train.py": code, "pkg/__init__.py": b""}) == ()


def test_p5_bandit_low_and_medium_findings_are_reported_but_do_not_block():
    code = b"import pickle\n\n\ndef load(blob):\n    assert blob\n    return pickle.loads(blob)\n"
    findings = scan_files({"load.py": code})
    assert {(f.rule, f.severity) for f in findings} >= {("B403", "low"), ("B301", "medium")}
    assert blocking(findings) == ()
    # The publisher's hygiene (asserts, random, weak hashes) is left out: subscribers see findings.
    assert "B101" not in {f.rule for f in findings}


def test_p5_nosec_comment_does_not_hide_a_finding():
    code = b"import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)  # nosec\n"
    assert ("run.py", "B602") in _rules(scan_files({"run.py": code}), "high")


def test_p5_python_that_does_not_parse_is_high_and_named():
    # Was medium: code that cannot be checked must not reach a subscriber (issue 7).
    findings = scan_files({"broken.py": b"def f(:\n    pass\n", "nul.py": b"x = 1\x00\n"})
    assert {(f.file, f.rule, f.severity) for f in findings} == {
        ("broken.py", "python-unparsed", "high"),
        ("nul.py", "python-unparsed", "high"),
    }
    broken = next(f for f in findings if f.file == "broken.py")
    assert "line 1" in broken.message and "cannot be published" in broken.message
    assert "null bytes" in next(f for f in findings if f.file == "nul.py").message


def test_p5_identical_files_are_each_reported_and_paths_stay_inside_the_scan():
    code = b"import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n"
    findings = scan_files({"a/run.py": code, "b/run.py": code, "../escape.py": code})
    assert {f.file for f in findings if f.rule == "B602"} == {"a/run.py", "b/run.py", "../escape.py"}


def test_p5_bandit_log_lines_do_not_reach_the_notebook(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    scan_files({"nul.py": b"x = 1\x00\n", "ok.py": b"import subprocess\nsubprocess.call('ls', shell=True)\n"})
    assert [r for r in caplog.records if r.name.startswith(("bandit", "stevedore"))] == []
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert logging.getLogger("bandit").level == logging.NOTSET  # restored afterwards


def test_p5_importing_the_scan_module_does_not_import_bandit():
    code = "import sys, gallery_widgets.scan; print('bandit' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_p5_scanning_the_same_code_again_is_served_from_the_cache():
    code = b"".join(b"def f%d(x):\n    return x * %d\n\n\n" % (i, i) for i in range(4000))
    files = {f"pkg/m{i}.py": code + b"# %d\n" % i for i in range(5)}  # ~0.5 MB
    first = scan_files(files)
    started = time.perf_counter()
    again = scan_files(files)
    assert time.perf_counter() - started < 0.5
    assert again == first


# --- pickled files -------------------------------------------------------------------------


def test_p5_pickle_importing_os_system_is_high():
    # Protocol 0, as written by hand: GLOBAL 'os system', then the call.
    findings = scan_files({"model.pkl": b"cos\nsystem\n(S'echo owned'\ntR."})
    assert [(f.rule, f.severity) for f in findings] == [("pickle-global", "high")]
    assert "os.system" in findings[0].message


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_p5_pickle_of_a_reduce_to_os_system_is_high(protocol):
    data = pickle.dumps(_RunsShell(), protocol=protocol)  # STACK_GLOBAL from protocol 4 on
    findings = scan_files({"model.pkl": data})
    assert blocking(findings) and all(f.rule == "pickle-global" for f in findings)
    assert f"{os.system.__module__}.system" in findings[0].message


def test_p5_stack_global_resolves_memoized_strings_not_the_last_pushed_ones():
    # 'posix' and 'system' are memoized, then two harmless strings are pushed and
    # dropped, then the memo copies feed STACK_GLOBAL: only a memo model sees posix.system.
    data = (
        b"\x80\x04"
        b"\x8c\x05posix\x94"  # SHORT_BINUNICODE, MEMOIZE (0)
        b"\x8c\x06system\x94"  # MEMOIZE (1)
        b"0" b"0"  # POP POP
        b"\x8c\x0bcollections\x8c\x0bOrderedDict" b"0" b"0"
        b"h\x00h\x01"  # BINGET 0, BINGET 1
        b"\x93"  # STACK_GLOBAL
        b"\x8c\x02id\x85R."  # ('id',) REDUCE STOP
    )
    pickle_ops = [op.name for op, _, _ in pickletools.genops(data)]
    assert "STACK_GLOBAL" in pickle_ops
    findings = scan_files({"weights.pt": data})
    assert [f.rule for f in findings] == ["pickle-global"]
    assert "posix.system" in findings[0].message


def test_p5_stack_global_with_computed_operands_is_high():
    # The module name is the result of a call, so it cannot be known without loading.
    # builtins.str itself is a plain data type (allowed); what it computes is not known.
    data = b"\x80\x04\x8c\x08builtins\x8c\x03str\x93\x8c\x02os\x85R\x8c\x06system\x93)R."
    findings = scan_files({"weights.pkl": data})
    messages = " ".join(f.message for f in blocking(findings))
    assert "computed while loading" in messages and "builtins.str" not in messages


def test_p5_plain_containers_pickle_is_clean():
    value = {"a": [1, 2.5, "x", b"raw", None], "b": (1, 2), "c": {1, 2}, "d": frozenset({3}),
             "e": collections.OrderedDict(k=1), "f": bytearray(b"ab"), "g": complex(1, 2)}
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        assert scan_files({f"state{protocol}.pkl": pickle.dumps(value, protocol=protocol)}) == ()


def test_p5_numpy_pickle_is_allowed():
    np = pytest.importorskip("numpy")
    value = {"w": np.arange(12.0).reshape(3, 4), "b": np.zeros(3, dtype=np.int32), "s": np.float64(1.5),
             "t": np.dtype("int64"), "f": np.asfortranarray(np.ones((2, 2)))}
    for protocol in (2, 3, 4, 5):
        assert scan_files({"weights.joblib": pickle.dumps(value, protocol=protocol)}) == ()


def test_p5_numpy_object_arrays_of_other_classes_are_still_flagged():
    np = pytest.importorskip("numpy")
    data = pickle.dumps(np.array([_RunsShell()], dtype=object), protocol=4)
    assert any("system" in f.message for f in blocking(scan_files({"weights.pkl": data})))


def test_p5_pickle_is_recognised_by_its_header_without_an_extension():
    findings = scan_files({"checkpoints/last": pickle.dumps(_RunsShell(), protocol=4)})
    assert ("checkpoints/last", "pickle-global") in _rules(findings, "high")
    assert scan_files({"notes.txt": b"just text", "data.csv": b"a,b\n1,2\n"}) == ()


def test_p5_unreadable_pickle_is_medium_and_does_not_block():
    findings = scan_files({"weights.bin": b"\x80\x04garbage that is no pickle"})
    assert [(f.rule, f.severity) for f in findings] == [("pickle-unreadable", "medium")]
    assert blocking(findings) == ()


def test_p5_imports_before_a_corrupt_part_are_still_flagged():
    data = b"cos\nsystem\n\xff\xfe"
    assert _rules(scan_files({"model.pkl": data})) == {("model.pkl", "pickle-global"), ("model.pkl", "pickle-unreadable")}


def test_p5_pickles_written_back_to_back_are_all_walked():
    # Legacy torch.save: several pickles in one file, then raw storage bytes.
    data = pickle.dumps(119547037146038801333356, protocol=2) + pickle.dumps(_RunsShell(), protocol=2) + b"\x00" * 64
    assert ("model.pt", "pickle-global") in _rules(scan_files({"model.pt": data}), "high")


def test_p5_torch_zip_file_inner_pickles_are_scanned():
    evil = _zip({"archive/data.pkl": pickle.dumps(_RunsShell(), protocol=2), "archive/version": b"3\n"})
    findings = scan_files({"model.pt": evil})
    # Files inside a container are named container::entry.
    assert [(f.file, f.rule, f.severity) for f in findings] == [("model.pt::archive/data.pkl", "pickle-global", "high")]
    state = collections.OrderedDict(layer=[1.0, 2.0])
    clean = _zip({"archive/data.pkl": pickle.dumps(state, protocol=2), "archive/data/0": b"\x00" * 16})
    assert scan_files({"model.pth": clean}) == ()


def test_p5_torch_state_dict_globals_are_allowed():
    # What torch.save writes for a state_dict of one tensor (torch need not be installed).
    data = (
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x06\x00\x00\x00weightq\x02"
        b"ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05"
        b"X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x04tq\x08QK\x00K\x04\x85q\tK\x01\x85q\n\x89h\x00)Rq\x0b"
        b"tq\x0cRq\rs."
    )
    assert scan_files({"archive/data.pkl": data}) == ()


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress])
def test_p5_compressed_joblib_pickle_is_scanned(compress):
    findings = scan_files({"model.joblib": compress(pickle.dumps(_RunsShell(), protocol=4))})
    assert ("model.joblib", "pickle-global") in _rules(findings, "high")
    protocol_0 = scan_files({"old.joblib": compress(b"cos\nsystem\n(S'echo owned'\ntR.")})  # read by lines
    assert "os.system" in blocking(protocol_0)[0].message
    big = pickle.dumps([bytes(range(256)) * 16, list(range(200_000))], protocol=4)  # many read chunks
    assert scan_files({"model.joblib": compress(big)}) == ()


# --- archives -----------------------------------------------------------------------------


def test_p5_clean_archives_have_no_findings():
    entries = {"pkg/__init__.py": b"", "pkg/model.py": b"x = 1\n", "README.md": b"# hi\n"}
    tar_members = [(_file_info(name, data), data) for name, data in entries.items()]
    assert scan_files({
        "vendor/dep.whl": _zip(entries, zipfile.ZIP_DEFLATED),
        "data/bundle.zip": _zip(entries),
        "data/bundle.tar.gz": _tar(tar_members, "w:gz"),
        "data/bundle.tar.xz": _tar(tar_members, "w:xz"),
        "data/bundle.tar": _tar(tar_members, "w"),
    }) == ()


@pytest.mark.parametrize("entry", ["../outside.py", "pkg/../../outside.py", "/etc/cron.d/job", "C:/Windows/x.dll",
                                   "..\\outside.py"])
def test_p5_zip_with_dotdot_entry_is_high(entry):
    findings = scan_files({"data.zip": _zip({"ok.txt": b"fine", entry: b"bad"})})
    assert [(f.rule, f.severity) for f in findings] == [("archive-traversal", "high")]
    assert repr(entry) in findings[0].message


def test_p5_tar_with_traversal_entry_is_high():
    data = _tar([(_file_info("../../.bashrc", b"x"), b"x")])
    assert _rules(scan_files({"data.tgz": data}), "high") == {("data.tgz", "archive-traversal")}


def test_p5_tar_with_symlink_is_high():
    link = tarfile.TarInfo("pkg/passwd")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("pkg/hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "pkg/model.py"
    data = _tar([(_file_info("pkg/model.py", b"x"), b"x"), (link, None), (hard, None)], "w:bz2")
    findings = scan_files({"bundle.tar.bz2": data})
    assert [(f.rule, f.severity) for f in findings] == [("archive-link", "high")]
    assert "'pkg/passwd'" in findings[0].message and "'pkg/hard'" in findings[0].message


def test_p5_tar_with_device_file_is_high():
    device = tarfile.TarInfo("dev/sda")
    device.type = tarfile.BLKTYPE
    assert _rules(scan_files({"x.tar": _tar([(device, None)], "w")})) == {("x.tar", "archive-special-file")}


def test_p5_zip_with_symlink_entry_is_high():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("pkg/link")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    assert _rules(scan_files({"pkg.zip": buffer.getvalue()}), "high") == {("pkg.zip", "archive-link")}


def test_p5_zip_bomb_ratio_is_high():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w") as entry:
            chunk = bytes(2**20)
            for _ in range(60):  # 60 MiB of zeros deflate to ~60 KiB
                entry.write(chunk)
    findings = scan_files({"data.zip": buffer.getvalue()})
    assert [(f.rule, f.severity) for f in findings] == [("archive-too-large", "high")]
    assert "decompression bombs" in findings[0].message
    # The same ratio under 50 MiB unpacked is just a very compressible file.
    small = _zip({"zeros.bin": bytes(2**20)}, zipfile.ZIP_DEFLATED)
    assert scan_files({"data.zip": small}) == ()


def test_p5_tar_gz_unpacking_past_the_size_limit_stops_and_is_high(monkeypatch):
    monkeypatch.setattr(scan.common, "MAX_ARCHIVE_BYTES", 2**20)  # the real limit is 500 MiB
    data = _tar([(_file_info("big.bin", bytes(3 * 2**20)), bytes(3 * 2**20))], "w:gz")
    findings = scan_files({"big.tar.gz": data})
    assert [(f.rule, f.severity) for f in findings] == [("archive-too-large", "high")]
    assert "over the 1 MiB limit" in findings[0].message


def test_p5_zip_declaring_more_than_500_mib_is_high():
    # A zip lists sizes in its directory; one that says 501 MiB is refused without reading it.
    entries = {f"part{i}.bin": b"" for i in range(2)}
    data = bytearray(_zip(entries))
    index = data.rfind(b"PK\x01\x02")  # the last central directory record
    data[index + 24:index + 28] = (501 * 2**20).to_bytes(4, "little")  # its uncompressed size field
    findings = scan_files({"fake.zip": bytes(data)})
    assert ("fake.zip", "archive-too-large") in _rules(findings, "high")


def test_p5_archive_with_more_than_10000_entries_is_high():
    data = _zip({f"f/{i}.txt": b"" for i in range(10_001)})
    assert _rules(scan_files({"many.zip": data}), "high") == {("many.zip", "archive-too-many-files")}
    assert scan_files({"ok.zip": _zip({f"f/{i}.txt": b"" for i in range(10_000)})}) == ()


@pytest.mark.parametrize("names, clue", [
    (["Model.py", "model.py"], "'Model.py'"),
    (["data", "data/x.csv"], "'data' (file)"),
    (["pkg/a.py", "pkg/a.py"], "more than once"),
])
def test_p5_archive_name_collision_is_high(names, clue):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate we want
            for name in names:
                archive.writestr(name, b"x")
    findings = scan_files({"code.zip": buffer.getvalue()})
    assert [(f.rule, f.severity) for f in findings] == [("archive-name-collision", "high")]
    assert clue in findings[0].message


def test_p5_tar_name_collision_is_high():
    data = _tar([(_file_info("README", b"a"), b"a"), (_file_info("readme", b"b"), b"b")])
    assert _rules(scan_files({"docs.tgz": data}), "high") == {("docs.tgz", "archive-name-collision")}


def test_p5_unreadable_archive_is_high():
    # Was medium: what it holds cannot be checked, and another unpacker may read it anyway.
    findings = scan_files({"data.zip": b"this is not a zip", "data.tar.gz": b"\x1f\x8b not gzip either"})
    assert {(f.file, f.rule, f.severity) for f in findings} == {
        ("data.zip", "archive-unreadable", "high"),
        ("data.tar.gz", "archive-unreadable", "high"),
    }


def test_p5_findings_of_every_kind_come_back_sorted_in_one_scan():
    findings = scan_files({
        "z.py": b"import subprocess\nsubprocess.Popen(input(), shell=True)\n",
        "a.pkl": b"cos\nsystem\n(S'x'\ntR.",
        "m.zip": _zip({"../x": b""}),
    })
    assert [f.file for f in blocking(findings)] == ["a.pkl", "m.zip", "z.py"]
    assert list(findings) == sorted(findings, key=lambda f: (f.file, f.line or 0))
