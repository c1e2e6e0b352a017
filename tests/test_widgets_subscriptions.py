"""SubscriptionsTable (SPEC §5, M2, SUB3, SUB4) driven from Python over a real embedded SQLite gallery."""

from __future__ import annotations

import pytest
from conftest import write_algorithm

import gallery_widgets as gw
from gallery_widgets.kernel.handles import ImportedAlgorithm
from gallery_widgets.widgets.import_workflow import ImportWorkflowDialog
from gallery_widgets.widgets.subscriptions import SubscriptionsTable, import_line


@pytest.fixture
def backend():
    """Widget tests run over the embedded SQLite gallery only."""
    return "sqlite"


@pytest.fixture
def opener(open_as):
    return open_as


@pytest.fixture
def assets(alice, bob, tmp_path, clock):
    """alice publishes two public algorithms and a workflow; bob subscribes to all three."""
    churn_src = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "churn", "churn"))
    vision_src = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "vision", "vision"))
    churn = alice.publish(churn_src, title="Churn forecaster", visibility="public", duration=gw.Duration(30),
                          agree=True)
    clock.advance(minutes=1)
    vision = alice.publish(vision_src, title="Image classifier", visibility="public", agree=True)
    clock.advance(minutes=1)
    flow = alice.publish(gw.Workflow("churn-flow", steps=[gw.Step("train", f"{churn.content_id}@1.0.0")]),
                         title="Churn pipeline", visibility="public", agree=True)
    for asset in (churn, vision, flow):
        clock.advance(minutes=1)
        bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    return {"churn": churn.content_id, "vision": vision.content_id, "flow": flow.content_id}


def row_text(row) -> str:
    return row.info.value


def shown(button) -> bool:
    return button.layout.display != "none"


def test_m2_table_lists_subscriptions_with_quota(bob, assets):
    table = SubscriptionsTable(bob, kind="algorithm", namespace={})
    assert table.kind.value == "algorithm"
    assert [row.content_id for row in table.rows] == [assets["vision"], assets["churn"]]  # newest first
    churn = table.row(assets["churn"])
    text = row_text(churn)
    assert "Churn forecaster" in text and "alice" in text
    assert "Subscribed at 2026-01-15 09:" in text
    assert ">Subscribed<" in text
    assert "30 days" in text
    assert "Unlimited" in row_text(table.row(assets["vision"]))
    assert shown(churn.cancel_button) and not shown(churn.retrieve_button)
    assert churn.import_button.disabled is False
    assert "2 subscriptions" in table.count.value


def test_m2_table_kind_tabs(bob, assets):
    table = SubscriptionsTable(bob, namespace={})
    assert table.kind.value == "all"
    assert len(table.rows) == 3
    table.kind.value = "workflow"
    assert [row.content_id for row in table.rows] == [assets["flow"]]
    table.kind.value = "model"
    assert table.rows == []
    assert "No subscriptions match" in table.list.children[0].value


def test_sub4_table_cancel_then_retrieve(bob, assets, clock):
    before = {s.content_id: s for s in bob.subscriptions()}[assets["churn"]]
    table = SubscriptionsTable(bob, kind="algorithm", namespace={})
    table.row(assets["churn"]).cancel_button.click()
    assert table.confirm.is_open and "retrieve it later" in table.confirm.text.value  # W4: asks first
    assert {s.content_id: s.status for s in bob.subscriptions()}[assets["churn"]] == "active"
    table.confirm.ok_button.click()
    assert "canceled" in table.messages.text
    row = table.row(assets["churn"])
    assert "Subscription canceled" in row_text(row)
    assert shown(row.retrieve_button) and not shown(row.cancel_button)
    assert row.import_button.disabled is True  # SUB4: no import while cancelled
    assert {s.content_id: s.status for s in bob.subscriptions()}[assets["churn"]] == "cancelled"
    with pytest.raises(gw.SubscriptionRequired):
        bob.import_algorithm(assets["churn"])

    clock.advance(days=3)
    row.retrieve_button.click()
    assert "retrieved" in table.messages.text
    row = table.row(assets["churn"])
    assert ">Subscribed<" in row_text(row)
    assert shown(row.cancel_button) and not shown(row.retrieve_button)
    after = {s.content_id: s for s in bob.subscriptions()}[assets["churn"]]
    assert after.status == "active"
    assert after.expires_at == before.expires_at  # the original quota: the expiry did not move
    assert "27 days" in row_text(row)


