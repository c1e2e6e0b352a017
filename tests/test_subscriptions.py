"""Subscriptions with free-duration quotas (SPEC SUB1-SUB6)."""

from __future__ import annotations

from datetime import timedelta

import pytest

REST_BACKEND = True  # these tests run over the team server too (tests/conftest.py)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import gallery_widgets as gw
from gallery_widgets.store.schema import AcceptanceRow, SubscriptionRow, UserRow

AGREEMENTS = ("data-security-privacy-risk", "service-agreement")
CONSTRAINTS = "version-constraints"


def acceptances(g, username: str, content_id: str | None = None) -> list[tuple[str, str, object]]:
    """(agreement, agreement_version, accepted_at) recorded for a user, straight from the store."""
    with Session(g._db.engine) as s:
        statement = (
            select(AcceptanceRow.agreement, AcceptanceRow.agreement_version, AcceptanceRow.accepted_at)
            .join(UserRow, UserRow.id == AcceptanceRow.user_id)
            .where(UserRow.username == username)
            .order_by(AcceptanceRow.id)
        )
        if content_id is not None:
            statement = statement.where(AcceptanceRow.content_id == content_id)
        return [tuple(r) for r in s.execute(statement).all()]


def active_rows(g, content_id: str) -> int:
    from gallery_widgets.store.schema import AssetRow

    with Session(g._db.engine) as s:
        return s.scalar(
            select(func.count())
            .select_from(SubscriptionRow)
            .join(AssetRow, AssetRow.id == SubscriptionRow.asset_id)
            .where(AssetRow.content_id == content_id, SubscriptionRow.status == "active")
        )


def counter(g, content_id: str) -> int:
    """The subscriptions counter as the publisher sees it in My Publishes (no view counted)."""
    return next(a.subscriptions for a in g.publishes() if a.content_id == content_id)


# -- SUB1: constraints and agreements first -----------------------------------------------------


def test_sub1_constraints_are_shown_before_subscribing(alice, bob, publish, make_source):
    asset = publish(alice, source=make_source(python=">=3.9", requirements=["numpy"]))
    shown = bob.constraints(asset.content_id)
    assert shown.python == ">=3.9"
    assert shown.requirements == ("numpy",)
    assert not shown.empty


def test_sub1_subscribe_without_anything_accepted_lists_everything_missing(alice, bob, publish, make_source):
    asset = publish(alice, source=make_source(python=">=3.9", requirements=["numpy"]))
    with pytest.raises(gw.AgreementRequired) as caught:
        bob.subscribe(asset.content_id)
    assert set(caught.value.missing) == {CONSTRAINTS, *AGREEMENTS}
    message = str(caught.value)
    assert "accept_constraints=True" in message and "accept_agreements=True" in message
    assert "numpy" in message
    assert "Data Security and Privacy Risk" in message and "Service Agreement" in message
    assert isinstance(caught.value, gw.GalleryError)


def test_sub1_constraints_accepted_but_not_agreements_is_refused(alice, bob, publish, make_source):
    asset = publish(alice, source=make_source(python=">=3.9", requirements=["numpy"]))
    with pytest.raises(gw.AgreementRequired) as caught:
        bob.subscribe(asset.content_id, accept_constraints=True)
    assert set(caught.value.missing) == set(AGREEMENTS)
    assert "accept_agreements=True" in str(caught.value)
    assert "accept_constraints=True" not in str(caught.value)


def test_sub1_agreements_accepted_but_not_constraints_is_refused(alice, bob, publish, make_source):
    asset = publish(alice, source=make_source(python=">=3.9"))
    with pytest.raises(gw.AgreementRequired) as caught:
        bob.subscribe(asset.content_id, accept_agreements=True)
    assert caught.value.missing == (CONSTRAINTS,)
    assert "accept_constraints=True" in str(caught.value)


def test_sub1_refusal_leaves_no_subscription_and_no_acceptance(alice, bob, publish, make_source):
    asset = publish(alice, source=make_source(requirements=["numpy"]))
    cid = asset.content_id
    with pytest.raises(gw.AgreementRequired):
        bob.subscribe(cid, accept_constraints=True)
    assert bob.subscriptions() == ()
    assert acceptances(bob, "bob") == []
    assert counter(alice, cid) == 0
    assert bob.asset(cid).subscription_status is None


