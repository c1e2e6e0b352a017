"""My Gallery: My Publishes, My Subscriptions, My Information (SPEC M1-M3)."""

from __future__ import annotations

import hashlib
import textwrap
from datetime import timedelta

import pandas as pd
import pytest

REST_BACKEND = True  # these tests run over the team server too (tests/conftest.py)

import gallery_widgets as gw
from conftest import JPEG_HEADER, PNG_1PX

MIB = 1024 * 1024


@pytest.fixture
def make_model(tmp_path):
    counter = iter(range(1000))

    def _make(name: str = "demo-model") -> gw.Model:
        root = tmp_path / "models" / f"{name}-{next(counter)}"
        root.mkdir(parents=True)
        (root / "model.yaml").write_text(textwrap.dedent(f"""\
            name: {name}
            loader: model:load
        """))
        (root / "model.py").write_text(
            "class _M:\n    def predict(self, x):\n        return x\n\n\ndef load(path):\n    return _M()\n"
        )
        return gw.Model.from_dir(root)

    return _make


def mine(g, content_id):
    return next(a for a in g.publishes() if a.content_id == content_id)


# -- M1: My Publishes ---------------------------------------------------------------------------------


def test_m1_publishes_lists_my_assets_newest_first(alice, bob, publish, clock):
    first = publish(alice, "First")
    clock.advance(minutes=1)
    second = publish(alice, "Second", visibility="private")
    publish(bob, "Bob's")
    listed = alice.publishes()
    assert [a.content_id for a in listed] == [second.content_id, first.content_id]
    assert all(a.publisher == "alice" for a in listed)
    assert [a.title for a in bob.publishes()] == ["Bob's"]


def test_m1_publishes_per_kind(alice, publish, make_model):
    algo = publish(alice, "An algorithm")
    model = alice.publish(make_model(), title="A model", agree=True)
    assert [a.content_id for a in alice.publishes(kind="algorithm")] == [algo.content_id]
    assert [a.content_id for a in alice.publishes(kind="model")] == [model.content_id]
    assert alice.publishes(kind="workflow") == ()
    assert {a.kind for a in alice.publishes()} == {"algorithm", "model"}
    with pytest.raises(gw.InvalidInput):
        alice.publishes(kind="notebook")


def test_m1_publishes_show_status_views_favorites_subscriptions(alice, bob, carol, publish):
    asset = publish(alice)
    cid = asset.content_id
    entry = mine(alice, cid)
    assert (entry.status, entry.views, entry.favorites, entry.subscriptions) == ("released", 0, 0, 0)
    bob.asset(cid)
    carol.asset(cid)
    carol.asset(cid)
    alice.asset(cid)  # the publisher's own view does not count (S3)
    bob.favorite(cid)
    carol.favorite(cid)
    carol.unfavorite(cid)
    bob.subscribe(cid, accept_agreements=True)
    carol.subscribe(cid, accept_agreements=True)
    entry = mine(alice, cid)
    assert (entry.status, entry.views, entry.favorites, entry.subscriptions) == ("released", 3, 1, 2)
    assert entry.visibility == "public"


def test_m1_publishes_include_private_and_discontinued_assets(alice, publish):
    private = publish(alice, "Private", visibility="private")
    gone = publish(alice, "Gone")
    alice.discontinue(gone.content_id)
    statuses = {a.title: (a.status, a.visibility) for a in alice.publishes()}
    assert statuses == {"Private": ("released", "private"), "Gone": ("discontinued", "public")}
    assert private.content_id in {a.content_id for a in alice.publishes()}


def test_m1_discontinue_takes_it_off_the_market_and_release_brings_it_back(alice, bob, publish):
    asset = publish(alice)
    cid = asset.content_id
    returned = alice.discontinue(cid)
    assert returned.status == "discontinued"
    assert mine(alice, cid).status == "discontinued"
    assert bob.search(kind="algorithm").total == 0
    with pytest.raises(gw.NotFound):
        bob.asset(cid)
    returned = alice.release(cid)
    assert returned.status == "released"
    assert mine(alice, cid).status == "released"
    assert [a.content_id for a in bob.search(kind="algorithm").items] == [cid]


