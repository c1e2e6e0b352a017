"""AssetDetail (SPEC §5; S3, F1-F2, SUB1-SUB5, U4, P7-P10, V2-V5): driven from Python over a
real embedded (SQLite) gallery. "alice" publishes, "bob" and "carol" use, "admin" is the
first user. Every service error must land in ``detail.messages``, never escape.
"""

from __future__ import annotations

import sys
import types
from datetime import datetime, timezone

import ipywidgets as w
import pytest

import gallery_widgets as gw
from conftest import PNG_1PX
from gallery_widgets.widgets.detail import TAB_NAMES, AssetDetail


@pytest.fixture
def gallery_url(tmp_path):
    """Widget tests run over SQLite only (the service itself is tested on both backends)."""
    return f"sqlite:///{tmp_path / 'gallery.db'}"


@pytest.fixture
def carol(admin, open_as):
    return open_as("carol")


@pytest.fixture
def asset(alice, publish, make_source):
    """A public, non-official algorithm with constraints (Python and a package)."""
    source = make_source("churn", python=">=3.8", requirements=["pip>=1"])
    return publish(alice, "Churn forecaster", source=source, summary="Gradient boosting on usage logs",
                   categories=["Industry/Retail"])


def hidden(widget) -> bool:
    return widget.layout.display == "none"


def views_of(publisher, cid) -> int:
    return {a.content_id: a.views for a in publisher.publishes()}[cid]


def subscribe_through_widget(detail):
    detail.subscribe_button.click()
    if not hidden(detail.subscribe_panel):
        detail.subscribe_panel.accept_constraints.value = True
        detail.subscribe_panel.accept_agreements.value = True
        detail.subscribe_panel.continue_button.click()


# -- opening ---------------------------------------------------------------------------------------


def test_s3_detail_opening_calls_asset_once_and_counts_one_view(asset, alice, bob, monkeypatch):
    calls = []
    original = bob.asset
    monkeypatch.setattr(bob, "asset", lambda cid: calls.append(cid) or original(cid))
    detail = AssetDetail(bob, content_id=asset.content_id)
    assert calls == [asset.content_id]
    detail.favorite_button.click()
    detail.comments_tab.comment_text.value = "Nice"
    detail.comments_tab.post_button.click()
    subscribe_through_widget(detail)
    assert calls == [asset.content_id]  # nothing afterwards reads the details again
    assert views_of(alice, asset.content_id) == 1
    assert detail.asset.title == "Churn forecaster"
    assert "Churn forecaster" in detail.title_html.value
    assert "alice" in detail.meta_html.value and "Industry/Retail" in detail.meta_html.value
    assert "Gradient boosting" in detail.summary_html.value
    assert "1 view<" in detail.counters_html.value
    assert list(detail.tabs.titles)[:5] == list(TAB_NAMES[:5])
    assert "gw-detail" in detail._dom_classes


def test_s3_detail_publisher_views_do_not_count(asset, alice):
    AssetDetail(alice, content_id=asset.content_id)
    assert views_of(alice, asset.content_id) == 0


def test_v1_detail_of_invisible_asset_shows_not_found_inline(alice, bob, publish):
    secret = publish(alice, "Secret", visibility="private")
    detail = AssetDetail(bob, content_id=secret.content_id)  # must not raise
    assert detail.asset is None
    assert "No asset" in detail.messages.text and "gw-error" in detail.messages.value
    bad = AssetDetail(bob, content_id="not a content id!")
    assert bad.asset is None and "content id" in bad.messages.text


def test_detail_back_button_calls_on_back(asset, bob):
    backs = []
    detail = AssetDetail(bob, content_id=asset.content_id, on_back=lambda: backs.append(1))
    detail.back_button.click()
    assert backs == [1]
    assert AssetDetail(bob, content_id=asset.content_id).back_button is None


