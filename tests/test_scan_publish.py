"""SPEC P5: every publish is security-scanned. A high finding fails the publish with the
findings listed, nothing of it stays in the gallery, and the publisher is notified in the
gallery and by email (a real SMTP server, aiosmtpd, on loopback). Lower findings publish
and are kept on the version."""

from __future__ import annotations

import datetime
import pickle
import socket
import textwrap

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

import gallery_widgets as gw
from gallery_widgets.errors import ScanFailed
from gallery_widgets.store.schema import AssetRow, VersionRow

from conftest import SmtpInbox, write_algorithm

SHELL_TRAIN = textwrap.dedent("""\
    import subprocess


    def main(params, inputs, outputs):
        cmd = params.get("cmd", "ls")
        subprocess.call(cmd, shell=True)
        return {}
""")
SHELL_LINE = 6

LOW_TRAIN = textwrap.dedent("""\
    def main(params, inputs, outputs):
        assert params["epochs"] > 0
        return {"loss": eval("0.5")}
""")

# Protocol 0 by hand: "import os.system and call it" — never unpickled here, only scanned.
OS_SYSTEM_PICKLE = b"cos\nsystem\n(S'echo owned'\ntR."


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on 127.0.0.1 that the gallery is configured to use."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="gallery-test")
    controller.start()
    monkeypatch.setenv("GALLERY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("GALLERY_SMTP_PORT", str(port))
    monkeypatch.setenv("GALLERY_SMTP_FROM", "gallery@test.invalid")
    for name in ("GALLERY_SMTP_USER", "GALLERY_SMTP_PASSWORD", "GALLERY_SMTP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)
    yield inbox
    controller.stop()


@pytest.fixture
def no_smtp(monkeypatch):
    monkeypatch.delenv("GALLERY_SMTP_HOST", raising=False)


def source(tmp_path, name, train, **options) -> gw.Algorithm:
    root = write_algorithm(tmp_path / "src" / name, name, **options)
    (root / "train.py").write_text(train)
    return gw.Algorithm.from_dir(root)


def artifact_files(tmp_path) -> set[str]:
    root = tmp_path / "artifacts"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def market_total(g, kind, query) -> int:
    return g.search(kind=kind, query=query).total


def test_p5_high_finding_fails_the_publish_with_file_line_and_rule(alice, admin, tmp_path, no_smtp):
    before = artifact_files(tmp_path)

    with pytest.raises(ScanFailed) as caught:
        alice.publish(source(tmp_path, "shelly", SHELL_TRAIN), title="Shelly", visibility="public", agree=True)

    error = caught.value
    assert f"train.py:{SHELL_LINE}" in str(error) and "B602" in str(error) and "nothing was published" in str(error)
    high = [f for f in error.findings if f.severity == "high"]
    assert [(f.file, f.line, f.rule) for f in high] == [("train.py", SHELL_LINE, "B602")]
    assert any(f.rule == "B404" and f.severity == "low" for f in error.findings)  # all findings are carried
    assert alice.publishes() == ()
    assert market_total(alice, "algorithm", "Shelly") == 0
    assert market_total(admin, "algorithm", "Shelly") == 0
    assert artifact_files(tmp_path) == before

    notes = alice.notifications()
    assert len(notes) == 1
    assert "Publish failed" in notes[0].subject and "shelly" in notes[0].subject
    assert f"train.py:{SHELL_LINE}" in notes[0].body and "B602" in notes[0].body
    assert notes[0].read is False
    assert admin.notifications() == ()


def test_p5_failed_publish_is_emailed_to_the_publisher(alice, tmp_path, smtp):
    alice.update_profile(email="alice@example.org")

    with pytest.raises(ScanFailed):
        alice.publish(source(tmp_path, "shelly", SHELL_TRAIN), title="Shelly", agree=True)

    messages = smtp.messages()
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == "alice@example.org"
    assert "Publish failed" in message["Subject"] and "shelly" in message["Subject"]
    body = message.get_content()
    assert f"train.py:{SHELL_LINE}" in body and "B602" in body and "high" in body
    assert smtp.envelopes[0].rcpt_tos == ["alice@example.org"]
    assert len(alice.notifications()) == 1  # the in-gallery notification as well


def test_p5_no_email_without_an_address_but_the_notification_stays(alice, tmp_path, smtp):
    with pytest.raises(ScanFailed):
        alice.publish(source(tmp_path, "shelly", SHELL_TRAIN), title="Shelly", agree=True)
    assert smtp.messages() == []
    assert len(alice.notifications()) == 1


def test_p5_unreachable_smtp_server_still_fails_cleanly_with_a_notification(alice, tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("GALLERY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("GALLERY_SMTP_PORT", str(closed_port))
    alice.update_profile(email="alice@example.org")
    with pytest.raises(ScanFailed):
        alice.publish(source(tmp_path, "shelly", SHELL_TRAIN), title="Shelly", agree=True)
    assert len(alice.notifications()) == 1
    assert alice.publishes() == ()


def test_p5_pickle_importing_os_system_fails_the_publish(alice, tmp_path, no_smtp):
    before = artifact_files(tmp_path)
    algo = source(tmp_path, "pickled", "def main(params, inputs, outputs):\n    return {}\n",
                  extra_files={"weights.pkl": OS_SYSTEM_PICKLE})

    with pytest.raises(ScanFailed, match="os.system") as caught:
        alice.publish(algo, title="Pickled", agree=True)

    assert [(f.file, f.rule, f.severity) for f in caught.value.findings] == [("weights.pkl", "pickle-global", "high")]
    assert alice.publishes() == () and artifact_files(tmp_path) == before
    assert "weights.pkl" in alice.notifications()[0].body


def test_p5_model_with_a_malicious_pickle_fails_the_publish(alice, tmp_path, no_smtp):
    root = tmp_path / "model"
    root.mkdir()
    (root / "model.yaml").write_text("name: risky\nloader: model:load\n")
    (root / "model.py").write_text("import pickle\n\ndef load(folder):\n    return None\n")
    (root / "model.bin").write_bytes(OS_SYSTEM_PICKLE)
    with pytest.raises(ScanFailed, match="model.bin"):
        alice.publish(gw.Model.from_dir(root), title="Risky", agree=True)
    assert alice.publishes() == ()


def test_p5_low_and_medium_findings_publish_and_are_kept_on_the_version(alice, tmp_path, no_smtp):
    asset = alice.publish(source(tmp_path, "lowkey", LOW_TRAIN), title="Low key", agree=True)

    assert [v.version for v in asset.versions] == ["1.0.0"]
    with alice._db.read() as s:
        findings = s.scalar(select(VersionRow.findings).join(AssetRow, AssetRow.id == VersionRow.asset_id)
                            .where(AssetRow.content_id == asset.content_id))
    kept = {(f["file"], f["line"], f["rule"], f["severity"]) for f in findings}
    assert ("train.py", 3, "B307", "medium") in kept
    assert ("train.py", 2, "B101", "low") not in kept  # asserts are the publisher's hygiene, not shown
    assert all(f["severity"] != "high" for f in findings)
    assert all(f["message"] for f in findings)
    assert alice.notifications() == ()


def test_p5_add_version_is_scanned_too(alice, tmp_path, no_smtp):
    asset = alice.publish(source(tmp_path, "clean", "def main(params, inputs, outputs):\n    return {}\n"),
                          title="Clean", agree=True)
    before = artifact_files(tmp_path)
    with pytest.raises(ScanFailed, match="B602"):
        alice.add_version(asset.content_id, source(tmp_path, "clean-2", SHELL_TRAIN), agree=True)
    assert [v.version for v in alice.asset(asset.content_id).versions] == ["1.0.0"]
    assert artifact_files(tmp_path) == before
    assert len(alice.notifications()) == 1


def test_p5_workflow_release_with_a_failing_local_step_publishes_nothing(alice, tmp_path, no_smtp):
    clean = source(tmp_path, "prep", "def main(params, inputs, outputs):\n    return {}\n")
    bad = source(tmp_path, "shelly", SHELL_TRAIN)
    prep = gw.Step("prep", clean)
    flow = gw.Workflow("risky-flow", steps=[prep, gw.Step("run", bad)])
    before = artifact_files(tmp_path)

    with pytest.raises(ScanFailed, match="B602"):
        flow.release_to_gallery(title="Risky flow", gallery=alice)

    assert alice.publishes() == ()
    assert market_total(alice, "workflow", "Risky") == 0 and market_total(alice, "algorithm", "prep") == 0
    assert artifact_files(tmp_path) == before
    assert "B602" in alice.notifications()[0].body
    with pytest.raises(ScanFailed):
        alice.publish(flow, title="Risky flow", agree=True)  # the g.publish path too
    assert alice.publishes() == ()


# --- findings and pickle imports are shown on the version (issue 7) -------------------------------


def _sklearn_model_dir(tmp_path, name="churn"):
    import io

    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    X = rng.rand(60, 3)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, (X[:, 0] > 0.5).astype(int))
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    root = tmp_path / name
    root.mkdir()
    (root / "model.yaml").write_text(f"name: {name}\nloader: model:load\n")
    (root / "model.py").write_text(
        "import joblib\n\n\ndef load(folder):\n    return joblib.load(folder / 'model.joblib')\n\n\n"
        "def score(x):\n    return eval(x)\n"
    )
    (root / "model.joblib").write_bytes(buffer.getvalue())
    return root


def test_p5_scikit_learn_model_publishes_and_everyone_who_sees_it_sees_findings_and_imports(
        alice, bob, carol, tmp_path, no_smtp):
    asset = alice.publish(gw.Model.from_dir(_sklearn_model_dir(tmp_path)), title="Churn", visibility="public",
                          agree=True)
    private = alice.publish(gw.Model.from_dir(_sklearn_model_dir(tmp_path, "hidden")), title="Hidden", agree=True)

    for viewer in (alice, bob):
        version = viewer.asset(asset.content_id).versions[0]
        assert ("model.py", 9, "B307", "medium") in {(f.file, f.line, f.rule, f.severity) for f in version.findings}
        unreviewed = {f.message.split(" imports ")[1].split(" ")[0] for f in version.findings
                      if f.rule == "pickle-unreviewed"}
        assert "sklearn.pipeline.Pipeline" in unreviewed
        assert all(isinstance(f, gw.Finding) and f.severity in ("low", "medium") for f in version.findings)
        assert {"sklearn.linear_model._logistic.LogisticRegression", "joblib.numpy_pickle.NumpyArrayWrapper",
                "numpy.dtype"} <= set(version.pickle_imports)
        assert list(version.pickle_imports) == sorted(set(version.pickle_imports))
    assert asset.versions[0].pickle_imports == bob.asset(asset.content_id).versions[0].pickle_imports
    with pytest.raises(gw.NotFound):  # the findings of a version nobody else may see stay hidden
        carol.asset(private.content_id)
    assert alice.notifications() == ()


def test_p5_python_that_cannot_be_checked_fails_the_publish(alice, tmp_path, no_smtp):
    before = artifact_files(tmp_path)
    broken = source(tmp_path, "broken", "def main(params, inputs, outputs):\n    return {\n")
    with pytest.raises(ScanFailed, match="python-unparsed") as caught:
        alice.publish(broken, title="Broken", agree=True)
    assert [(f.file, f.severity) for f in caught.value.findings if f.rule == "python-unparsed"] == [("train.py", "high")]
    assert alice.publishes() == () and artifact_files(tmp_path) == before
    assert "cannot be published" in alice.notifications()[0].body


def test_p5_deep_expression_before_a_shell_call_fails_the_publish(alice, tmp_path, no_smtp):
    deep = "x = " + " + ".join(["1"] * 2000)
    train = f"import os\n{deep}\n\n\ndef main(params, inputs, outputs):\n    os.system(params['cmd'])\n    return {{}}\n"
    with pytest.raises(ScanFailed, match="B605"):
        alice.publish(source(tmp_path, "deep", train), title="Deep", agree=True)
    assert alice.publishes() == ()


def test_p5_model_with_a_pickle_inside_a_nested_archive_fails_the_publish(alice, tmp_path, no_smtp):
    import io
    import zipfile

    def zipped(entries):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in entries.items():
                archive.writestr(name, data)
        return buffer.getvalue()

    algo = source(tmp_path, "nested", "def main(params, inputs, outputs):\n    return {}\n",
                  extra_files={"assets/bundle.zip": zipped({"inner.zip": zipped({"weights.pkl": OS_SYSTEM_PICKLE})})})
    with pytest.raises(ScanFailed) as caught:
        alice.publish(algo, title="Nested", agree=True)
    assert [(f.file, f.rule) for f in caught.value.findings if f.severity == "high"] == [
        ("assets/bundle.zip::inner.zip::weights.pkl", "pickle-global")]


def test_p5_workflow_release_keeps_each_step_algorithms_findings(alice, bob, tmp_path, no_smtp):
    step_source = source(tmp_path, "evalish", LOW_TRAIN,
                         extra_files={"state.pkl": pickle.dumps({"when": datetime.date(2026, 1, 1)})})
    flow = gw.Workflow("eval-flow", steps=[gw.Step("score", step_source)])
    flow.release_to_gallery(title="Eval flow", gallery=alice, visibility="public")
    algorithm = next(a for a in alice.publishes() if a.kind == "algorithm")
    version = bob.asset(algorithm.content_id).versions[0]
    assert ("train.py", 3, "B307", "medium") in {(f.file, f.line, f.rule, f.severity) for f in version.findings}
    assert version.pickle_imports == ("datetime.date",)


def test_p5_stored_scan_records_that_are_malformed_read_back_safely(alice, tmp_path, no_smtp):
    asset = alice.publish(source(tmp_path, "clean", "def main(params, inputs, outputs):\n    return {}\n"),
                          title="Clean", visibility="public", agree=True)
    with alice._db.write() as s:
        row = s.scalar(select(VersionRow).join(AssetRow, AssetRow.id == VersionRow.asset_id)
                       .where(AssetRow.content_id == asset.content_id))
        row.findings = ["junk", {"file": "a.py", "line": "7", "rule": "B1", "severity": "low", "message": "m"},
                        {"file": "m.pkl", "rule": "pickle-import", "severity": "info", "message": "numpy.dtype"}]
    version = alice.asset(asset.content_id).versions[0]
    assert version.findings == (gw.Finding("a.py", None, "B1", "low", "m"),)
    assert version.pickle_imports == ("numpy.dtype",)
