"""PublishForm (SPEC §5, P1-P5) driven from Python over a real embedded SQLite gallery."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import write_algorithm

import gallery_widgets as gw
from gallery_widgets.widgets.publish import PublishForm

WAIT = 60


@pytest.fixture
def backend():
    """Widget tests run over the embedded SQLite gallery only."""
    return "sqlite"


@pytest.fixture
def opener(open_as):
    return open_as


@pytest.fixture
def source(tmp_path):
    return gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "churn", "churn-forecaster"))


def publish(form: PublishForm) -> PublishForm:
    form.publish_button.click()
    return form.wait(WAIT)


def test_p1_publish_form_defaults(alice, source):
    form = PublishForm(alice, namespace={"algo": source})
    assert form.mode.value == "create"
    assert form.version.value == "1.0.0"
    assert form.visibility.value == "private"
    assert form.whitelist.layout.display == "none"
    assert form.duration_enabled.value is False
    assert form.duration_box.layout.display == "none"
    assert form.agree.value is False
    assert "Agreement for Publishing Digital Contents" in form.agreement_text.value
    assert gw.agreement_text("publishing-agreement").split("\n\n")[1][:40] in form.agreement_text.value
    assert form.result is None


def test_p1_publish_form_picks_kernel_source_and_publishes(alice, source, tmp_path):
    other = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "other", "other-algo"))
    namespace = {"algo": source, "other": other, "_hidden": source, "n": 3}
    form = PublishForm(alice, namespace=namespace)
    picked = [value for _, value in form.source_picker.options if value is not None]
    assert picked == [source, other]  # kernel variables, "_" names skipped
    form.source_picker.value = source
    assert form.title.value == "churn-forecaster"  # the source's name by default
    form.title.value = "Churn forecaster"
    form.summary.value = "Gradient boosting on usage logs"
    form.visibility.value = "public"
    form.agree.value = True
    publish(form)
    assert form.result is not None, form.messages.text
    asset = form.result
    assert (asset.title, asset.kind, asset.visibility, asset.summary) == (
        "Churn forecaster", "algorithm", "public", "Gradient boosting on usage logs")
    assert asset.content_id in form.messages.text and "1.0.0" in form.messages.text
    assert asset.content_id in form.result_view.value
    assert [a.content_id for a in alice.publishes()] == [asset.content_id]
    assert form.publish_button.disabled is False
    assert form.progress.layout.display == "none"


def test_p1_publish_form_source_argument_is_preselected(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    assert form.source_picker.value is source
    assert form.title.value == "churn-forecaster"


def test_p1_publish_form_requires_agreement(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    publish(form)
    assert form.result is None
    assert "Agreement for Publishing Digital Contents" in form.messages.text
    assert "gw-error" in form.messages.value
    assert alice.publishes() == ()
    # accepting it then publishing works
    form.agree.value = True
    publish(form)
    assert form.result is not None


def test_p3_publish_form_bad_version_inline(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    form.agree.value = True
    form.version.value = "1.0"
    publish(form)
    assert form.result is None
    assert "1.0" in form.messages.text and "version" in form.messages.text.lower()
    assert "Traceback" not in form.messages.value
    assert alice.publishes() == ()


def test_v4_publish_form_group_without_users_inline(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    form.agree.value = True
    form.visibility.value = "group"
    assert form.whitelist.layout.display == ""  # the whitelist shows for Specific users
    publish(form)
    assert form.result is None
    assert "at least one user" in form.messages.text
    assert alice.publishes() == ()


def test_v1_publish_form_specific_users_see_it(alice, bob, source, opener):
    carol = opener("carol")
    form = PublishForm(alice, source=source, namespace={})
    form.agree.value = True
    form.visibility.value = "group"
    form.whitelist.value = "bob, "
    publish(form)
    assert form.result is not None, form.messages.text
    assert form.result.visibility == "group"
    assert bob.asset(form.result.content_id).title == "churn-forecaster"
    with pytest.raises(gw.NotFound):
        carol.asset(form.result.content_id)
    form.visibility.value = "public"
    assert form.whitelist.layout.display == "none"


def test_sub3_publish_form_duration_limit_with_auto_renew(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    form.duration_enabled.value = True
    assert form.duration_box.layout.display == ""
    form.duration_days.value = 45
    form.auto_renew.value = True
    form.agree.value = True
    publish(form)
    assert form.result.duration == gw.Duration(45, auto_renew=True)


def test_p1_publish_form_without_duration_is_unlimited(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    form.duration_days.value = 10  # ignored while the limit is off
    form.agree.value = True
    publish(form)
    assert form.result.duration is None


def test_p1_publish_form_bad_duration_inline(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    form.duration_enabled.value = True
    form.duration_days.value = 0
    form.agree.value = True
    publish(form)
    assert form.result is None
    assert "duration" in form.messages.text.lower()


def test_p1_publish_form_without_source_inline(alice):
    form = PublishForm(alice, namespace={})
    assert "No gw.Algorithm" in form.source_info.value  # the empty state says what to do
    form.agree.value = True
    form.publish_button.click()
    form.wait(WAIT)
    assert "Pick a local source" in form.messages.text
    assert form.result is None


def test_p1_publish_form_duplicate_title_inline(alice, source):
    alice.publish(source, title="Churn", agree=True)
    form = PublishForm(alice, source=source, namespace={})
    form.title.value = "Churn"
    form.agree.value = True
    publish(form)
    assert form.result is None
    assert "already publish" in form.messages.text


def test_p2_publish_form_adds_version_with_next_patch(alice, source):
    first = alice.publish(source, title="Churn", agree=True)
    alice.add_version(first.content_id, source, version="1.0.3", agree=True)
    form = PublishForm(alice, source=source, namespace={})
    form.mode.value = "add"
    assert form.asset.layout.display == ""
    assert form.create_only.layout.display == "none"  # title, summary ...
    assert form.restrictions.layout.display == "none"  # ... and restrictions belong to the asset
    assert form.asset.options == (("Churn", first.content_id),)
    assert form.asset.value == first.content_id
    assert form.version.value == "1.0.4"
    form.agree.value = True
    publish(form)
    assert form.result is not None, form.messages.text
    assert form.result.content_id == first.content_id
    assert form.result.versions[0].version == "1.0.4"
    assert "1.0.4" in form.messages.text
    assert form.version.value == "1.0.5"  # ready for the next one
    # back to Create asset: the version default is 1.0.0 again
    form.mode.value = "create"
    assert form.version.value == "1.0.0"


def test_p2_publish_form_add_version_not_greater_inline(alice, source):
    first = alice.publish(source, title="Churn", version="2.0.0", agree=True)
    form = PublishForm(alice, source=source, namespace={})
    form.mode.value = "add"
    form.version.value = "1.9.9"
    form.agree.value = True
    publish(form)
    assert form.result is None
    assert "not greater than 2.0.0" in form.messages.text
    assert [v.version for v in alice.asset(first.content_id).versions] == ["2.0.0"]


def test_p2_publish_form_add_version_lists_only_my_assets_of_the_kind(alice, bob, source, tmp_path):
    mine = alice.publish(source, title="Mine", visibility="public", agree=True)
    bob.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "b", "bobs")), title="Bob's", visibility="public",
                agree=True)
    form = PublishForm(alice, source=source, namespace={})
    form.mode.value = "add"
    assert [cid for _, cid in form.asset.options] == [mine.content_id]


def test_p1_publish_form_loads_algorithm_folder(alice, tmp_path):
    folder = write_algorithm(tmp_path / "folder-algo", "folder-algo")
    form = PublishForm(alice, namespace={})
    form.folder.value = str(folder)
    form.load_button.click()
    assert isinstance(form.source_picker.value, gw.Algorithm)
    assert form.source_picker.value.name == "folder-algo"
    assert form.title.value == "folder-algo"
    assert "Loaded" in form.messages.text
    form.agree.value = True
    publish(form)
    assert form.result.kind == "algorithm"


def test_p1_publish_form_loads_model_folder(alice, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.yaml").write_text("name: churn-model\nloader: load:load\n")
    (folder / "load.py").write_text("class P:\n    def predict(self, x):\n        return x\n\ndef load(path):\n"
                                    "    return P()\n")
    form = PublishForm(alice, namespace={})
    form.folder.value = str(folder)
    form.load_button.click()
    assert isinstance(form.source_picker.value, gw.Model)
    form.agree.value = True
    publish(form)
    assert form.result.kind == "model"


def test_publish_form_load_errors_inline(alice, tmp_path):
    form = PublishForm(alice, namespace={})
    form.load_button.click()
    assert "Type the path" in form.messages.text
    empty = tmp_path / "empty"
    empty.mkdir()
    form.folder.value = str(empty)
    form.load_button.click()
    assert "neither algorithm.yaml nor model.yaml" in form.messages.text
    broken = write_algorithm(tmp_path / "broken", manifest="name: broken\nentrypoint: nothere:main\n")
    form.folder.value = str(broken)
    form.load_button.click()
    assert "entrypoint" in form.messages.text
    assert form.source_picker.value is None


def test_p6_publish_form_publishes_kernel_workflow(alice, source):
    workflow = gw.Workflow("churn-pipeline", steps=[gw.Step("train", source, params={"epochs": 1})])
    form = PublishForm(alice, namespace={"pipeline": workflow, "algo": source})
    form.source_picker.value = workflow
    assert form.title.value == "churn-pipeline"
    form.visibility.value = "public"
    form.agree.value = True
    publish(form)
    assert form.result is not None, form.messages.text
    assert form.result.kind == "workflow"
    assert {a.kind for a in alice.publishes()} == {"workflow", "algorithm"}  # the step's algorithm too (P6)


@dataclass(frozen=True)
class FakeFinding:
    path: str
    line: int
    rule: str
    severity: str
    message: str


def test_p5_publish_form_shows_scan_findings(alice, source, monkeypatch):
    findings = (
        FakeFinding("train.py", 3, "os-system", "high", "os.system runs a shell command"),
        FakeFinding("util.py", 10, "pickle-load", "medium", "pickle.load of untrusted data"),
    )

    def failing_scan(src):
        raise gw.ScanFailed(f"The security scan of {src.name!r} found 1 high-severity problem(s); nothing was "
                            "published. Fix them and publish again:\n  train.py:3 os-system", findings=findings)

    monkeypatch.setattr(alice, "_scan", failing_scan)
    form = PublishForm(alice, source=source, namespace={})
    form.agree.value = True
    publish(form)
    assert form.result is None
    assert "security scan" in form.messages.text and "nothing was published" in form.messages.text
    table = form.result_view.value
    assert "train.py:3" in table and "os-system" in table and "os.system runs a shell command" in table
    assert "util.py:10" in table and "pickle-load" in table
    assert alice.publishes() == ()


def test_publish_form_unexpected_error_inline(alice, source, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(alice, "publish", broken)
    form = PublishForm(alice, source=source, namespace={})
    form.agree.value = True
    publish(form)
    assert "Something went wrong" in form.messages.text and "disk on fire" in form.messages.text
    assert form.publish_button.disabled is False


def test_publish_form_rescan_finds_new_kernel_variables(alice, source):
    namespace = {}
    form = PublishForm(alice, namespace=namespace)
    assert form.source_picker.options == (form.source_picker.options[0],)
    namespace["algo"] = source
    form.rescan_button.click()
    assert source in [value for _, value in form.source_picker.options]
    assert "gw-publish-form" in form._dom_classes


def test_p2_publish_form_add_version_without_assets_says_so(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    form.mode.value = "add"
    assert form.asset.options == ()
    assert "no algorithms to add a version to" in form.asset_note.value
    form.mode.value = "add"  # switching again does not repeat the note
    form.agree.value = True
    form.publish_button.click()
    form.wait(WAIT)
    assert "Pick the asset" in form.messages.text
    form.mode.value = "create"
    assert form.asset_note.layout.display == "none"


def test_p5_publish_form_real_scan_failure_lists_findings(alice, tmp_path):
    pytest.importorskip("gallery_widgets.scan")
    folder = write_algorithm(tmp_path / "risky", "risky-algo", extra_files={"train.py": (
        "import subprocess\n\n\ndef main(params, inputs, outputs):\n"
        "    subprocess.call('ls ' + str(inputs['data']), shell=True)\n"
    )})
    form = PublishForm(alice, namespace={})
    form.folder.value = str(folder)
    form.load_button.click()
    form.agree.value = True
    publish(form)
    assert form.result is None
    assert "security scan" in form.messages.text
    table = form.result_view.value
    assert "train.py:5" in table and "B602" in table and "high" in table
    assert alice.publishes() == ()
    assert any("risky-algo" in n.subject or "risky-algo" in n.body for n in alice.notifications())


def test_w4_publish_form_sets_categories_description_and_cover(alice, source):
    from datetime import datetime, timezone

    from conftest import PNG_1PX

    form = PublishForm(alice, source=source, namespace={})
    assert "Industry/Retail" in form.categories.allowed_tags  # the service's taxonomy
    form.title.value = "Churn forecaster"
    form.categories.value = ["Industry/Retail"]
    form.asset_description.value = "# Churn\nTrained on **logs**."
    form.cover.value = ({"name": "c.png", "type": "image/png", "size": len(PNG_1PX), "content": memoryview(PNG_1PX),
                         "last_modified": datetime.now(timezone.utc)},)
    form.agree.value = True
    publish(form)
    assert form.result is not None, form.messages.text
    asset = alice.asset(form.result.content_id, count_view=False)
    assert asset.categories == ("Industry/Retail",)
    assert "<strong>logs</strong>" in asset.description_html
    assert alice.cover_image(asset.content_id) == PNG_1PX


def test_w4_publish_form_asks_for_both_agreements(alice, source):
    form = PublishForm(alice, source=source, namespace={})
    assert "Agreement for Publishing Digital Contents" in form.agreement_text.value
    assert "Service Agreement of the gallery" in form.agreement_text.value
    assert "Agreement for Publishing Digital Contents and the Service Agreement" in form.agree.description
    publish(form)  # not agreed: refused by the service, inline
    assert form.result is None and "Agreement for Publishing" in form.messages.text
