"""MyGallery (SPEC §5, M1-M3, P9) driven from Python over a real embedded SQLite gallery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import JPEG_HEADER, PNG_1PX, write_algorithm

import gallery_widgets as gw
from gallery_widgets.widgets.my_gallery import MyGallery
from gallery_widgets.widgets.subscriptions import SubscriptionsTable


@pytest.fixture
def backend():
    """Widget tests run over the embedded SQLite gallery only."""
    return "sqlite"


@pytest.fixture
def opener(open_as):
    return open_as


@pytest.fixture
def carol(alice, opener):
    return opener("carol")


@pytest.fixture
def make_asset(alice, tmp_path):
    counter = iter(range(1000))

    def _make(title="Churn forecaster", **options):
        options.setdefault("visibility", "public")
        source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / f"a{next(counter)}", "demo"))
        return alice.publish(source, title=title, agree=True, **options)

    return _make


def upload(widget, content: bytes, name: str = "avatar.png", mime: str = "image/png") -> None:
    widget.value = ({"name": name, "type": mime, "size": len(content), "content": memoryview(content),
                     "last_modified": datetime(2026, 1, 1, tzinfo=UTC)},)


def shown(widget) -> bool:
    return widget.layout.display != "none"


def test_m1_my_gallery_tabs(alice):
    my = MyGallery(alice, namespace={})
    assert my.tabs.titles == ("My Publishes", "My Subscriptions", "My Information")
    assert isinstance(my.subscriptions_table, SubscriptionsTable)
    assert my.tabs.children[1] is my.subscriptions_table
    assert "gw-my-gallery" in my._dom_classes
    assert "My Gallery" in my.header.value and "alice" in my.header.value


def test_m1_my_publishes_lists_assets_with_counters(alice, bob, make_asset):
    asset = make_asset()
    bob.asset(asset.content_id)  # a view
    bob.favorite(asset.content_id)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    my = MyGallery(alice, namespace={})
    assert my.publishes_kind.value == "algorithm"
    assert [row.content_id for row in my.publish_rows] == [asset.content_id]
    row = my.publish_rows[0]
    text = row.info.value
    assert "Churn forecaster" in text and "Released" in text
    assert "Views 1" in text and "Favorites 1" in text and "Subscriptions 1" in text
    assert "Published at 2026-01-15" in text
    assert shown(row.discontinue_button) and not shown(row.release_button) and shown(row.delete_button)
    assert not shown(row.confirm_box)


def test_m1_my_publishes_per_kind(alice, make_asset):
    algorithm = make_asset()
    flow = alice.publish(gw.Workflow("flow", steps=[gw.Step("train", f"{algorithm.content_id}@1.0.0")]),
                         title="Churn pipeline", agree=True)
    my = MyGallery(alice, namespace={})
    assert [row.content_id for row in my.publish_rows] == [algorithm.content_id]
    my.publishes_kind.value = "workflow"
    assert [row.content_id for row in my.publish_rows] == [flow.content_id]
    my.publishes_kind.value = "model"
    assert my.publish_rows == []
    assert "have not published any models yet" in my.publishes_list.children[0].value


def test_m1_my_publishes_empty_state(alice):
    my = MyGallery(alice, namespace={})
    assert my.publish_rows == []
    assert "gw-empty" in my.publishes_list.children[0].value


def test_p9_my_publishes_discontinue_then_release(alice, bob, make_asset):
    asset = make_asset()
    my = MyGallery(alice, namespace={})
    my.publish_row(asset.content_id).discontinue_button.click()
    assert my.confirm.is_open and "0 subscribers keep using it" in my.confirm.text.value  # W4: asks first
    assert bob.search(kind="algorithm").total == 1
    my.confirm.ok_button.click()
    assert "discontinued" in my.messages.text
    row = my.publish_row(asset.content_id)
    assert "Discontinued" in row.info.value
    assert shown(row.release_button) and not shown(row.discontinue_button)
    assert bob.search(kind="algorithm").total == 0  # V2: off the market

    row.release_button.click()
    assert "released" in my.messages.text
    row = my.publish_row(asset.content_id)
    assert "Released" in row.info.value
    assert shown(row.discontinue_button) and not shown(row.release_button)
    assert bob.search(kind="algorithm").total == 1


def test_p9_my_publishes_delete_asks_for_confirmation(alice, make_asset):
    asset = make_asset()
    my = MyGallery(alice, namespace={})
    row = my.publish_row(asset.content_id)
    row.delete_button.click()
    assert shown(row.confirm_box) and row.delete_button.disabled
    assert "cannot be undone" in row.confirm_text.value
    assert [a.content_id for a in alice.publishes()] == [asset.content_id]  # nothing deleted yet
    row.cancel_delete_button.click()
    assert not shown(row.confirm_box) and not row.delete_button.disabled
    assert len(alice.publishes()) == 1

    row.delete_button.click()
    row.confirm_delete_button.click()
    assert "was deleted" in my.messages.text
    assert alice.publishes() == ()
    assert my.publish_rows == []
    assert "gw-empty" in my.publishes_list.children[0].value


def test_m1_my_publishes_delete_refused_with_subscribers(alice, bob, carol, make_asset):
    asset = make_asset()
    for user in (bob, carol):
        user.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    carol.cancel_subscription(asset.content_id)  # cancelled subscribers count too (P9)
    my = MyGallery(alice, namespace={})
    row = my.publish_row(asset.content_id)
    row.delete_button.click()
    row.confirm_delete_button.click()
    assert "has 2 subscribers" in my.messages.text
    assert "gw-error" in my.messages.value
    assert "Traceback" not in my.messages.value
    assert not shown(row.confirm_box)
    assert [a.content_id for a in alice.publishes()] == [asset.content_id]


def test_m2_my_gallery_subscriptions_tab(alice, bob, make_asset):
    asset = make_asset()
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    my = MyGallery(bob, namespace={})
    table = my.subscriptions_table
    assert [row.content_id for row in table.rows] == [asset.content_id]
    table.rows[0].cancel_button.click()
    table.confirm.ok_button.click()
    assert "Subscription canceled" in table.row(asset.content_id).info.value


def test_m3_my_information_shows_account(alice):
    alice.update_profile(nickname="Alice A.", email="alice@example.com", description="Data scientist")
    my = MyGallery(alice, namespace={})
    assert my.account.value == "alice"
    assert my.account.disabled is True  # the account cannot change
    assert (my.nickname.value, my.email.value, my.description.value) == (
        "Alice A.", "alice@example.com", "Data scientist")
    assert my.avatar_image is None  # initials until an avatar is uploaded


def test_m3_my_information_saves_profile(alice):
    my = MyGallery(alice, namespace={})
    my.nickname.value = "Ali"
    my.email.value = "ali@example.com"
    my.description.value = "Forecasting churn since 2019"
    my.save_profile_button.click()
    assert "saved" in my.messages.text
    me = alice.me
    assert (me.username, me.nickname, me.email, me.description) == (
        "alice", "Ali", "ali@example.com", "Forecasting churn since 2019")
    assert "Ali" in my.header.value


def test_m3_my_information_bad_email_inline(alice):
    my = MyGallery(alice, namespace={})
    my.nickname.value = "Changed"
    my.email.value = "not an email"
    my.save_profile_button.click()
    assert "email" in my.messages.text.lower()
    assert "gw-error" in my.messages.value
    assert alice.me.nickname == "alice"  # nothing saved
    assert my.nickname.value == "Changed"  # the user's edits stay in the form


def test_m3_my_information_avatar_upload(alice):
    my = MyGallery(alice, namespace={})
    upload(my.avatar_upload, PNG_1PX)
    assert "press Save" in my.avatar_note.value
    my.save_profile_button.click()
    assert "New avatar" in my.messages.text, my.messages.text
    assert alice.me.avatar is not None
    assert alice.avatar_image() == PNG_1PX
    assert my.avatar_image is not None and bytes(my.avatar_image.value) == PNG_1PX
    assert my.avatar_upload.value == ()


def test_m3_my_information_jpeg_avatar(alice):
    my = MyGallery(alice, namespace={})
    upload(my.avatar_upload, JPEG_HEADER, "me.jpg", "image/jpeg")
    my.save_profile_button.click()
    assert alice.avatar_image() == JPEG_HEADER
    assert my.avatar_image.format == "jpeg"


@pytest.mark.parametrize("content, name", [
    (b"GIF89a not allowed", "avatar.gif"),
    (PNG_1PX + b"\0" * (1024 * 1024), "huge.png"),
])
def test_m3_my_information_bad_avatar_inline(alice, content, name):
    my = MyGallery(alice, namespace={})
    my.nickname.value = "New nick"
    upload(my.avatar_upload, content, name)
    my.save_profile_button.click()
    assert "avatar" in my.messages.text.lower()
    assert "gw-error" in my.messages.value
    assert "Traceback" not in my.messages.value
    me = alice.me
    assert me.avatar is None and me.nickname == "alice"  # nothing was saved
    assert my.avatar_upload.value == ()  # pick another file


def test_w4_my_publishes_discontinue_says_how_many_subscribers_and_can_be_cancelled(alice, bob, make_asset):
    asset = make_asset()
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    my = MyGallery(alice, namespace={})
    my.publish_row(asset.content_id).discontinue_button.click()
    assert "its 1 subscriber keeps using it within the quota" in my.confirm.text.value
    my.confirm.cancel_button.click()
    assert not my.confirm.is_open
    assert alice.asset(asset.content_id, count_view=False).status == "released"
    my.publish_row(asset.content_id).delete_button.click()
    assert "1 active subscriber" in my.publish_row(asset.content_id).confirm_text.value


def test_w5_bell_counts_lists_and_marks_read(alice, bob, make_asset, make_source):
    from gallery_widgets.widgets.market import MarketBrowser

    asset = make_asset()
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    my = MyGallery(bob, namespace={})
    bell = my.bell
    assert bell.unread == 0 and bell.button.description == ""
    alice.add_version(asset.content_id, make_source(), agree=True)
    alice.add_version(asset.content_id, make_source(), agree=True)
    bell.button.value = True  # opening the bell reads the notifications again
    assert bell.is_open and bell.unread == 2 and bell.button.description == "2"
    assert "New version 1.0.2" in bell.list.children[0].children[0].value
    first, second = (n.id for n in bell.notes)
    bell.read_buttons[second].click()
    assert bell.unread == 1 and second not in bell.read_buttons
    assert [n.id for n in bob.notifications(unread_only=True)] == [first]
    market = MarketBrowser(bob)
    assert market.bell.unread == 1 and market.bell.button.description == "1"
    market.bell.button.value = True
    market.bell.mark_all_button.click()
    assert market.bell.unread == 0 and bob.notifications(unread_only=True) == ()
    assert market.bell.mark_all_button.disabled


def test_w5_bell_shows_a_refusal_inline(bob, monkeypatch):
    my = MyGallery(bob, namespace={})

    def refuse(ids=None):
        raise gw.StorageError("The gallery is read-only here; nothing was changed.")

    monkeypatch.setattr(bob, "mark_notifications_read", refuse)
    my.bell.button.value = True
    my.bell.mark_all_button.disabled = False
    my.bell.mark_all_button.click()
    assert "read-only" in my.bell.messages.text