def test_sub1_without_constraints_only_the_agreements_are_needed(alice, bob, publish):
    asset = publish(alice)  # the default source has no python/requirements/resources
    assert bob.constraints(asset.content_id).empty
    with pytest.raises(gw.AgreementRequired) as caught:
        bob.subscribe(asset.content_id)
    assert set(caught.value.missing) == set(AGREEMENTS)
    sub = bob.subscribe(asset.content_id, accept_agreements=True)
    assert sub.status == "active"
    assert [a for a, _, _ in acceptances(bob, "bob", asset.content_id)] == list(AGREEMENTS)


def test_sub1_acceptances_are_recorded_with_agreement_version_and_time(alice, bob, publish, make_source, clock):
    asset = publish(alice, source=make_source(python=">=3.9", requirements=["numpy"]))
    clock.advance(hours=3)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    recorded = acceptances(bob, "bob", asset.content_id)
    assert {(a, v) for a, v, _ in recorded} == {
        (CONSTRAINTS, "1.0.0"),
        ("data-security-privacy-risk", "1.0"),
        ("service-agreement", "1.0"),
    }
    assert all(at == clock.now for _, _, at in recorded)
    # Nothing is recorded for another user.
    assert acceptances(bob, "carol") == []


def test_sub1_official_asset_needs_no_agreements(admin, alice, bob, publish):
    asset = publish(alice)
    admin.set_official(asset.content_id, True)
    sub = bob.subscribe(asset.content_id)
    assert sub.status == "active"
    assert acceptances(bob, "bob", asset.content_id) == []


def test_sub1_official_asset_still_needs_its_constraints(admin, alice, bob, publish, make_source):
    asset = publish(alice, source=make_source(requirements=["numpy"]))
    admin.set_official(asset.content_id, True)
    with pytest.raises(gw.AgreementRequired) as caught:
        bob.subscribe(asset.content_id, accept_agreements=True)
    assert caught.value.missing == (CONSTRAINTS,)
    bob.subscribe(asset.content_id, accept_constraints=True)
    assert [(a, v) for a, v, _ in acceptances(bob, "bob", asset.content_id)] == [(CONSTRAINTS, "1.0.0")]


def test_sub1_constraints_of_the_newest_version_are_the_ones_accepted(alice, bob, publish, make_source):
    asset = publish(alice)
    alice.add_version(asset.content_id, make_source(python=">=3.8"), agree=True)
    assert bob.constraints(asset.content_id).python == ">=3.8"
    assert bob.constraints(asset.content_id, "1.0.0").empty
    with pytest.raises(gw.AgreementRequired) as caught:
        bob.subscribe(asset.content_id, accept_agreements=True)
    assert caught.value.missing == (CONSTRAINTS,)
    bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    assert (CONSTRAINTS, "1.0.1") in {(a, v) for a, v, _ in acceptances(bob, "bob")}


def test_sub1_flags_must_be_booleans(alice, bob, publish):
    asset = publish(alice)
    with pytest.raises(gw.InvalidInput):
        bob.subscribe(asset.content_id, accept_agreements="yes")
    assert bob.subscriptions() == ()


# -- SUB2: subscribing twice; the publisher ----------------------------------------------------------


def test_sub2_subscribing_twice_returns_the_existing_subscription(alice, bob, publish, clock):
    asset = publish(alice, duration=30)
    first = bob.subscribe(asset.content_id, accept_agreements=True)
    clock.advance(days=2)
    again = bob.subscribe(asset.content_id, accept_agreements=True)
    assert again.subscribed_at == first.subscribed_at
    assert again.expires_at == first.expires_at
    assert again.remaining_days == 28
    assert len(bob.subscriptions()) == 1
    assert counter(alice, asset.content_id) == 1


def test_sub2_subscribing_again_needs_no_new_acceptance_and_records_none(alice, bob, publish):
    asset = publish(alice)
    bob.subscribe(asset.content_id, accept_agreements=True)
    recorded = acceptances(bob, "bob")
    again = bob.subscribe(asset.content_id)  # already active: a no-op, nothing to accept
    assert again.status == "active"
    assert acceptances(bob, "bob") == recorded