def test_detail_description_tab_renders_sanitized_html(asset, alice, bob):
    assert "No description yet" in AssetDetail(bob, content_id=asset.content_id).description_tab.description_html.value
    alice.edit_asset(asset.content_id, description="# Churn\nTrained on **90 days**.<script>alert(1)</script>")
    detail = AssetDetail(bob, content_id=asset.content_id)
    html = detail.description_tab.description_html.value
    assert "<strong>90 days</strong>" in html and "<script" not in html


# -- favorites (F1) -----------------------------------------------------------------------------------


def test_f1_detail_favorite_toggle_updates_the_counter(asset, alice, bob):
    detail = AssetDetail(bob, content_id=asset.content_id)
    assert detail.favorite_button.description == "☆ 0"
    detail.favorite_button.click()
    assert detail.favorite_button.description == "★ 1"
    assert "☆ 1" in detail.counters_html.value
    assert [a.content_id for a in bob.search(tab="favorites").items] == [asset.content_id]
    detail.favorite_button.click()
    assert detail.favorite_button.description == "☆ 0"
    assert bob.search(tab="favorites").total == 0


def test_f1_detail_favorite_error_is_inline(asset, alice, bob):
    detail = AssetDetail(bob, content_id=asset.content_id)
    alice.delete(asset.content_id)
    detail.favorite_button.click()
    assert "No asset" in detail.messages.text
    assert detail.favorite_button.description == "☆ 0"


# -- subscribing (SUB1-SUB5) ---------------------------------------------------------------------------


def test_sub1_detail_subscribe_needs_acceptance(asset, bob):
    detail = AssetDetail(bob, content_id=asset.content_id)
    assert detail.subscribe_button.description == "Subscribe"
    assert hidden(detail.subscribe_panel)
    detail.subscribe_button.click()
    assert not hidden(detail.subscribe_panel)
    assert "Python &gt;=3.8" in detail.subscribe_panel.constraints_html.value and "pip&gt;=1" in detail.subscribe_panel.constraints_html.value
    assert not hidden(detail.subscribe_panel.constraints_part) and not hidden(detail.subscribe_panel.agreements_part)
    assert "Data Security and Privacy Risk" in detail.subscribe_panel.agreements_html.value
    assert "Service Agreement" in detail.subscribe_panel.agreements_html.value
    assert detail.subscribe_panel.accept_constraints.description == "I accept the constraints"
    assert detail.subscribe_panel.accept_agreements.description.startswith("I have read and agree")
    assert bob.subscriptions() == ()  # asking what to accept subscribes nobody

    detail.subscribe_panel.continue_button.click()  # nothing ticked: refused, inline
    assert "accept" in detail.messages.text and "gw-error" in detail.messages.value
    assert bob.subscriptions() == ()
    detail.subscribe_panel.accept_constraints.value = True
    detail.subscribe_panel.continue_button.click()  # the agreements are still missing
    assert "Service Agreement" in detail.messages.text
    assert bob.subscriptions() == ()

    detail.subscribe_panel.accept_agreements.value = True
    detail.subscribe_panel.continue_button.click()
    assert detail.subscribe_button.description == "Subscribed"
    assert detail.subscribe_button.disabled
    assert hidden(detail.subscribe_panel)
    assert [s.status for s in bob.subscriptions()] == ["active"]
    assert "Subscribed" in detail.status_html.value


def test_sub1_detail_without_constraints_asks_only_the_agreements(alice, bob, publish, make_source):
    plain = publish(alice, "Plain", source=make_source("plain"))
    detail = AssetDetail(bob, content_id=plain.content_id)
    detail.subscribe_button.click()
    assert hidden(detail.subscribe_panel.constraints_part) and not hidden(detail.subscribe_panel.agreements_part)
    detail.subscribe_panel.accept_agreements.value = True
    detail.subscribe_panel.continue_button.click()
    assert detail.subscribe_button.description == "Subscribed"


def test_sub1_detail_official_asset_without_constraints_subscribes_at_once(admin, alice, bob, publish, make_source):
    plain = publish(alice, "Plain", source=make_source("plain"))
    admin.set_official(plain.content_id, True)
    detail = AssetDetail(bob, content_id=plain.content_id)
    assert "Official" in detail.title_html.value
    detail.subscribe_button.click()
    assert hidden(detail.subscribe_panel)
    assert detail.subscribe_button.description == "Subscribed"
    assert [s.content_id for s in bob.subscriptions()] == [plain.content_id]