def test_m1_delete_an_asset_without_subscribers(alice, bob, publish):
    keep = publish(alice, "Keep")
    drop = publish(alice, "Drop")
    bob.favorite(drop.content_id)
    assert alice.delete(drop.content_id) is None
    assert [a.content_id for a in alice.publishes()] == [keep.content_id]
    with pytest.raises(gw.NotFound):
        alice.asset(drop.content_id)
    with pytest.raises(gw.NotFound):
        bob.asset(drop.content_id)
    assert bob.search(kind="algorithm", tab="favorites").total == 0


def test_m1_delete_refused_while_it_has_subscribers_naming_how_many(alice, bob, carol, publish):
    asset = publish(alice)
    cid = asset.content_id
    bob.subscribe(cid, accept_agreements=True)
    with pytest.raises(gw.Conflict) as caught:
        alice.delete(cid)
    assert "1 subscriber" in str(caught.value) and "1 subscribers" not in str(caught.value)
    carol.subscribe(cid, accept_agreements=True)
    carol.cancel_subscription(cid)  # cancelled subscribers count too
    with pytest.raises(gw.Conflict) as caught:
        alice.delete(cid)
    assert "2 subscribers" in str(caught.value)
    assert "discontinue" in str(caught.value)
    assert mine(alice, cid).status == "released"
    assert bob.subscriptions()[0].status == "active"


def test_m1_delete_refused_for_a_discontinued_asset_with_subscribers(alice, bob, publish):
    asset = publish(alice)
    bob.subscribe(asset.content_id, accept_agreements=True)
    alice.discontinue(asset.content_id)
    with pytest.raises(gw.Conflict, match="1 subscriber"):
        alice.delete(asset.content_id)
    assert bob.subscriptions()[0].asset_status == "discontinued"


def test_m1_only_the_publisher_or_an_admin_manages_an_asset(admin, alice, bob, publish):
    asset = publish(alice)
    cid = asset.content_id
    for action in (bob.discontinue, bob.release, bob.delete):
        with pytest.raises(gw.PermissionDenied):
            action(cid)
    assert mine(alice, cid).status == "released"
    assert bob.publishes() == ()
    admin.discontinue(cid)
    assert mine(alice, cid).status == "discontinued"
    admin.release(cid)
    admin.delete(cid)
    assert alice.publishes() == ()


def test_m1_managing_an_invisible_asset_is_not_found(alice, bob, publish):
    asset = publish(alice, visibility="private")
    for action in (bob.discontinue, bob.release, bob.delete):
        with pytest.raises(gw.NotFound):
            action(asset.content_id)


# -- M2: My Subscriptions --------------------------------------------------------------------------------


@pytest.fixture
def subscribed(alice, bob, carol, publish, make_model, clock):
    """bob subscribed to alice's "Forecaster" (algorithm), "Vision" (model, cancelled) and
    carol's "Short lived" (algorithm, 3 days, expired)."""
    forecaster = publish(alice, "Forecaster", duration=30)
    vision = alice.publish(make_model("vision"), title="Vision", visibility="public", agree=True)
    short = publish(carol, "Short lived", duration=3)
    bob.subscribe(short.content_id, accept_agreements=True)
    clock.advance(days=1)
    bob.subscribe(vision.content_id, accept_agreements=True)
    clock.advance(days=1)
    bob.subscribe(forecaster.content_id, accept_agreements=True)
    bob.cancel_subscription(vision.content_id)
    clock.advance(days=2)
    return {"forecaster": forecaster, "vision": vision, "short": short}


def test_m2_subscriptions_newest_first_with_title_publisher_status_quota(bob, subscribed, clock):
    subs = bob.subscriptions()
    assert isinstance(subs, tuple)
    assert [s.title for s in subs] == ["Forecaster", "Vision", "Short lived"]
    forecaster, vision, short = subs
    assert (forecaster.kind, forecaster.publisher, forecaster.status) == ("algorithm", "alice", "active")
    assert forecaster.subscribed_at == clock.now - timedelta(days=2)
    assert forecaster.remaining_days == 28
    assert (vision.kind, vision.publisher, vision.status, vision.remaining_days) == ("model", "alice", "cancelled", None)
    assert (short.publisher, short.status, short.remaining_days) == ("carol", "active", 0)
    assert short.expired


def test_m2_subscriptions_per_kind(bob, subscribed):
    assert [s.title for s in bob.subscriptions(kind="algorithm")] == ["Forecaster", "Short lived"]
    assert [s.title for s in bob.subscriptions(kind="model")] == ["Vision"]
    assert bob.subscriptions(kind="workflow") == ()
    with pytest.raises(gw.InvalidInput):
        bob.subscriptions(kind="dataset")


