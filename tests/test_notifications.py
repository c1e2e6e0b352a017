"""Rules N1-N4: the service tells subscribers about new versions (N1) and about subscriptions
about to expire (N2); notifications are marked read all at once or by id, only your own (N3).
Both backends (SQLite, and PostgreSQL when GALLERY_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import pytest

import gallery_widgets as gw


def subjects(g, **options):
    return [n.subject for n in g.notifications(**options)]


def test_n1_new_version_notifies_active_subscribers_only(alice, bob, carol, publish, make_source):
    asset = publish(alice, "Churn forecaster")
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    carol.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    carol.cancel_subscription(asset.content_id)
    alice.add_version(asset.content_id, make_source(), description="faster training", agree=True)
    assert subjects(bob) == ["New version 1.0.1 of Churn forecaster"]
    body = bob.notifications()[0].body
    assert "faster training" in body and asset.content_id in body
    assert subjects(carol) == []  # cancelled: not told
    assert subjects(alice) == []  # the publisher is not a subscriber


def test_n1_failed_publish_notifies_nobody(alice, bob, publish, make_source):
    asset = publish(alice, "Churn forecaster")
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    with pytest.raises(gw.Conflict):
        alice.add_version(asset.content_id, make_source(), version="0.1.0", agree=True)
    assert subjects(bob) == []


def test_n1_group_asset_tells_only_whitelisted_subscribers(alice, bob, carol, publish, make_source):
    asset = publish(alice, "Group one", visibility="group", group_users=["bob", "carol"])
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    carol.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    alice.delete_whitelist_users(asset.content_id, "1.0.0", ["carol"])
    alice.add_version(asset.content_id, make_source(), agree=True)
    assert subjects(bob) == ["New version 1.0.1 of Group one"]
    # V1: never hears of a version she may not see; only that she was taken off the whitelist (N4)
    assert subjects(carol) == ["Group one 1.0.0 is no longer shared with you"]


def test_n4_whitelist_changes_tell_the_users_added_and_removed(alice, bob, carol, publish):
    asset = publish(alice, "Group two", visibility="group", group_users=["bob"])
    alice.add_whitelist_users(asset.content_id, "1.0.0", ["carol", "bob", "nobody-yet"])
    assert subjects(carol) == ["You may now use Group two 1.0.0"]
    assert asset.content_id in carol.notifications()[0].body
    assert subjects(bob) == []  # already on it: nothing changed for bob
    alice.delete_whitelist_users(asset.content_id, "1.0.0", ["carol"])
    assert subjects(carol)[0] == "Group two 1.0.0 is no longer shared with you"
    assert subjects(alice) == []


def test_n4_whitelist_of_a_public_asset_tells_nobody(alice, bob, publish):
    asset = publish(alice, "Open one")
    alice.add_whitelist_users(asset.content_id, "1.0.0", ["bob"])  # changes nobody's access
    assert subjects(bob) == []


def test_n4_refused_whitelist_change_tells_nobody(alice, bob, carol, publish):
    asset = publish(alice, "Group three", visibility="group", group_users=["bob"])
    with pytest.raises(gw.InvalidInput):
        alice.delete_whitelist_users(asset.content_id, "1.0.0", ["bob"])  # V4: someone must stay
    with pytest.raises(gw.NotFound):
        carol.add_whitelist_users(asset.content_id, "1.0.0", ["carol"])  # not hers (and invisible)
    assert subjects(bob) == [] and subjects(carol) == []


def test_n2_expiring_soon_is_announced_once_per_expiry(alice, bob, publish, clock):
    limited = publish(alice, "Limited", duration=gw.Duration(10))
    renewing = publish(alice, "Renewing", duration=gw.Duration(10, auto_renew=True))
    for asset in (limited, renewing):
        bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    assert subjects(bob) == []
    clock.advance(days=8)  # two days left
    assert subjects(bob) == ["Your subscription to Limited expires on 2026-01-25 09:00 UTC"]
    assert len(bob.notifications(unread_only=True)) == 1
    assert len(bob.notifications()) == 1  # reading again adds nothing
    clock.advance(days=3)  # expired: nothing new
    assert len(bob.notifications()) == 1


def test_n3_mark_read_by_id_and_all(alice, bob, publish, make_source):
    asset = publish(alice, "Churn forecaster")
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    for _ in range(3):
        alice.add_version(asset.content_id, make_source(), agree=True)
    newest, middle, oldest = bob.notifications()
    assert bob.mark_notifications_read([middle.id]) == 1
    assert [n.id for n in bob.notifications(unread_only=True)] == [newest.id, oldest.id]
    assert bob.mark_notifications_read([middle.id]) == 0  # already read
    assert bob.mark_notifications_read() == 2
    assert bob.notifications(unread_only=True) == ()


def test_n3_mark_read_never_touches_another_users_notifications(alice, bob, carol, publish, make_source):
    asset = publish(alice, "Churn forecaster")
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    alice.add_version(asset.content_id, make_source(), agree=True)
    (note,) = bob.notifications()
    assert carol.mark_notifications_read([note.id]) == 0
    assert carol.mark_notifications_read() == 0
    assert bob.notifications(unread_only=True) == (note,)


@pytest.mark.parametrize("ids", ["1", [1.0], [True], ["1"], 7])
def test_n3_mark_read_refuses_malformed_ids(bob, ids):
    with pytest.raises(gw.InvalidInput, match="list of notification ids"):
        bob.mark_notifications_read(ids)