def test_sub2_detail_publisher_has_no_subscribe_button(asset, alice):
    detail = AssetDetail(alice, content_id=asset.content_id)
    assert hidden(detail.subscribe_button)
    assert "You publish" in detail.status_html.value
    assert not hidden(detail.import_button)


def test_sub4_detail_cancelled_subscription_offers_retrieve(asset, bob):
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    bob.cancel_subscription(asset.content_id)
    detail = AssetDetail(bob, content_id=asset.content_id)
    assert detail.subscribe_button.description == "Retrieve subscription"
    assert hidden(detail.import_button) and detail.import_panel is None
    detail.subscribe_button.click()
    assert detail.subscribe_button.description == "Subscribed"
    assert not hidden(detail.import_button)
    assert [s.status for s in bob.subscriptions()] == ["active"]


def test_sub3_detail_expired_subscription_can_be_renewed(alice, bob, publish, make_source, clock):
    limited = publish(alice, "Limited", source=make_source("limited"), duration=gw.Duration(3))
    bob.subscribe(limited.content_id, accept_agreements=True)
    clock.advance(days=4)
    detail = AssetDetail(bob, content_id=limited.content_id)
    assert detail.subscribe_button.description == "Renew subscription"
    assert hidden(detail.import_button)
    subscribe_through_widget(detail)
    assert detail.subscribe_button.description == "Subscribed"
    assert "3 days left" in detail.status_html.value


def test_sub5_detail_refusal_from_the_service_is_inline(asset, alice, bob):
    detail = AssetDetail(bob, content_id=asset.content_id)
    alice.delete(asset.content_id)
    detail.subscribe_button.click()
    assert "No asset" in detail.messages.text


# -- import / run once usable (U4) -----------------------------------------------------------------


def test_w2_detail_import_shown_only_once_usable_and_binds_the_algorithm(asset, bob):
    detail = AssetDetail(bob, content_id=asset.content_id, namespace={})
    assert hidden(detail.import_button) and hidden(detail.run_button)
    assert detail.import_panel is None
    subscribe_through_widget(detail)
    assert not hidden(detail.import_button) and hidden(detail.run_button)
    detail.import_button.click()
    panel = detail.import_panel
    assert not hidden(detail.import_area) and panel.variable.value == "churn_forecaster"
    assert hidden(panel.code)  # the line of code is an extra
    panel.show_code.value = True
    assert not hidden(panel.code)
    assert panel.code.value == f"churn_forecaster = g.import_algorithm({asset.content_id!r})"
    panel.version.value = "1.0.0"
    panel.variable.value = "algo"
    assert panel.code.value == f"algo = g.import_algorithm({asset.content_id!r}, version='1.0.0')"
    panel.import_button.click()
    panel.wait(60)
    assert panel.import_state == "imported", panel.messages.text
    algo = detail.namespace["algo"]
    assert algo is panel.imported and algo.content_id == asset.content_id and algo.version == "1.0.0"
    assert "Imported as `algo`" in panel.messages.text and "algo.train" in panel.messages.text
    assert panel.train_form is not None and panel.train_form.algorithm is algo


def test_w2_detail_import_refuses_a_bad_variable_name(asset, bob):
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    detail = AssetDetail(bob, content_id=asset.content_id, namespace={})
    detail.import_button.click()
    detail.import_panel.variable.value = "2 bad"
    detail.import_panel.import_button.click()
    assert "not a Python identifier" in detail.import_panel.messages.text
    assert detail.namespace == {}