def test_m2_status_filters(bob, subscribed):
    assert [s.title for s in bob.subscriptions(status="active")] == ["Forecaster"]
    assert [s.title for s in bob.subscriptions(status="cancelled")] == ["Vision"]
    assert [s.title for s in bob.subscriptions(status="expired")] == ["Short lived"]
    assert len(bob.subscriptions(status=None)) == 3
    with pytest.raises(gw.InvalidInput):
        bob.subscriptions(status="canceled-ish")


def test_m2_keyword_filter_on_title_and_publisher(bob, carol, subscribed):
    assert [s.title for s in bob.subscriptions(query="forecast")] == ["Forecaster"]
    assert [s.title for s in bob.subscriptions(query="CAROL")] == ["Short lived"]
    assert [s.title for s in bob.subscriptions(query="alice")] == ["Forecaster", "Vision"]
    assert bob.subscriptions(query="nothing like this") == ()
    assert bob.subscriptions(query="%") == ()  # wildcards are taken literally
    assert bob.subscriptions(query="_") == ()
    carol.update_profile(nickname="Weather Desk")
    assert [s.title for s in bob.subscriptions(query="weather")] == ["Short lived"]


def test_m2_filters_combine(bob, subscribed):
    assert [s.title for s in bob.subscriptions(kind="algorithm", status="active", query="fore")] == ["Forecaster"]
    assert bob.subscriptions(kind="model", status="active") == ()
    assert [s.title for s in bob.subscriptions(kind="algorithm", query="alice")] == ["Forecaster"]


def test_m2_subscriptions_as_dataframe(bob, subscribed):
    frame = bob.subscriptions().to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 3
    for column in ("content_id", "kind", "title", "publisher", "status", "subscribed_at", "expires_at",
                   "auto_renew", "remaining_days"):
        assert column in frame.columns
    assert list(frame["title"]) == ["Forecaster", "Vision", "Short lived"]
    assert list(frame["status"]) == ["active", "cancelled", "active"]
    assert list(frame["publisher"]) == ["alice", "alice", "carol"]
    filtered = bob.subscriptions(status="active").to_dataframe()
    assert list(filtered["title"]) == ["Forecaster"]
    assert filtered["remaining_days"].iloc[0] == 28


def test_m2_empty_dataframe_keeps_its_columns(alice):
    frame = alice.subscriptions().to_dataframe()
    assert len(frame) == 0
    assert {"title", "publisher", "status", "remaining_days"} <= set(frame.columns)


def test_m2_cancel_and_retrieve_from_my_subscriptions(bob, subscribed):
    vision = subscribed["vision"].content_id
    bob.retrieve_subscription(vision)
    assert [s.title for s in bob.subscriptions(status="active")] == ["Forecaster", "Vision"]
    bob.cancel_subscription(subscribed["forecaster"].content_id)
    assert [s.title for s in bob.subscriptions(status="cancelled")] == ["Forecaster"]


def test_m2_subscriptions_are_per_user(alice, carol, bob, subscribed):
    assert alice.subscriptions() == ()
    assert carol.subscriptions() == ()
    assert len(bob.subscriptions()) == 3


def test_m2_discontinued_asset_stays_in_my_subscriptions(alice, bob, subscribed):
    alice.discontinue(subscribed["forecaster"].content_id)
    forecaster = bob.subscriptions(query="Forecaster")[0]
    assert forecaster.asset_status == "discontinued"
    assert forecaster.status == "active" and forecaster.usable
    assert "asset_status" in bob.subscriptions().to_dataframe().columns


# -- M3: My Information ----------------------------------------------------------------------------------


def test_m3_me_shows_my_account(admin, alice):
    me = alice.me
    assert me.username == "alice"
    assert me.nickname == "alice"
    assert (me.email, me.description, me.avatar) == ("", "", None)
    assert me.role == "user"
    assert admin.me.role == "admin"


def test_m3_update_nickname_description_email(alice):
    updated = alice.update_profile(nickname="Alice L.", description="Forecasting\nand vision.",
                                   email="alice@example.org")
    assert (updated.nickname, updated.description, updated.email) == (
        "Alice L.", "Forecasting\nand vision.", "alice@example.org")
    assert alice.me == updated
    assert alice.me.username == "alice"