def test_sub2_publisher_cannot_subscribe_to_own_asset(alice, publish):
    asset = publish(alice)
    with pytest.raises(gw.Conflict) as caught:
        alice.subscribe(asset.content_id, accept_agreements=True)
    assert "without subscribing" in str(caught.value)
    assert alice.subscriptions() == ()
    assert counter(alice, asset.content_id) == 0


def test_sub2_publisher_uses_own_asset_without_subscription(alice, publish):
    asset = publish(alice, visibility="private")
    detail = alice.asset(asset.content_id)
    assert detail.subscription_status is None
    assert [v.version for v in detail.versions] == ["1.0.0"]


def test_sub2_subscribe_to_unknown_or_invisible_asset_is_not_found(alice, bob, publish):
    private = publish(alice, visibility="private")
    with pytest.raises(gw.NotFound):
        bob.subscribe(private.content_id, accept_agreements=True)
    with pytest.raises(gw.NotFound):
        bob.subscribe("doesnotexist123", accept_agreements=True)
    with pytest.raises(gw.InvalidInput):
        bob.subscribe("not a content id!", accept_agreements=True)


# -- SUB3: duration limits ---------------------------------------------------------------------------


def test_sub3_expires_n_days_after_subscribing(alice, bob, publish, clock):
    asset = publish(alice, duration=30)
    clock.advance(days=1, hours=5)
    sub = bob.subscribe(asset.content_id, accept_agreements=True)
    assert sub.subscribed_at == clock.now
    assert sub.expires_at == clock.now + timedelta(days=30)
    assert sub.remaining_days == 30
    assert sub.auto_renew is False
    assert sub.usable


def test_sub3_remaining_days_are_whole_days_rounded_up(alice, bob, publish, clock):
    asset = publish(alice, duration=gw.Duration(10))
    bob.subscribe(asset.content_id, accept_agreements=True)
    clock.advance(hours=1)
    assert bob.subscriptions()[0].remaining_days == 10
    clock.advance(days=3, hours=22)  # 3 days 23 hours gone: 6 days 1 hour left
    assert bob.subscriptions()[0].remaining_days == 7
    clock.advance(hours=1)  # exactly 6 days left
    assert bob.subscriptions()[0].remaining_days == 6
    clock.advance(days=5, hours=23, minutes=59)  # one minute left
    sub = bob.subscriptions()[0]
    assert sub.remaining_days == 1 and sub.usable


def test_sub3_without_auto_renew_it_expires(alice, bob, publish, clock):
    asset = publish(alice, duration=7)
    first = bob.subscribe(asset.content_id, accept_agreements=True)
    clock.advance(days=7)
    sub = bob.subscriptions()[0]
    assert sub.remaining_days == 0
    assert sub.expires_at == first.expires_at
    assert sub.expired and not sub.usable
    assert bob.asset(asset.content_id).subscription_status == "expired"
    assert [s.content_id for s in bob.subscriptions(status="expired")] == [asset.content_id]
    assert bob.subscriptions(status="active") == ()


def test_sub3_subscribing_after_expiry_renews_for_a_new_period_from_now(alice, bob, publish, clock):
    asset = publish(alice, duration=7)
    bob.subscribe(asset.content_id, accept_agreements=True)
    clock.advance(days=9)
    with pytest.raises(gw.AgreementRequired):  # a renewal is a new subscription: accept again
        bob.subscribe(asset.content_id)
    renewed = bob.subscribe(asset.content_id, accept_agreements=True)
    assert renewed.status == "active"
    assert renewed.subscribed_at == clock.now
    assert renewed.expires_at == clock.now + timedelta(days=7)
    assert renewed.remaining_days == 7
    assert len(bob.subscriptions()) == 1
    assert bob.asset(asset.content_id).subscription_status == "active"


def test_sub3_auto_renew_extends_by_n_days_at_each_expiry(alice, bob, publish, clock):
    asset = publish(alice, duration=gw.Duration(30, auto_renew=True))
    first = bob.subscribe(asset.content_id, accept_agreements=True)
    assert first.auto_renew is True
    assert first.expires_at == clock.now + timedelta(days=30)
    clock.advance(days=31)
    sub = bob.subscriptions()[0]
    assert sub.expires_at == first.expires_at + timedelta(days=30)
    assert sub.remaining_days == 29
    assert sub.usable and sub.status == "active"
    clock.advance(days=65)  # 96 days in: renewed at 30, 60 and 90
    sub = bob.subscriptions()[0]
    assert sub.expires_at == first.expires_at + timedelta(days=90)
    assert sub.remaining_days == 24
    assert bob.subscriptions(status="expired") == ()
    assert bob.asset(asset.content_id).subscription_status == "active"