def test_m2_table_keyword_filter(bob, assets):
    table = SubscriptionsTable(bob, namespace={})
    table.query.value = "churn"
    assert {row.content_id for row in table.rows} == {assets["churn"], assets["flow"]}
    table.query.value = "image"
    assert [row.content_id for row in table.rows] == [assets["vision"]]
    table.query.value = "alice"  # the publisher matches too
    assert len(table.rows) == 3
    table.query.value = "nothing like it"
    assert table.rows == []
    assert "No subscriptions match these filters" in table.list.children[0].value


def test_m2_table_status_filter(bob, assets, clock):
    table = SubscriptionsTable(bob, kind="algorithm", namespace={})
    table.row(assets["vision"]).cancel_button.click()
    table.confirm.ok_button.click()
    table.status.value = "cancelled"
    assert [row.content_id for row in table.rows] == [assets["vision"]]
    table.status.value = "active"
    assert [row.content_id for row in table.rows] == [assets["churn"]]
    table.status.value = "expired"
    assert table.rows == []
    clock.advance(days=31)
    table.refresh()
    assert [row.content_id for row in table.rows] == [assets["churn"]]
    table.status.value = "all"
    assert len(table.rows) == 2


def test_sub3_table_shows_expired(bob, assets, clock):
    clock.advance(days=31)
    table = SubscriptionsTable(bob, kind="algorithm", namespace={})
    row = table.row(assets["churn"])
    assert ">Expired<" in row_text(row)
    assert "Remaining quota <b>Expired</b>" in row_text(row)
    assert row.import_button.disabled is True
    assert "Unlimited" in row_text(table.row(assets["vision"]))


def test_m2_table_empty_state(alice):
    table = SubscriptionsTable(alice, namespace={})
    assert table.rows == []
    assert "No subscriptions yet" in table.list.children[0].value
    assert "gw-subscriptions" in table._dom_classes


def test_w2_table_import_binds_the_algorithm_in_the_kernel(bob, assets):
    namespace = {"g": bob}
    table = SubscriptionsTable(bob, kind="algorithm", namespace=namespace)
    table.row(assets["churn"]).import_button.click()
    panel = table.import_panel
    assert table.dialog_area.children == (panel,) and table.import_dialog is None
    line = panel.code.value  # the line of code stays, as an extra
    assert line == f"churn_forecaster = g.import_algorithm({assets['churn']!r})"
    panel.variable.value = "churn"
    panel.import_button.click()
    panel.wait(60)
    assert isinstance(namespace["churn"], ImportedAlgorithm) and namespace["churn"].content_id == assets["churn"]
    exec(line, namespace)  # noqa: S102 - the shown line imports it too
    assert isinstance(namespace["churn_forecaster"], ImportedAlgorithm)


def test_u1_import_line_names_the_kernel_gallery_variable(bob, assets):
    table = SubscriptionsTable(bob, kind="algorithm", namespace={"my_gallery": bob})
    table.row(assets["vision"]).import_button.click()
    assert table.import_panel.code.value == f"image_classifier = my_gallery.import_algorithm({assets['vision']!r})"
    sub = next(s for s in bob.subscriptions() if s.content_id == assets["vision"])
    assert import_line(sub) == f"image_classifier = g.import_algorithm({assets['vision']!r})"


def test_u3_table_import_workflow_opens_dialog(bob, assets):
    namespace = {"g": bob}
    table = SubscriptionsTable(bob, kind="workflow", namespace=namespace)
    table.row(assets["flow"]).import_button.click()
    assert table.import_code.value == f"churn_pipeline = g.import_workflow({assets['flow']!r})"
    dialog = table.import_dialog
    assert isinstance(dialog, ImportWorkflowDialog)
    assert dialog.asset.value == assets["flow"]
    assert table.dialog_area.children == (dialog,)
    dialog.variable.value = "pipeline"
    dialog.import_button.click()
    assert "Imported as `pipeline`" in dialog.messages.text
    assert namespace["pipeline"].content_id == assets["flow"]


def test_m2_table_errors_inline(bob, assets, monkeypatch):
    table = SubscriptionsTable(bob, kind="algorithm", namespace={})

    def refuse(content_id):
        raise gw.NotFound(f"No asset {content_id!r} is visible to you.")

    monkeypatch.setattr(bob, "cancel_subscription", refuse)
    table.row(assets["churn"]).cancel_button.click()
    table.confirm.ok_button.click()
    assert "is visible to you" in table.messages.text
    assert "gw-error" in table.messages.value
    assert "Traceback" not in table.messages.value


def test_v2_table_keeps_discontinued_subscription(alice, bob, assets):
    alice.discontinue(assets["churn"])
    table = SubscriptionsTable(bob, kind="algorithm", namespace={})
    row = table.row(assets["churn"])
    assert "Discontinued" in row_text(row)
    assert ">Subscribed<" in row_text(row)
    assert row.import_button.disabled is False  # SUB5: keeps working within quota