def test_m3_update_only_what_is_given(alice):
    alice.update_profile(nickname="Ally", email="ally@example.org")
    alice.update_profile(description="Only this")
    me = alice.me
    assert (me.nickname, me.email, me.description) == ("Ally", "ally@example.org", "Only this")


def test_m3_update_profile_is_seen_by_others_without_email(alice, bob):
    alice.update_profile(nickname="Ally", email="ally@example.org")
    seen = bob.user("alice")
    assert seen.nickname == "Ally"
    assert seen.email == ""
    assert alice.user("alice").email == "ally@example.org"


def test_m3_png_avatar(alice, tmp_path):
    updated = alice.update_profile(avatar=PNG_1PX)
    assert updated.avatar == hashlib.sha256(PNG_1PX).hexdigest()
    assert alice.me.avatar == updated.avatar
    assert alice.avatar_image() == PNG_1PX


def test_m3_jpeg_avatar_from_a_path(alice, bob, tmp_path):
    path = tmp_path / "me.jpg"
    path.write_bytes(JPEG_HEADER)
    alice.update_profile(avatar=path)
    assert alice.me.avatar == hashlib.sha256(JPEG_HEADER).hexdigest()
    assert bob.avatar_image("alice") == JPEG_HEADER


def test_m3_avatar_of_exactly_one_mib_is_accepted(alice):
    image = PNG_1PX + b"\x00" * (MIB - len(PNG_1PX))
    assert len(image) == MIB
    alice.update_profile(avatar=image)
    assert alice.avatar_image() == image


def test_m3_avatar_over_one_mib_is_refused_and_nothing_changes(alice, tmp_path):
    alice.update_profile(nickname="Before", avatar=PNG_1PX)
    before = alice.me
    big = PNG_1PX + b"\x00" * (MIB + 1 - len(PNG_1PX))
    with pytest.raises(gw.InvalidInput) as caught:
        alice.update_profile(nickname="After", avatar=big)
    assert "1 MiB" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    path = tmp_path / "big.png"
    path.write_bytes(big)
    with pytest.raises(gw.InvalidInput):
        alice.update_profile(avatar=path)
    assert alice.me == before
    assert alice.avatar_image() == PNG_1PX


def test_m3_non_image_avatar_is_refused_and_nothing_changes(alice, tmp_path):
    before = alice.me
    for bad in (b"GIF89a" + b"\x00" * 20, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"", "not a file.png", 42):
        with pytest.raises(gw.InvalidInput):
            alice.update_profile(description="changed", avatar=bad)
    text_file = tmp_path / "avatar.png"
    text_file.write_text("just text")
    with pytest.raises(gw.InvalidInput) as caught:
        alice.update_profile(avatar=text_file)
    assert "PNG or JPEG" in str(caught.value)
    assert alice.me == before
    assert alice.avatar_image() is None


def test_m3_avatar_can_be_removed(alice):
    alice.update_profile(avatar=PNG_1PX)
    assert alice.update_profile(avatar=None).avatar is None
    assert alice.avatar_image() is None


def test_m3_account_name_cannot_change(alice, bob):
    with pytest.raises(gw.InvalidInput) as caught:
        alice.update_profile(username="alicia")
    assert "nickname" in str(caught.value)
    with pytest.raises(gw.InvalidInput):
        alice.update_profile(username="alicia", nickname="Changed")
    assert alice.me.username == "alice"
    assert alice.me.nickname == "alice"
    with pytest.raises(gw.NotFound):
        bob.user("alicia")


def test_m3_bad_profile_values_are_refused_and_nothing_changes(alice):
    before = alice.me
    with pytest.raises(gw.InvalidInput):
        alice.update_profile(nickname="Fine", email="not-an-email")
    with pytest.raises(gw.InvalidInput):
        alice.update_profile(nickname="x" * 65)
    with pytest.raises(gw.InvalidInput):
        alice.update_profile(nickname="two\nlines")
    with pytest.raises(gw.InvalidInput):
        alice.update_profile(description="d" * 2001)
    assert alice.me == before


def test_m3_profile_arguments_are_keyword_only(alice):
    with pytest.raises(TypeError):
        alice.update_profile("Nick")


def test_m3_new_nickname_is_searchable_as_publisher(alice, bob, publish):
    publish(alice, "Plain title")
    assert bob.search(kind="algorithm", query="Zephyr").total == 0
    alice.update_profile(nickname="Zephyr Labs")
    assert [a.title for a in bob.search(kind="algorithm", query="zephyr").items] == ["Plain title"]
