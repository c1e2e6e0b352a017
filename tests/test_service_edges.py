"""Edges of the service API: query word limits (S1), refreshing without a view (S3), DataFrame types (M2)."""

from __future__ import annotations

import pytest

import gallery_widgets as gw


def test_s1_query_with_too_many_words_is_refused(alice, publish):
    publish(alice, "Twelve word friendly asset", summary="one two three four five six seven eight nine ten eleven")
    words = "one two three four five six seven eight nine ten eleven twelve thirteen"
    with pytest.raises(gw.InvalidInput, match="at most 12 words"):
        alice.search(kind="algorithm", query=words)


def test_s1_every_word_of_a_long_query_must_match(alice, publish):
    publish(alice, "Nine words", summary="alpha beta gamma delta epsilon zeta eta theta iota")
    nine = "alpha beta gamma delta epsilon zeta eta theta iota"
    assert alice.search(kind="algorithm", query=nine).total == 1
    assert alice.search(kind="algorithm", query=nine + " kappa").total == 0


def test_s3_refreshing_details_without_counting_a_view(alice, bob, publish):
    asset = publish(alice, "Counted once")
    bob.asset(asset.content_id)
    assert bob.asset(asset.content_id, count_view=False).views == 1
    with pytest.raises(gw.InvalidInput):
        bob.asset(asset.content_id, count_view="no")


def test_m2_dataframe_keeps_remaining_days_whole(alice, bob, publish):
    limited = publish(alice, "Thirty days", duration=gw.Duration(30))
    unlimited = publish(alice, "Forever")
    for asset in (limited, unlimited):
        bob.subscribe(asset.content_id, accept_constraints=True, accept_agreements=True)
    frame = bob.subscriptions().to_dataframe().set_index("title")
    assert str(frame["remaining_days"].dtype) == "Int64"
    assert frame.loc["Thirty days", "remaining_days"] == 30
    assert frame["remaining_days"].isna().loc["Forever"]