def test_w2_detail_model_import_binds_the_predictor(alice, bob, tmp_path):
    folder = tmp_path / "model-src"
    folder.mkdir()
    (folder / "model.yaml").write_text("name: tiny-model\nloader: load:load\n")
    (folder / "load.py").write_text("class P:\n    def predict(self, x):\n        return x\n"
                                    "def load(path):\n    return P()\n")
    model = alice.publish(gw.Model.from_dir(folder), title="Tiny model", visibility="public", agree=True)
    bob.subscribe(model.content_id, accept_constraints=True, accept_agreements=True)
    namespace = {}
    detail = AssetDetail(bob, content_id=model.content_id, namespace=namespace)
    assert "not open" in detail.code_tab.code_html.value
    assert "available for algorithms" in AssetDetail(alice, content_id=model.content_id).code_tab.code_html.value
    detail.import_button.click()
    panel = detail.import_panel
    assert panel.code.value == f"tiny_model = g.import_model({model.content_id!r})"
    panel.import_button.click()
    panel.wait(60)
    assert namespace["tiny_model"].predict(3) == 3
    assert panel.train_form is None  # a model predicts; only algorithms train


def test_u3_detail_workflow_run_opens_the_import_dialog(alice, bob, make_source, monkeypatch):
    flow = gw.Workflow("flow", steps=[gw.Step("train", make_source("step"))])
    published = alice.publish(flow, title="Flow", visibility="public", agree=True)
    opened = []

    class FakeDialog(w.VBox):
        def __init__(self, g, content_id=None, **_options):
            super().__init__()
            opened.append((g, content_id))

    fake = types.ModuleType("gallery_widgets.widgets.import_workflow")
    fake.ImportWorkflowDialog = FakeDialog
    monkeypatch.setitem(sys.modules, "gallery_widgets.widgets.import_workflow", fake)
    detail = AssetDetail(bob, content_id=published.content_id)
    assert hidden(detail.run_button) and hidden(detail.import_button)
    subscribe_through_widget(detail)
    assert not hidden(detail.run_button) and hidden(detail.import_button)
    detail.run_button.click()
    assert opened == [(bob, published.content_id)]
    assert detail.dialog_area.children == (detail.dialog,)
    assert "Steps" in detail.versions_tab.versions_html.value  # a workflow lists the algorithm versions it runs


def test_u3_detail_run_with_the_real_dialog(alice, make_source):
    flow = gw.Workflow("flow", steps=[gw.Step("train", make_source("step"))])
    published = alice.publish(flow, title="Flow", visibility="public", agree=True)
    detail = AssetDetail(alice, content_id=published.content_id)
    detail.run_button.click()
    assert detail.messages.text == ""
    assert detail.dialog is not None and detail.dialog_area.children == (detail.dialog,)


# -- discontinued (V2, SUB5) ---------------------------------------------------------------------------


def test_v2_detail_discontinued_asset_visible_to_subscriber(asset, alice, bob, carol):
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    alice.discontinue(asset.content_id)
    detail = AssetDetail(bob, content_id=asset.content_id)
    assert detail.asset is not None and detail.messages.text == ""
    assert "Discontinued" in detail.title_html.value
    assert detail.subscribe_button.description == "Subscribed"
    assert not hidden(detail.import_button)
    other = AssetDetail(carol, content_id=asset.content_id)
    assert other.asset is None and "No asset" in other.messages.text


# -- comments (F2) --------------------------------------------------------------------------------------


def test_f2_detail_comment_posting_newest_first(asset, bob, carol, clock):
    detail = AssetDetail(bob, content_id=asset.content_id)
    assert "No comments yet" in detail.comments_tab.comments_box.children[0].value
    detail.comments_tab.comment_text.value = "First!"
    detail.comments_tab.post_button.click()
    assert detail.comments_tab.comment_text.value == ""
    clock.advance(minutes=1)
    detail.comments_tab.comment_text.value = "Works <b>well</b>"
    detail.comments_tab.post_button.click()
    texts = [child.value for child in detail.comments_tab.comments_box.children]
    assert "Works &lt;b&gt;well&lt;/b&gt;" in texts[0] and "First!" in texts[1]  # plain text, newest first
    assert detail.tabs.titles[TAB_NAMES.index("Comments")] == "Comments (2)"
    assert [c.text for c in carol.comments(asset.content_id).items] == ["Works <b>well</b>", "First!"]