def test_sub3_auto_renew_exactly_at_expiry_starts_the_next_period(alice, bob, publish, clock):
    asset = publish(alice, duration=gw.Duration(5, auto_renew=True))
    first = bob.subscribe(asset.content_id, accept_agreements=True)
    clock.advance(days=5)
    sub = bob.subscriptions()[0]
    assert sub.expires_at == first.expires_at + timedelta(days=5)
    assert sub.remaining_days == 5


def test_sub3_no_limit_is_unlimited(alice, bob, publish, clock):
    asset = publish(alice)
    sub = bob.subscribe(asset.content_id, accept_agreements=True)
    assert sub.expires_at is None and sub.remaining_days is None
    clock.advance(days=3650)
    sub = bob.subscriptions()[0]
    assert sub.expires_at is None and sub.remaining_days is None
    assert sub.usable and not sub.expired
    assert bob.asset(asset.content_id).subscription_status == "active"


def test_sub3_asset_shows_its_duration(alice, bob, publish):
    limited = publish(alice, "Limited", duration=gw.Duration(14, auto_renew=True))
    unlimited = publish(alice, "Unlimited")
    assert bob.asset(limited.content_id).duration == gw.Duration(14, True)
    assert bob.asset(unlimited.content_id).duration is None


# -- SUB4: cancel and retrieve ----------------------------------------------------------------------


def test_sub4_cancel_keeps_it_listed_as_cancelled(alice, bob, publish):
    asset = publish(alice, duration=30)
    bob.subscribe(asset.content_id, accept_agreements=True)
    cancelled = bob.cancel_subscription(asset.content_id)
    assert cancelled.status == "cancelled"
    assert not cancelled.usable
    listed = bob.subscriptions()
    assert [(s.content_id, s.status) for s in listed] == [(asset.content_id, "cancelled")]
    assert [s.content_id for s in bob.subscriptions(status="cancelled")] == [asset.content_id]
    assert bob.subscriptions(status="active") == ()
    assert bob.asset(asset.content_id).subscription_status == "cancelled"


def test_sub4_subscribing_to_a_cancelled_subscription_points_to_retrieve(alice, bob, publish):
    asset = publish(alice)
    bob.subscribe(asset.content_id, accept_agreements=True)
    bob.cancel_subscription(asset.content_id)
    with pytest.raises(gw.Conflict) as caught:
        bob.subscribe(asset.content_id, accept_agreements=True)
    assert "retrieve_subscription" in str(caught.value)
    assert bob.subscriptions()[0].status == "cancelled"


def test_sub4_retrieve_keeps_original_expiry(alice, bob, publish, clock):
    asset = publish(alice, duration=30)
    first = bob.subscribe(asset.content_id, accept_agreements=True)
    clock.advance(days=5)
    bob.cancel_subscription(asset.content_id)
    clock.advance(days=10)
    retrieved = bob.retrieve_subscription(asset.content_id)
    assert retrieved.status == "active"
    assert retrieved.subscribed_at == first.subscribed_at
    assert retrieved.expires_at == first.expires_at
    assert retrieved.remaining_days == 15
    assert retrieved.usable
    assert bob.asset(asset.content_id).subscription_status == "active"


def test_sub4_retrieve_after_the_quota_ran_out_stays_expired(alice, bob, publish, clock):
    asset = publish(alice, duration=3)
    first = bob.subscribe(asset.content_id, accept_agreements=True)
    bob.cancel_subscription(asset.content_id)
    clock.advance(days=4)
    retrieved = bob.retrieve_subscription(asset.content_id)
    assert retrieved.expires_at == first.expires_at
    assert retrieved.remaining_days == 0
    assert not retrieved.usable
    assert bob.asset(asset.content_id).subscription_status == "expired"