def test_f2_detail_comment_too_long_or_empty_is_refused_inline(asset, bob):
    detail = AssetDetail(bob, content_id=asset.content_id)
    detail.comments_tab.comment_text.value = "x" * 2001
    assert "2,001 / 2,000" in detail.comments_tab.comment_count.value
    detail.comments_tab.post_button.click()
    assert "2,000" in detail.messages.text
    assert detail.comments_tab.comment_text.value == "x" * 2001  # kept, to shorten
    detail.comments_tab.comment_text.value = "   "
    detail.comments_tab.post_button.click()
    assert "empty" in detail.messages.text
    assert bob.comments(asset.content_id).total == 0


# -- publisher editing (P7-P10, V3-V5) ------------------------------------------------------------------


def test_p10_detail_only_the_publisher_sees_edit(asset, alice, bob):
    assert AssetDetail(bob, content_id=asset.content_id).edit_buttons == {}
    detail = AssetDetail(alice, content_id=asset.content_id)
    assert set(detail.edit_buttons) == {"Description", "Versions", "Restrictions", "Paper", "Code"}


def test_p7_detail_publisher_edits_description_title_categories_cover(asset, alice, bob):
    detail = AssetDetail(alice, content_id=asset.content_id)
    detail.edit_buttons["Description"].click()
    assert detail.editing("Description") and hidden(detail.edit_buttons["Description"])
    assert detail.description_tab.edit_title.value == "Churn forecaster"
    detail.description_tab.edit_title.value = "Churn forecaster v2"
    detail.description_tab.edit_summary.value = "Now with LightGBM"
    detail.description_tab.edit_description.value = "# Usage\nCall **train**."
    detail.description_tab.edit_categories.value = ["Industry/Retail", "Scenario/Forecasting"]
    detail.description_tab.edit_cover.value = ({"name": "c.png", "type": "image/png", "size": len(PNG_1PX),
                                "content": memoryview(PNG_1PX), "last_modified": datetime.now(timezone.utc)},)
    detail.save_buttons["Description"].click()
    assert detail.messages.text == "Saved."
    assert not detail.editing("Description")
    assert "Churn forecaster v2" in detail.title_html.value
    assert "<strong>train</strong>" in detail.description_tab.description_html.value
    assert "data:image/png;base64," in detail.cover.value
    fresh = bob.asset(asset.content_id)
    assert (fresh.title, fresh.summary) == ("Churn forecaster v2", "Now with LightGBM")
    assert fresh.categories == ("Industry/Retail", "Scenario/Forecasting")
    assert fresh.cover is not None


def test_p7_detail_bad_title_is_inline_and_changes_nothing(asset, alice, bob):
    detail = AssetDetail(alice, content_id=asset.content_id)
    detail.edit_buttons["Description"].click()
    detail.description_tab.edit_title.value = ""
    detail.description_tab.edit_summary.value = "changed too"
    detail.save_buttons["Description"].click()
    assert "title" in detail.messages.text and "gw-error" in detail.messages.value
    assert detail.editing("Description")  # the form stays open with what was typed
    assert bob.asset(asset.content_id).summary == "Gradient boosting on usage logs"
    detail.cancel_buttons["Description"].click()
    assert not detail.editing("Description")


def test_p7_detail_paper_bad_url_is_inline_and_changes_nothing(asset, alice, bob):
    detail = AssetDetail(alice, content_id=asset.content_id)
    assert "No paper" in detail.paper_tab.paper_html.value
    detail.edit_buttons["Paper"].click()
    detail.paper_tab.edit_paper_title.value = "Gradient boosting"
    detail.paper_tab.edit_paper_url.value = "ftp://x"
    detail.save_buttons["Paper"].click()
    assert "http" in detail.messages.text and "gw-error" in detail.messages.value
    assert detail.editing("Paper")
    assert bob.asset(asset.content_id).paper is None
    assert detail.asset.paper is None
    detail.paper_tab.edit_paper_url.value = "https://arxiv.org/abs/1603.02754"
    detail.save_buttons["Paper"].click()
    assert detail.messages.text == "Saved."
    assert 'href="https://arxiv.org/abs/1603.02754"' in detail.paper_tab.paper_html.value
    assert bob.asset(asset.content_id).paper == gw.Paper("Gradient boosting", "https://arxiv.org/abs/1603.02754")
    detail.edit_buttons["Paper"].click()  # both empty removes it
    detail.paper_tab.edit_paper_title.value = ""
    detail.paper_tab.edit_paper_url.value = ""
    detail.save_buttons["Paper"].click()
    assert bob.asset(asset.content_id).paper is None


def test_p7_detail_code_tab_edit_and_preview(asset, alice, bob):
    viewer = AssetDetail(bob, content_id=asset.content_id)
    assert "not open" in viewer.code_tab.code_html.value
    detail = AssetDetail(alice, content_id=asset.content_id)
    detail.edit_buttons["Code"].click()
    detail.code_tab.edit_code_open.value = True
    detail.code_tab.edit_license.value = "MIT"
    detail.save_buttons["Code"].click()
    assert "MIT" in detail.code_tab.code_html.value and "Yes" in detail.code_tab.code_html.value
    fresh = bob.asset(asset.content_id)
    assert (fresh.code_open, fresh.license) == (True, "MIT")

    viewer = AssetDetail(bob, content_id=asset.content_id)
    assert "Subscribe to preview" in viewer.code_tab.code_html.value and hidden(viewer.code_tab.code_area)
    subscribe_through_widget(viewer)
    assert not hidden(viewer.code_tab.code_area)
    viewer.tabs.selected_index = TAB_NAMES.index("Code")
    viewer.code_tab.code_thread.join(30)
    assert "train.py" in viewer.code_tab.code_files.options
    assert "def main" in viewer.code_tab.code_preview.value
    viewer.code_tab.code_files.value = "algorithm.yaml"
    assert "entrypoint" in viewer.code_tab.code_preview.value


def test_p7_detail_publisher_previews_closed_code(asset, alice):
    detail = AssetDetail(alice, content_id=asset.content_id)
    detail.tabs.selected_index = TAB_NAMES.index("Code")
    detail.code_tab.code_thread.join(30)
    assert "def main" in detail.code_tab.code_preview.value


def test_p8_detail_versions_edit_and_discontinue(asset, alice, bob, make_source):
    alice.add_version(asset.content_id, make_source("churn"), description="second", agree=True)
    detail = AssetDetail(alice, content_id=asset.content_id)
    assert "1.0.1" in detail.versions_tab.versions_html.value and "second" in detail.versions_tab.versions_html.value
    detail.edit_buttons["Versions"].click()
    assert set(detail.versions_tab.version_descriptions) == {"1.0.0", "1.0.1"}
    detail.versions_tab.version_descriptions["1.0.0"].value = "Initial release."
    detail.save_buttons["Versions"].click()
    assert detail.messages.text == "Saved."
    assert "Initial release." in detail.versions_tab.versions_html.value
    assert {v.version: v.description for v in bob.asset(asset.content_id).versions}["1.0.0"] == "Initial release."

    detail.edit_buttons["Versions"].click()
    detail.versions_tab.discontinue_buttons["1.0.0"].click()
    confirm = detail.versions_tab.confirm  # W4: it asks first and says what will happen
    assert confirm.is_open and "1.0.1" in confirm.text.value and "0 subscribers keep access" in confirm.text.value
    assert {v.version: v.status for v in bob.asset(asset.content_id).versions}["1.0.0"] == "normal"
    confirm.cancel_button.click()
    assert not confirm.is_open
    assert {v.version: v.status for v in bob.asset(asset.content_id).versions}["1.0.0"] == "normal"
    detail.versions_tab.discontinue_buttons["1.0.0"].click()
    confirm.ok_button.click()
    assert "discontinued" in detail.messages.text
    assert {v.version: v.status for v in detail.asset.versions}["1.0.0"] == "discontinued"
    assert detail.versions_tab.discontinue_buttons["1.0.0"].disabled
    detail.versions_tab.discontinue_buttons["1.0.1"].click()  # the last normal version: refused (P8), inline
    confirm.ok_button.click()
    assert "at least two" in detail.messages.text
    assert {v.version: v.status for v in detail.asset.versions}["1.0.1"] == "normal"
    assert [v.version for v in bob.asset(asset.content_id).versions] == ["1.0.1"]