def test_sub4_retrieve_with_auto_renew_keeps_the_renewal_schedule(alice, bob, publish, clock):
    asset = publish(alice, duration=gw.Duration(10, auto_renew=True))
    first = bob.subscribe(asset.content_id, accept_agreements=True)
    bob.cancel_subscription(asset.content_id)
    clock.advance(days=12)
    retrieved = bob.retrieve_subscription(asset.content_id)
    assert retrieved.expires_at == first.expires_at + timedelta(days=10)
    assert retrieved.remaining_days == 8


def test_sub4_cancel_and_retrieve_are_idempotent(alice, bob, publish):
    asset = publish(alice)
    cid = asset.content_id
    bob.subscribe(cid, accept_agreements=True)
    assert bob.retrieve_subscription(cid).status == "active"  # retrieving an active one changes nothing
    assert counter(alice, cid) == 1
    assert bob.cancel_subscription(cid).status == "cancelled"
    assert bob.cancel_subscription(cid).status == "cancelled"
    assert counter(alice, cid) == 0
    assert bob.retrieve_subscription(cid).status == "active"
    assert bob.retrieve_subscription(cid).status == "active"
    assert counter(alice, cid) == 1
    assert len(bob.subscriptions()) == 1


def test_sub4_cancel_or_retrieve_without_a_subscription_is_not_found(alice, bob, publish):
    asset = publish(alice)
    with pytest.raises(gw.NotFound) as caught:
        bob.cancel_subscription(asset.content_id)
    assert "subscribe" in str(caught.value)
    with pytest.raises(gw.NotFound):
        bob.retrieve_subscription(asset.content_id)


def test_sub4_cancel_of_one_user_leaves_others_alone(alice, bob, carol, publish):
    asset = publish(alice)
    bob.subscribe(asset.content_id, accept_agreements=True)
    carol.subscribe(asset.content_id, accept_agreements=True)
    bob.cancel_subscription(asset.content_id)
    assert carol.subscriptions()[0].status == "active"
    assert carol.asset(asset.content_id).subscription_status == "active"


# -- SUB5: discontinued assets ------------------------------------------------------------------------


def test_sub5_existing_subscriber_keeps_using_a_discontinued_asset(alice, bob, publish, clock):
    asset = publish(alice, duration=30)
    first = bob.subscribe(asset.content_id, accept_agreements=True)
    alice.discontinue(asset.content_id)
    clock.advance(days=3)
    sub = bob.subscriptions()[0]
    assert sub.content_id == asset.content_id
    assert sub.status == "active" and sub.usable
    assert sub.asset_status == "discontinued"
    assert sub.expires_at == first.expires_at and sub.remaining_days == 27
    detail = bob.asset(asset.content_id)
    assert detail.status == "discontinued"
    assert detail.subscription_status == "active"
    # Subscribing again is the no-op of SUB2.
    assert bob.subscribe(asset.content_id).status == "active"


def test_sub5_new_subscribers_are_refused(admin, alice, bob, carol, publish):
    asset = publish(alice)
    bob.subscribe(asset.content_id, accept_agreements=True)
    alice.discontinue(asset.content_id)
    # carol never subscribed: the asset is invisible to her (V2)
    with pytest.raises(gw.NotFound):
        carol.subscribe(asset.content_id, accept_agreements=True)
    # the admin sees it, but may not subscribe either
    with pytest.raises(gw.Conflict) as caught:
        admin.subscribe(asset.content_id, accept_agreements=True)
    assert "discontinued" in str(caught.value)
    assert carol.subscriptions() == () and admin.subscriptions() == ()
    assert counter(alice, asset.content_id) == 1


def test_sub5_expired_subscriber_cannot_renew_a_discontinued_asset(alice, bob, publish, clock):
    asset = publish(alice, duration=5)
    bob.subscribe(asset.content_id, accept_agreements=True)
    alice.discontinue(asset.content_id)
    clock.advance(days=6)
    sub = bob.subscriptions()[0]
    assert sub.remaining_days == 0 and not sub.usable
    with pytest.raises(gw.Conflict) as caught:
        bob.subscribe(asset.content_id, accept_agreements=True)
    assert "discontinued" in str(caught.value)
    assert bob.subscriptions()[0].remaining_days == 0