def test_v3_detail_restrictions_widen_only(alice, bob, carol, publish, make_source):
    private = publish(alice, "Private one", source=make_source("p"), visibility="private")
    detail = AssetDetail(alice, content_id=private.content_id)
    assert "Only me" in detail.restrictions_tab.restrictions_html.value and "Unlimited" in detail.restrictions_tab.restrictions_html.value
    detail.edit_buttons["Restrictions"].click()
    assert [v for _, v in detail.restrictions_tab.edit_visibility.options] == ["private", "group", "public"]
    assert hidden(detail.restrictions_tab.edit_whitelist)  # the users box is for "Specific users" only
    detail.restrictions_tab.edit_visibility.value = "group"
    assert not hidden(detail.restrictions_tab.edit_whitelist)
    detail.save_buttons["Restrictions"].click()  # group without users: V4, inline
    assert "at least one user" in detail.messages.text
    assert detail.asset.visibility == "private" and detail.editing("Restrictions")
    detail.restrictions_tab.edit_whitelist.value = "bob"
    detail.restrictions_tab.edit_duration_on.value = True
    detail.restrictions_tab.edit_duration_days.value = 30
    detail.restrictions_tab.edit_auto_renew.value = True
    detail.save_buttons["Restrictions"].click()
    assert detail.messages.text == "Saved."
    assert "Specific users" in detail.restrictions_tab.restrictions_html.value and "bob" in detail.restrictions_tab.restrictions_html.value
    assert "30 days, auto-renew" in detail.restrictions_tab.restrictions_html.value
    assert AssetDetail(bob, content_id=private.content_id).asset is not None
    assert AssetDetail(carol, content_id=private.content_id).asset is None

    detail.edit_buttons["Restrictions"].click()
    assert [v for _, v in detail.restrictions_tab.edit_visibility.options] == ["group", "public"]  # widening only
    detail.restrictions_tab.edit_visibility.value = "public"
    detail.restrictions_tab.edit_duration_on.value = False
    detail.save_buttons["Restrictions"].click()
    assert detail.asset.visibility == "public" and detail.asset.duration is None
    detail.edit_buttons["Restrictions"].click()
    assert detail.restrictions_tab.edit_visibility.disabled and [v for _, v in detail.restrictions_tab.edit_visibility.options] == ["public"]


def test_v3_detail_narrowing_by_hand_is_refused_inline(alice, publish, make_source):
    public = publish(alice, "Public one", source=make_source("p"))
    detail = AssetDetail(alice, content_id=public.content_id)
    detail.edit_buttons["Restrictions"].click()
    detail.restrictions_tab.edit_visibility.options = [("Only me", "private"), ("Public", "public")]  # a tampered form
    detail.restrictions_tab.edit_visibility.value = "private"
    detail.save_buttons["Restrictions"].click()
    assert "public" in detail.messages.text and detail.asset.visibility == "public"


def test_v5_detail_versions_whitelists(alice, bob, carol, publish, make_source):
    group = publish(alice, "Group one", source=make_source("g"), visibility="group", group_users=["bob"])
    alice.add_version(group.content_id, make_source("g"), agree=True)
    detail = AssetDetail(alice, content_id=group.content_id)
    detail.edit_buttons["Versions"].click()
    assert detail.versions_tab.version_whitelists["1.0.1"].value == "bob"
    detail.versions_tab.version_whitelists["1.0.1"].value = "bob, carol"
    detail.save_buttons["Versions"].click()
    assert detail.messages.text == "Saved."
    assert {v.version: v.whitelist for v in detail.asset.versions}["1.0.1"] == ("bob", "carol")
    assert [v.version for v in carol.asset(group.content_id).versions] == ["1.0.1"]


def test_p10_detail_edit_after_losing_the_asset_is_inline(asset, alice, admin):
    detail = AssetDetail(alice, content_id=asset.content_id)
    admin_detail = AssetDetail(admin, content_id=asset.content_id)
    assert "Paper" in admin_detail.edit_buttons  # admins edit too (P10)
    assert "gallery admin" in admin_detail.status_html.value and hidden(admin_detail.subscribe_button)
    alice.delete(asset.content_id)
    detail.edit_buttons["Code"].click()
    detail.code_tab.edit_code_open.value = True
    detail.save_buttons["Code"].click()
    assert "No asset" in detail.messages.text


# -- round two: admin flags, Add Version, open code download (W4, W6) ---------------------------------


def test_w4_detail_admin_toggles_official_and_featured(asset, admin, bob):
    assert hidden(AssetDetail(bob, content_id=asset.content_id).admin_flags)
    detail = AssetDetail(admin, content_id=asset.content_id)
    assert not hidden(detail.admin_flags)
    assert detail.official_toggle.value is False
    detail.official_toggle.value = True
    assert detail.asset.official and bob.asset(asset.content_id, count_view=False).official
    assert "Official" in detail.title_html.value and "now official" in detail.messages.text
    detail.featured_toggle.value = True
    assert bob.asset(asset.content_id, count_view=False).featured
    detail.featured_toggle.value = False
    assert not bob.asset(asset.content_id, count_view=False).featured


def test_w4_detail_add_version_from_the_versions_tab(asset, alice, make_source):
    source = make_source("churn")
    detail = AssetDetail(alice, content_id=asset.content_id, namespace={"new_churn": source})
    tab = detail.versions_tab
    tab.add_version_button.click()
    form = tab.add_form
    assert not hidden(tab.add_area) and form.mode.value == "add"
    assert form.asset.value == asset.content_id and form.version.value == "1.0.1"
    form.source_picker.value = source
    form.description.value = "faster"
    form.agree.value = True
    form.publish_button.click()
    form.wait(60)
    assert "Published" in form.messages.text, form.messages.text
    assert [v.version for v in detail.asset.versions][:1] == ["1.0.1"]
    assert "1.0.1" in tab.versions_html.value and "faster" in tab.versions_html.value


def test_w4_detail_add_version_only_for_the_publisher(asset, bob):
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    detail = AssetDetail(bob, content_id=asset.content_id)
    assert detail.versions_tab.add_version_button not in detail.versions_tab.view.children


def test_w6_detail_code_download_into_the_notebook_folder(asset, alice, bob, tmp_path):
    alice.edit_asset(asset.content_id, code_open=True)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    detail = AssetDetail(bob, content_id=asset.content_id)
    tab = detail.code_tab
    assert not hidden(tab.download_area)
    tab.download_dir = tmp_path / "notebook"
    tab.download_dir.mkdir()
    tab.download_button.click()
    tab.download_thread.join(60)
    assert tab.downloaded == tmp_path / "notebook" / "churn-forecaster-1.0.0.zip"
    assert tab.downloaded.is_file()
    listing = tab.download_html.value
    assert "train.py" in listing and "algorithm.yaml" in listing and " B<" in listing
    assert "Saved <code>churn-forecaster-1.0.0.zip</code>" in listing
    tab.download_button.click()  # again: the same file, not a second copy
    tab.download_thread.join(60)
    assert sorted(p.name for p in (tmp_path / "notebook").iterdir()) == ["churn-forecaster-1.0.0.zip"]


def test_w6_detail_closed_code_offers_no_download(asset, bob):
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    detail = AssetDetail(bob, content_id=asset.content_id)
    assert hidden(detail.code_tab.download_area)
    assert "not open" in detail.code_tab.code_html.value