def test_sub5_cancelled_subscriber_may_still_retrieve_a_discontinued_asset(alice, bob, publish):
    asset = publish(alice)
    bob.subscribe(asset.content_id, accept_agreements=True)
    bob.cancel_subscription(asset.content_id)
    alice.discontinue(asset.content_id)
    assert bob.subscriptions()[0].status == "cancelled"
    assert bob.retrieve_subscription(asset.content_id).status == "active"


def test_sub5_released_again_accepts_new_subscribers(alice, bob, carol, publish):
    asset = publish(alice)
    alice.discontinue(asset.content_id)
    with pytest.raises(gw.NotFound):
        carol.subscribe(asset.content_id, accept_agreements=True)
    alice.release(asset.content_id)
    assert carol.subscribe(asset.content_id, accept_agreements=True).status == "active"
    assert bob.subscribe(asset.content_id, accept_agreements=True).asset_status == "released"


# -- SUB6: the subscriptions counter --------------------------------------------------------------------


def test_sub6_counter_counts_active_subscriptions_of_several_users(alice, bob, carol, admin, publish):
    asset = publish(alice)
    cid = asset.content_id
    assert counter(alice, cid) == 0
    for n, g in enumerate((bob, carol, admin), start=1):
        g.subscribe(cid, accept_agreements=True)
        assert counter(alice, cid) == n == active_rows(alice, cid)
    bob.subscribe(cid)  # a second subscribe counts nothing
    assert counter(alice, cid) == 3
    bob.cancel_subscription(cid)
    assert counter(alice, cid) == 2 == active_rows(alice, cid)
    bob.cancel_subscription(cid)
    carol.cancel_subscription(cid)
    assert counter(alice, cid) == 1 == active_rows(alice, cid)
    bob.retrieve_subscription(cid)
    bob.retrieve_subscription(cid)
    assert counter(alice, cid) == 2 == active_rows(alice, cid)
    carol.retrieve_subscription(cid)
    admin.cancel_subscription(cid)
    assert counter(alice, cid) == 2 == active_rows(alice, cid)


def test_sub6_counter_is_the_same_everywhere_it_shows(alice, bob, carol, publish):
    asset = publish(alice, "Counted")
    bob.subscribe(asset.content_id, accept_agreements=True)
    carol.subscribe(asset.content_id, accept_agreements=True)
    carol.cancel_subscription(asset.content_id)
    assert bob.asset(asset.content_id).subscriptions == 1
    assert [a.subscriptions for a in bob.search(kind="algorithm").items] == [1]
    assert counter(alice, asset.content_id) == 1


def test_sub6_refused_subscriptions_do_not_count(alice, bob, carol, publish, make_source):
    asset = publish(alice, source=make_source(requirements=["numpy"]))
    with pytest.raises(gw.AgreementRequired):
        bob.subscribe(asset.content_id, accept_agreements=True)
    with pytest.raises(gw.Conflict):
        alice.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    assert counter(alice, asset.content_id) == 0 == active_rows(alice, asset.content_id)


def test_sub6_expiry_and_renewal_keep_the_counter(alice, bob, publish, clock):
    asset = publish(alice, duration=5)
    cid = asset.content_id
    bob.subscribe(cid, accept_agreements=True)
    clock.advance(days=6)
    # the decision in the code: the counter counts subscriptions whose status is active
    assert counter(alice, cid) == 1 == active_rows(alice, cid)
    bob.subscribe(cid, accept_agreements=True)  # renewal reuses the subscription
    assert counter(alice, cid) == 1 == active_rows(alice, cid)


def test_sub6_market_sorts_by_subscriptions(alice, bob, carol, publish):
    few = publish(alice, "Few")
    many = publish(alice, "Many")
    for g in (bob, carol):
        g.subscribe(many.content_id, accept_agreements=True)
    bob.subscribe(few.content_id, accept_agreements=True)
    page = bob.search(kind="algorithm", sort="subscriptions")
    assert [(a.title, a.subscriptions) for a in page.items] == [("Many", 2), ("Few", 1)]
    bob.cancel_subscription(many.content_id)
    carol.cancel_subscription(many.content_id)
    page = bob.search(kind="algorithm", sort="subscriptions")
    assert [(a.title, a.subscriptions) for a in page.items] == [("Few", 1), ("Many", 0)]
