"""Visibility (V1-V5), the market and search (S1-S3), favorites and comments (F1-F2).

Every test runs against a real gallery (SQLite and PostgreSQL) through the
public Python API; "alice" publishes, "bob" and "carol" browse, "admin" is the
gallery admin (the first user opened).
"""

from __future__ import annotations

import pytest

REST_BACKEND = "full"  # over the team server too when GALLERY_TEST_REST=all (tests/conftest.py)

import gallery_widgets as gw
from conftest import PNG_1PX

TABS = ("all", "featured", "official", "favorites")
SORTS = ("subscriptions", "favorites", "views", "latest", "relevance")


# -- helpers -------------------------------------------------------------------------------------


def ids(page) -> list[str]:
    """The content ids of a search page, in order."""
    return [item.content_id for item in page.items]


def all_ids(g, **search) -> list[str]:
    """Walk every page of a search; check each page's total agrees, return all ids in order."""
    search.setdefault("page_size", 2)
    first = g.search(page=1, **search)
    found = ids(first)
    for number in range(2, first.pages + 1):
        page = g.search(page=number, **search)
        assert page.total == first.total
        found += ids(page)
    assert len(found) == first.total
    assert len(set(found)) == len(found), "an asset showed on two pages"
    return found


def subscribe(g, content_id):
    return g.subscribe(content_id, accept_constraints=True, accept_agreements=True)


def assert_not_in_market(g, asset, *, kind="algorithm", categories=()):
    """``asset`` shows nowhere in ``g``'s market: no tab, no keyword, no category, no total."""
    keyword = asset.title.split()[0]
    for tab in TABS:
        for query in ("", keyword, asset.publisher):
            for sort in SORTS:
                page = g.search(kind=kind, tab=tab, query=query, sort=sort, page_size=100)
                assert asset.content_id not in ids(page), (tab, query, sort)
                assert page.total == len(page.items), (tab, query, sort)
        if categories:
            page = g.search(kind=kind, tab=tab, categories=categories, page_size=100)
            assert asset.content_id not in ids(page)
            assert page.total == len(page.items)


def assert_hidden(call, asset, where="call"):
    """``call()`` raises NotFound (not PermissionDenied) and its message keeps the title secret."""
    try:
        call()
    except gw.GalleryError as exc:
        error = exc
    else:
        pytest.fail(f"{where}: succeeded although the asset is invisible")
    assert isinstance(error, gw.NotFound) and not isinstance(error, gw.PermissionDenied), f"{where}: {error!r}"
    for word in (asset.title, asset.title.split()[0]):
        assert word.lower() not in str(error).lower(), f"{where} leaks the title: {error}"


def read_paths(g, cid):
    """Every way a browsing user can reach an asset by its id."""
    return {
        "asset": lambda: g.asset(cid),
        "comments": lambda: g.comments(cid),
        "comment": lambda: g.comment(cid, "hello"),
        "favorite": lambda: g.favorite(cid),
        "unfavorite": lambda: g.unfavorite(cid),
        "constraints": lambda: g.constraints(cid),
        "constraints 1.0.0": lambda: g.constraints(cid, version="1.0.0"),
        "cover_image": lambda: g.cover_image(cid),
        "subscribe": lambda: subscribe(g, cid),
    }


def write_paths(g, cid, source):
    """Every way a non-owner could try to change an asset."""
    return {
        "edit_asset": lambda: g.edit_asset(cid, summary="hijacked"),
        "set_restrictions": lambda: g.set_restrictions(cid, visibility="public"),
        "add_whitelist_users": lambda: g.add_whitelist_users(cid, "1.0.0", ["bob"]),
        "delete_whitelist_users": lambda: g.delete_whitelist_users(cid, "1.0.0", ["carol"]),
        "add_version": lambda: g.add_version(cid, source, agree=True),
        "discontinue": lambda: g.discontinue(cid),
        "release": lambda: g.release(cid),
        "delete": lambda: g.delete(cid),
    }


def make_model(tmp_path, name="demo-model"):
    root = tmp_path / "models" / name
    root.mkdir(parents=True)
    (root / "model.yaml").write_text(f"name: {name}\nloader: load:load\n")
    (root / "load.py").write_text(
        "class Echo:\n    def predict(self, x):\n        return x\n\n\ndef load(path):\n    return Echo()\n"
    )
    return gw.Model.from_dir(root)


def versions_of(g, cid) -> list[str]:
    return [v.version for v in g.asset(cid).versions]


def whitelists(g, cid) -> dict[str, set[str]]:
    """Per version, the whitelist as the publisher (or an admin) sees it."""
    return {v.version: set(v.whitelist) for v in g.asset(cid).versions}


@pytest.fixture
def secret(alice, publish):
    """A private asset of alice's with a cover and a category, marked featured and official by the admin."""
    asset = publish(alice, "Zanzibar Secret Forecaster", visibility="private", categories=["Scenario/Robot"])
    alice.edit_asset(asset.content_id, cover=PNG_1PX, description="classified")
    alice.comment(asset.content_id, "note to self")
    return asset


@pytest.fixture
def team_only(alice, publish, carol):
    """A group asset of alice's whitelisting carol only (bob is not on it)."""
    return publish(alice, "Quokka Team Ranker", visibility="group", group_users=["carol"],
                   categories=["Scenario/Robot"])


# -- V1: who sees what ---------------------------------------------------------------------------


def test_v1_private_asset_is_not_found_for_others(alice, bob, secret):
    assert_hidden(lambda: bob.asset(secret.content_id), secret)


@pytest.mark.parametrize("fixture", ["secret", "team_only"])
def test_v1_invisible_asset_every_read_path_raises_not_found(request, bob, fixture):
    asset = request.getfixturevalue(fixture)
    for name, call in read_paths(bob, asset.content_id).items():
        assert_hidden(call, asset, name)


@pytest.mark.parametrize("fixture", ["secret", "team_only"])
def test_v1_invisible_asset_write_paths_raise_not_found(request, bob, make_source, fixture):
    asset = request.getfixturevalue(fixture)
    for name, call in write_paths(bob, asset.content_id, make_source()).items():
        assert_hidden(call, asset, name)


def test_v1_invisible_asset_error_is_the_same_as_for_a_missing_one(bob, secret):
    missing = "nosuchasset000"
    with pytest.raises(gw.NotFound) as hidden:
        bob.asset(secret.content_id)
    with pytest.raises(gw.NotFound) as absent:
        bob.asset(missing)
    assert str(hidden.value).replace(secret.content_id, "ID") == str(absent.value).replace(missing, "ID")


def test_v1_admin_only_calls_do_not_reveal_invisible_assets(bob, secret):
    missing = "nosuchasset000"
    for call in (bob.set_official, bob.set_featured):
        with pytest.raises(gw.PermissionDenied) as hidden:
            call(secret.content_id, True)
        with pytest.raises(gw.PermissionDenied) as absent:
            call(missing, True)
        assert str(hidden.value) == str(absent.value)
        assert "zanzibar" not in str(hidden.value).lower()


def test_v1_invisible_asset_left_unchanged_by_refused_calls(alice, bob, secret, make_source):
    before = alice.asset(secret.content_id)
    for call in list(read_paths(bob, secret.content_id).values()) + list(
        write_paths(bob, secret.content_id, make_source()).values()
    ):
        with pytest.raises(gw.NotFound):
            call()
    after = alice.asset(secret.content_id)
    assert (after.views, after.favorites, after.subscriptions) == (before.views, before.favorites, 0)
    assert after.summary == before.summary and after.visibility == "private" and after.status == "released"
    assert [c.text for c in alice.comments(secret.content_id)] == ["note to self"]
    assert versions_of(alice, secret.content_id) == ["1.0.0"]


def test_v1_private_asset_never_in_search_for_others(admin, alice, bob, carol, secret):
    admin.set_featured(secret.content_id, True)
    admin.set_official(secret.content_id, True)
    for user in (bob, carol):
        assert_not_in_market(user, secret, categories=["Scenario/Robot"])


def test_v1_group_asset_not_whitelisted_never_in_search(admin, bob, team_only):
    admin.set_featured(team_only.content_id, True)
    admin.set_official(team_only.content_id, True)
    assert_not_in_market(bob, team_only, categories=["Scenario/Robot"])


def test_v1_invisible_asset_does_not_change_search_totals(alice, bob, publish, secret, team_only):
    shown = publish(alice, "Zanzibar Open Forecaster")
    for query in ("", "zanzibar", "forecaster", "alice"):
        page = bob.search(query=query)
        assert ids(page) == [shown.content_id]
        assert page.total == 1
    page = bob.search(categories=["Scenario/Robot"])
    assert (ids(page), page.total) == ([], 0)


def test_v1_private_asset_visible_to_its_publisher(alice, secret):
    assert alice.asset(secret.content_id).title == secret.title
    assert ids(alice.search(query="zanzibar")) == [secret.content_id]
    assert alice.search(categories=["Scenario/Robot"]).total == 1


def test_v1_public_asset_visible_to_everyone(admin, alice, bob, carol, publish):
    asset = publish(alice, "Pangolin Public Net", visibility="public")
    for user in (admin, alice, bob, carol):
        assert ids(user.search()) == [asset.content_id]
        assert user.asset(asset.content_id).title == "Pangolin Public Net"
        user.comment(asset.content_id, f"hi from {user.username}")
    assert alice.comments(asset.content_id).total == 4


def test_v1_group_asset_visible_to_publisher_and_whitelist_only(alice, bob, carol, team_only):
    for user in (alice, carol):
        assert ids(user.search()) == [team_only.content_id]
        assert user.asset(team_only.content_id).title == team_only.title
        assert user.comments(team_only.content_id).total == 0
    assert bob.search().total == 0
    assert_hidden(lambda: bob.asset(team_only.content_id), team_only)


def test_v1_admin_sees_everything(admin, alice, bob, publish, secret, team_only):
    shown = publish(alice, "Pangolin Public Net")
    assert set(ids(admin.search())) == {secret.content_id, team_only.content_id, shown.content_id}
    assert admin.search().total == 3
    for asset in (secret, team_only, shown):
        details = admin.asset(asset.content_id)
        assert details.title == asset.title
        assert [v.version for v in details.versions] == ["1.0.0"]
    assert admin.cover_image(secret.content_id) == PNG_1PX
    assert [c.text for c in admin.comments(secret.content_id)] == ["note to self"]
    admin.comment(team_only.content_id, "looks good")
    assert admin.favorite(secret.content_id).favorites == 1


def test_v1_losing_whitelist_hides_an_asset_already_favorited(alice, bob, carol, publish):
    asset = publish(alice, "Wombat Shared Model", visibility="group", group_users=["bob", "carol"])
    bob.favorite(asset.content_id)
    bob.comment(asset.content_id, "bob was here")
    assert ids(bob.search(tab="favorites")) == [asset.content_id]
    alice.delete_whitelist_users(asset.content_id, "1.0.0", ["bob"])
    assert_not_in_market(bob, asset)
    assert_hidden(lambda: bob.asset(asset.content_id), asset)
    assert_hidden(lambda: bob.comments(asset.content_id), asset)
    assert_hidden(lambda: bob.unfavorite(asset.content_id), asset)
    assert [c.text for c in carol.comments(asset.content_id)] == ["bob was here"]


def test_v1_malformed_content_id_is_invalid_input(admin, alice, bob, publish):
    asset = publish(alice, "Pangolin Public Net")
    before = alice.asset(asset.content_id)
    for bad in ("../etc/passwd", "", "a b c d e", "abc", "x" * 65, None, 42, "abc/def/..", "ab%2e%2e/"):
        for name, call in read_paths(bob, bad).items():
            with pytest.raises(gw.InvalidInput) as caught:
                call()
            assert isinstance(caught.value, ValueError), name
    after = alice.asset(asset.content_id)
    assert (after.views, after.favorites) == (before.views, before.favorites)
    assert alice.comments(asset.content_id).total == 0


# -- V2: discontinued assets ---------------------------------------------------------------------


@pytest.fixture
def retired(alice, bob, publish):
    """A public asset bob subscribed to, then discontinued by alice."""
    asset = publish(alice, "Okapi Retired Classifier", categories=["Scenario/IoT"])
    subscribe(bob, asset.content_id)
    alice.discontinue(asset.content_id)
    return asset


def test_v2_discontinued_asset_not_in_search_for_anyone(admin, alice, bob, carol, retired):
    admin.set_featured(retired.content_id, True)
    admin.set_official(retired.content_id, True)
    alice.favorite(retired.content_id)
    bob.favorite(retired.content_id)
    for user in (admin, alice, bob, carol):
        assert_not_in_market(user, retired, categories=["Scenario/IoT"])


def test_v2_subscriber_can_still_open_a_discontinued_asset(bob, retired):
    details = bob.asset(retired.content_id)
    assert details.status == "discontinued"
    assert [v.version for v in details.versions] == ["1.0.0"]
    assert bob.comments(retired.content_id).total == 0
    assert bob.constraints(retired.content_id).empty
    assert [s.content_id for s in bob.subscriptions()] == [retired.content_id]


def test_v2_non_subscriber_gets_not_found(carol, retired):
    for name, call in read_paths(carol, retired.content_id).items():
        assert_hidden(call, retired, name)


def test_v2_discontinued_asset_cannot_be_subscribed_to(alice, bob, carol, publish):
    asset = publish(alice, "Okapi Retired Classifier")
    alice.discontinue(asset.content_id)
    with pytest.raises(gw.NotFound):
        subscribe(carol, asset.content_id)
    assert alice.asset(asset.content_id).subscriptions == 0


def test_v2_publisher_sees_discontinued_asset_in_publishes(alice, retired):
    mine = alice.publishes()
    assert [a.content_id for a in mine] == [retired.content_id]
    assert mine[0].status == "discontinued"
    assert [a.content_id for a in alice.publishes(kind="algorithm")] == [retired.content_id]
    assert alice.publishes(kind="model") == ()
    assert alice.asset(retired.content_id).status == "discontinued"


def test_v2_release_brings_the_asset_back_to_the_market(alice, carol, retired):
    alice.release(retired.content_id)
    page = carol.search(query="okapi")
    assert ids(page) == [retired.content_id] and page.total == 1
    assert carol.asset(retired.content_id).status == "released"


# -- V3: visibility only widens ------------------------------------------------------------------


def test_v3_private_to_group_to_public_is_allowed(alice, bob, carol, publish):
    asset = publish(alice, "Ibis Widening", visibility="private")
    assert alice.set_restrictions(asset.content_id, visibility="group", group_users=["bob"]).visibility == "group"
    assert ids(bob.search()) == [asset.content_id]
    assert carol.search().total == 0
    assert alice.set_restrictions(asset.content_id, visibility="public").visibility == "public"
    assert ids(carol.search()) == [asset.content_id]


def test_v3_private_straight_to_public_is_allowed(alice, carol, publish):
    asset = publish(alice, "Ibis Widening", visibility="private")
    alice.set_restrictions(asset.content_id, visibility="public")
    assert carol.asset(asset.content_id).visibility == "public"


def test_v3_group_to_private_is_refused(alice, bob, publish):
    asset = publish(alice, "Ibis Narrowing", visibility="group", group_users=["bob"])
    with pytest.raises(gw.InvalidInput) as caught:
        alice.set_restrictions(asset.content_id, visibility="private")
    assert "widen" in str(caught.value).lower()
    assert alice.asset(asset.content_id).visibility == "group"
    assert bob.asset(asset.content_id).title == "Ibis Narrowing"


@pytest.mark.parametrize("narrower", ["group", "private"])
def test_v3_public_visibility_cannot_change(alice, bob, publish, narrower):
    asset = publish(alice, "Ibis Public", visibility="public")
    with pytest.raises(gw.InvalidInput) as caught:
        alice.set_restrictions(asset.content_id, visibility=narrower, group_users=["bob"])
    assert "public" in str(caught.value)
    assert alice.asset(asset.content_id).visibility == "public"
    assert whitelists(alice, asset.content_id) == {"1.0.0": set()}


def test_v3_refused_narrowing_changes_nothing(alice, bob, carol, publish):
    asset = publish(alice, "Ibis Narrowing", visibility="group", group_users=["bob"])
    with pytest.raises(gw.InvalidInput):
        alice.set_restrictions(asset.content_id, visibility="private", group_users=["carol"], duration=5)
    after = alice.asset(asset.content_id)
    assert after.visibility == "group" and after.duration is None
    assert whitelists(alice, asset.content_id) == {"1.0.0": {"bob"}}
    assert_hidden(lambda: carol.asset(asset.content_id), asset)


def test_v3_admin_cannot_narrow_either(admin, alice, publish):
    asset = publish(alice, "Ibis Public", visibility="public")
    with pytest.raises(gw.InvalidInput):
        admin.set_restrictions(asset.content_id, visibility="private")
    assert alice.asset(asset.content_id).visibility == "public"


def test_v3_unknown_visibility_is_refused(alice, publish):
    asset = publish(alice, "Ibis Private", visibility="private")
    with pytest.raises(gw.InvalidInput):
        alice.set_restrictions(asset.content_id, visibility="friends")
    assert alice.asset(asset.content_id).visibility == "private"


# -- V4: group needs a whitelist -----------------------------------------------------------------


@pytest.mark.parametrize("users", [(), [], None])
def test_v4_publish_group_without_whitelist_is_refused(alice, publish, users):
    with pytest.raises(gw.InvalidInput) as caught:
        publish(alice, "Lemur Group", visibility="group", group_users=users)
    assert "group_users" in str(caught.value)
    assert alice.publishes() == ()


def test_v4_set_restrictions_to_group_needs_users(alice, bob, publish):
    asset = publish(alice, "Lemur Private", visibility="private")
    with pytest.raises(gw.InvalidInput):
        alice.set_restrictions(asset.content_id, visibility="group")
    with pytest.raises(gw.InvalidInput):
        alice.set_restrictions(asset.content_id, visibility="group", group_users=[])
    assert alice.asset(asset.content_id).visibility == "private"
    assert_hidden(lambda: bob.asset(asset.content_id), asset)


def test_v4_set_restrictions_cannot_empty_a_group_whitelist(alice, bob, publish):
    asset = publish(alice, "Lemur Group", visibility="group", group_users=["bob"])
    with pytest.raises(gw.InvalidInput):
        alice.set_restrictions(asset.content_id, group_users=[])
    assert whitelists(alice, asset.content_id) == {"1.0.0": {"bob"}}
    assert bob.asset(asset.content_id).visibility == "group"


def test_v4_deleting_the_last_whitelisted_user_is_refused(alice, bob, publish):
    asset = publish(alice, "Lemur Group", visibility="group", group_users=["bob"])
    with pytest.raises(gw.InvalidInput) as caught:
        alice.delete_whitelist_users(asset.content_id, "1.0.0", ["bob"])
    assert "at least one" in str(caught.value)
    assert whitelists(alice, asset.content_id) == {"1.0.0": {"bob"}}
    assert ids(bob.search()) == [asset.content_id]


def test_v4_deleting_the_last_users_of_every_version_is_refused(alice, bob, carol, publish, make_source):
    asset = publish(alice, "Lemur Group", visibility="group", group_users=["bob"])
    alice.add_version(asset.content_id, make_source(), agree=True)
    alice.delete_whitelist_users(asset.content_id, "1.0.0", ["bob"])
    with pytest.raises(gw.InvalidInput):
        alice.delete_whitelist_users(asset.content_id, "1.0.1", ["bob"])
    assert whitelists(alice, asset.content_id) == {"1.0.0": set(), "1.0.1": {"bob"}}


def test_v4_deleting_one_of_several_users_is_fine(alice, bob, carol, publish):
    asset = publish(alice, "Lemur Group", visibility="group", group_users=["bob", "carol"])
    change = alice.delete_whitelist_users(asset.content_id, "1.0.0", ["bob"])
    assert change.users == ("bob",)
    assert whitelists(alice, asset.content_id) == {"1.0.0": {"carol"}}
    assert ids(carol.search()) == [asset.content_id]
    assert bob.search().total == 0


def test_v4_whitelist_of_a_public_asset_may_be_emptied(alice, bob, publish):
    asset = publish(alice, "Lemur Public", visibility="public")
    alice.add_whitelist_users(asset.content_id, "1.0.0", ["bob"])
    alice.delete_whitelist_users(asset.content_id, "1.0.0", ["bob"])
    assert whitelists(alice, asset.content_id) == {"1.0.0": set()}
    assert bob.asset(asset.content_id).title == "Lemur Public"


# -- V5: per-version whitelists ------------------------------------------------------------------


@pytest.fixture
def two_versions(alice, bob, carol, publish, make_source):
    """A group asset at 1.0.0 and 1.1.0, both whitelisting bob (1.1.0 inherited it); 1.1.0 needs Python >=3.0."""
    asset = publish(alice, "Tapir Versioned", visibility="group", group_users=["bob"])
    alice.add_version(asset.content_id, make_source(python=">=3.0"), version="1.1.0", agree=True)
    return asset


def test_v5_new_version_inherits_the_previous_whitelist(alice, two_versions):
    assert whitelists(alice, two_versions.content_id) == {"1.0.0": {"bob"}, "1.1.0": {"bob"}}


def test_v5_new_version_inherits_per_version_changes(alice, two_versions, make_source):
    alice.add_whitelist_users(two_versions.content_id, "1.1.0", ["carol"])
    alice.add_version(two_versions.content_id, make_source(), agree=True)
    assert whitelists(alice, two_versions.content_id)["1.1.1"] == {"bob", "carol"}
    assert whitelists(alice, two_versions.content_id)["1.0.0"] == {"bob"}


def test_v5_add_whitelist_users_changes_one_version_only(alice, carol, two_versions):
    change = alice.add_whitelist_users(two_versions.content_id, "1.1.0", ["carol"])
    assert (change.content_id, change.version, change.users) == (two_versions.content_id, "1.1.0", ("carol",))
    assert whitelists(alice, two_versions.content_id) == {"1.0.0": {"bob"}, "1.1.0": {"bob", "carol"}}
    assert versions_of(carol, two_versions.content_id) == ["1.1.0"]


def test_v5_adding_a_user_twice_keeps_one_entry(alice, two_versions):
    alice.add_whitelist_users(two_versions.content_id, "1.0.0", ["carol", "carol"])
    alice.add_whitelist_users(two_versions.content_id, "1.0.0", ["carol"])
    assert whitelists(alice, two_versions.content_id)["1.0.0"] == {"bob", "carol"}


def test_v5_delete_whitelist_users_changes_one_version_only(alice, bob, two_versions):
    alice.delete_whitelist_users(two_versions.content_id, "1.1.0", ["bob"])
    assert whitelists(alice, two_versions.content_id) == {"1.0.0": {"bob"}, "1.1.0": set()}


def test_v5_user_whitelisted_on_one_version_sees_only_that_version(alice, bob, two_versions):
    alice.delete_whitelist_users(two_versions.content_id, "1.1.0", ["bob"])
    assert ids(bob.search()) == [two_versions.content_id]
    details = bob.asset(two_versions.content_id)
    assert [v.version for v in details.versions] == ["1.0.0"]
    assert versions_of(alice, two_versions.content_id) == ["1.1.0", "1.0.0"]


def test_v5_user_may_use_only_versions_whose_whitelist_holds_them(alice, bob, two_versions):
    assert bob.constraints(two_versions.content_id).python == ">=3.0"  # latest usable: 1.1.0
    alice.delete_whitelist_users(two_versions.content_id, "1.1.0", ["bob"])
    assert bob.constraints(two_versions.content_id).python is None  # now 1.0.0
    assert bob.constraints(two_versions.content_id, version="1.0.0").python is None
    with pytest.raises(gw.NotFound):
        bob.constraints(two_versions.content_id, version="1.1.0")


def test_v5_user_whitelisted_on_a_later_version_only_sees_the_asset(alice, carol, two_versions):
    alice.add_whitelist_users(two_versions.content_id, "1.1.0", ["carol"])
    assert ids(carol.search()) == [two_versions.content_id]
    assert ids(carol.search(query="tapir")) == [two_versions.content_id]
    with pytest.raises(gw.NotFound):
        carol.constraints(two_versions.content_id, version="1.0.0")


def test_v5_set_restrictions_group_users_applies_to_every_version(alice, bob, carol, two_versions):
    alice.add_whitelist_users(two_versions.content_id, "1.0.0", ["admin"])
    alice.set_restrictions(two_versions.content_id, group_users=["carol"])
    assert whitelists(alice, two_versions.content_id) == {"1.0.0": {"carol"}, "1.1.0": {"carol"}}
    assert versions_of(carol, two_versions.content_id) == ["1.1.0", "1.0.0"]
    assert bob.search().total == 0
    assert_hidden(lambda: bob.asset(two_versions.content_id), two_versions)


def test_v5_whitelist_of_a_missing_or_malformed_version_is_refused(alice, two_versions):
    with pytest.raises(gw.NotFound):
        alice.add_whitelist_users(two_versions.content_id, "9.9.9", ["carol"])
    for bad in ("1.0", "v1.0.0", "1.0.0.0", "", None):
        with pytest.raises(gw.InvalidInput):
            alice.add_whitelist_users(two_versions.content_id, bad, ["carol"])
    with pytest.raises(gw.InvalidInput):
        alice.add_whitelist_users(two_versions.content_id, "1.0.0", [])
    with pytest.raises(gw.InvalidInput):
        alice.add_whitelist_users(two_versions.content_id, "1.0.0", ["../root"])
    assert whitelists(alice, two_versions.content_id) == {"1.0.0": {"bob"}, "1.1.0": {"bob"}}


def test_v5_only_the_publisher_changes_a_whitelist(alice, bob, two_versions):
    with pytest.raises(gw.PermissionDenied):
        bob.add_whitelist_users(two_versions.content_id, "1.0.0", ["carol"])
    with pytest.raises(gw.PermissionDenied):
        bob.delete_whitelist_users(two_versions.content_id, "1.0.0", ["bob"])
    assert whitelists(alice, two_versions.content_id) == {"1.0.0": {"bob"}, "1.1.0": {"bob"}}


def test_v5_admin_may_change_a_whitelist(admin, alice, carol, two_versions):
    admin.add_whitelist_users(two_versions.content_id, "1.0.0", ["carol"])
    assert versions_of(carol, two_versions.content_id) == ["1.0.0"]


def test_v5_whitelist_is_shown_to_the_publisher_not_to_members(alice, bob, two_versions):
    assert all(v.whitelist == () for v in bob.asset(two_versions.content_id).versions)
    assert all(v.whitelist == ("bob",) for v in alice.asset(two_versions.content_id).versions)


# -- S1: the market ------------------------------------------------------------------------------


def test_s1_one_market_per_kind(alice, bob, publish, tmp_path):
    algorithm = publish(alice, "Narwhal Detector")
    model = publish(alice, "Narwhal Detector", source=make_model(tmp_path))
    assert model.kind == "model"
    for query in ("", "narwhal"):
        assert ids(bob.search(kind="algorithm", query=query)) == [algorithm.content_id]
        assert ids(bob.search(kind="model", query=query)) == [model.content_id]
        assert bob.search(kind="workflow", query=query).total == 0


def test_s1_default_search_is_the_algorithm_market(alice, bob, publish, tmp_path):
    algorithm = publish(alice, "Narwhal Detector")
    publish(alice, "Narwhal Model", source=make_model(tmp_path))
    page = bob.search()
    assert ids(page) == [algorithm.content_id]
    assert (page.page, page.page_size) == (1, 20)


def test_s1_items_are_summaries_with_the_listed_fields(alice, bob, publish):
    asset = publish(alice, "Narwhal Detector", summary="Finds narwhals", categories=["Scenario/IoT", "Engine/ONNX"])
    item = bob.search().items[0]
    assert isinstance(item, gw.AssetSummary)
    assert (item.content_id, item.kind, item.title, item.summary, item.publisher) == (
        asset.content_id, "algorithm", "Narwhal Detector", "Finds narwhals", "alice")
    assert (item.official, item.featured, item.status, item.visibility) == (False, False, "released", "public")
    assert (item.views, item.favorites, item.subscriptions) == (0, 0, 0)
    assert set(item.categories) == {"Scenario/IoT", "Engine/ONNX"}


def test_s1_featured_and_official_tabs(admin, alice, bob, publish):
    plain = publish(alice, "Heron Plain")
    featured = publish(alice, "Heron Featured")
    official = publish(alice, "Heron Official")
    both = publish(alice, "Heron Both")
    admin.set_featured(featured.content_id, True)
    admin.set_official(official.content_id, True)
    admin.set_featured(both.content_id, True)
    admin.set_official(both.content_id, True)
    assert set(ids(bob.search(tab="featured"))) == {featured.content_id, both.content_id}
    assert set(ids(bob.search(tab="official"))) == {official.content_id, both.content_id}
    assert set(ids(bob.search(tab="all"))) == {plain.content_id, featured.content_id, official.content_id,
                                               both.content_id}
    assert bob.search(tab="featured").total == 2
    details = bob.asset(both.content_id)
    assert details.official and details.featured


def test_s1_admin_can_unmark_featured_and_official(admin, alice, bob, publish):
    asset = publish(alice, "Heron Featured")
    admin.set_featured(asset.content_id, True)
    admin.set_official(asset.content_id, True)
    admin.set_featured(asset.content_id, False)
    admin.set_official(asset.content_id, False)
    assert bob.search(tab="featured").total == 0
    assert bob.search(tab="official").total == 0


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_s1_only_admins_mark_official_or_featured(request, alice, bob, publish, who):
    asset = publish(alice, "Heron Plain")
    user = request.getfixturevalue(who)
    with pytest.raises(gw.PermissionDenied):
        user.set_official(asset.content_id, True)
    with pytest.raises(gw.PermissionDenied):
        user.set_featured(asset.content_id, True)
    details = alice.asset(asset.content_id)
    assert not details.official and not details.featured
    assert bob.search(tab="official").total == 0


def test_s1_promoted_admin_may_mark_official(admin, alice, bob, publish):
    asset = publish(alice, "Heron Plain")
    admin.set_role("bob", "admin")
    bob.set_official(asset.content_id, True)
    assert ids(alice.search(tab="official")) == [asset.content_id]


def test_s1_favorites_tab_lists_my_favorites_only(alice, bob, carol, publish):
    mine = publish(alice, "Kestrel One")
    theirs = publish(alice, "Kestrel Two")
    publish(alice, "Kestrel Three")
    bob.favorite(mine.content_id)
    carol.favorite(theirs.content_id)
    assert ids(bob.search(tab="favorites")) == [mine.content_id]
    assert ids(carol.search(tab="favorites")) == [theirs.content_id]
    assert alice.search(tab="favorites").total == 0


def test_s1_category_filter_needs_every_category(alice, bob, publish):
    both = publish(alice, "Gecko Both", categories=["Scenario/Robot", "Industry/Smart Home"])
    robot = publish(alice, "Gecko Robot", categories=["Scenario/Robot"])
    home = publish(alice, "Gecko Home", categories=["Industry/Smart Home"])
    publish(alice, "Gecko None")
    assert set(ids(bob.search(categories=["Scenario/Robot"]))) == {both.content_id, robot.content_id}
    assert set(ids(bob.search(categories=["Industry/Smart Home"]))) == {both.content_id, home.content_id}
    page = bob.search(categories=["Scenario/Robot", "Industry/Smart Home"])
    assert (ids(page), page.total) == ([both.content_id], 1)
    assert bob.search(categories=["Scenario/Robot", "Industry/Smart Home", "Engine/ONNX"]).total == 0
    assert bob.search(categories=()).total == 4


def test_s1_category_filter_accepts_a_single_string_and_duplicates(alice, bob, publish):
    robot = publish(alice, "Gecko Robot", categories=["Scenario/Robot"])
    publish(alice, "Gecko None")
    assert ids(bob.search(categories="Scenario/Robot")) == [robot.content_id]
    assert ids(bob.search(categories=["Scenario/Robot", "Scenario/Robot"])) == [robot.content_id]


def test_s1_category_filter_follows_edits(alice, bob, publish):
    asset = publish(alice, "Gecko Robot", categories=["Scenario/Robot"])
    alice.edit_asset(asset.content_id, categories=["Scenario/IoT"])
    assert bob.search(categories=["Scenario/Robot"]).total == 0
    assert ids(bob.search(categories=["Scenario/IoT"])) == [asset.content_id]


def test_s1_categories_combine_with_keyword_and_tab(admin, alice, bob, publish):
    target = publish(alice, "Gecko Robot", categories=["Scenario/Robot"])
    publish(alice, "Gecko Other", categories=["Scenario/Robot"])
    publish(alice, "Gecko Robot Home", categories=["Scenario/IoT"])
    admin.set_featured(target.content_id, True)
    assert ids(bob.search(query="robot", categories=["Scenario/Robot"])) == [target.content_id]
    assert ids(bob.search(tab="featured", categories=["Scenario/Robot"])) == [target.content_id]


@pytest.mark.parametrize("field", ["title", "summary", "description"])
def test_s1_keyword_searches_title_summary_and_description(alice, bob, publish, field):
    target = publish(alice, "Albatross Base")
    publish(alice, "Albatross Other")
    alice.edit_asset(target.content_id, **{field: "Albatross Xylophonic notes"})
    assert ids(bob.search(query="xylophonic")) == [target.content_id]
    assert bob.search(query="xylophonic").total == 1


def test_s1_keyword_searches_the_publisher(alice, bob, carol, publish):
    by_alice = publish(alice, "Albatross Base")
    by_carol = publish(carol, "Albatross Base")
    assert ids(bob.search(query="alice")) == [by_alice.content_id]
    assert ids(bob.search(query="carol")) == [by_carol.content_id]
    assert set(ids(bob.search(query="albatross"))) == {by_alice.content_id, by_carol.content_id}


def test_s1_keyword_searches_the_publisher_nickname(alice, bob, publish):
    asset = publish(alice, "Albatross Base")
    alice.update_profile(nickname="Moonbeam")
    assert ids(bob.search(query="moonbeam")) == [asset.content_id]


def test_s1_keyword_matches_word_prefixes_case_insensitively(alice, bob, publish):
    asset = publish(alice, "Reinforcement Learning Agent")
    publish(alice, "Supervised Baseline")
    for query in ("reinf lear", "REINFORCEMENT", "Reinf", "agent", "  learn  "):
        assert ids(bob.search(query=query)) == [asset.content_id], query
    assert bob.search(query="ali").total == 2  # a prefix of the publisher "alice"


def test_s1_keyword_matches_non_ascii_words(alice, bob, publish):
    cafe = publish(alice, "CAFÉ Recommender")
    robot = publish(alice, "机器人识别")
    publish(alice, "Plain Router")
    for query in ("café", "CAFÉ", "Café"):
        assert ids(bob.search(query=query)) == [cafe.content_id], query
    assert ids(bob.search(query="机器人")) == [robot.content_id]


def test_s1_keyword_needs_every_word(alice, bob, publish):
    publish(alice, "Reinforcement Learning Agent")
    both = publish(alice, "Deep Reinforcement Planner")
    assert ids(bob.search(query="reinforcement planner")) == [both.content_id]
    assert bob.search(query="reinforcement zebra").total == 0
    assert bob.search(query="einforcement").total == 0  # prefixes, not infixes


@pytest.mark.parametrize("query", ['"', 'robot" OR "x', "robot*", "a & b | !c", "robot:*", "NEAR(a b)", "(", "'",
                                   "--", "%", "_", "\\", "ünïcødé", "机器人"])
def test_s1_keyword_operators_are_plain_text(alice, bob, publish, query):
    publish(alice, "Robot Arm")
    page = bob.search(query=query)
    assert page.total == len(page.items)


def test_s1_keyword_with_quotes_still_matches_words(alice, bob, publish):
    asset = publish(alice, "Robot Arm")
    assert ids(bob.search(query='"robot"')) == [asset.content_id]
    assert ids(bob.search(query="robot-arm")) == [asset.content_id]
    assert bob.search(query='robot" OR "zzz').total == 0


@pytest.fixture
def ranked(alice, bob, carol, publish, clock):
    """Three assets with different counters: A (published 2nd, latest), B, C.

    subscriptions B=2 A=1 C=0; favorites A=2 C=1 B=0; views C=3 A=1 B=0;
    published_at A newest, C middle, B oldest. Id order (newest id first) is C, B, A.
    """
    clock.advance(days=2)
    a = publish(alice, "Ranked A")
    clock.advance(days=-2)
    b = publish(alice, "Ranked B")
    clock.advance(days=1)
    c = publish(alice, "Ranked C")
    clock.advance(days=5)
    subscribe(bob, b.content_id)
    subscribe(carol, b.content_id)
    subscribe(carol, a.content_id)
    bob.favorite(a.content_id)
    carol.favorite(a.content_id)
    bob.favorite(c.content_id)
    for _ in range(3):
        bob.asset(c.content_id)
    carol.asset(a.content_id)
    return {"A": a.content_id, "B": b.content_id, "C": c.content_id}


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("subscriptions", "BAC"),
        ("favorites", "ACB"),
        ("views", "CAB"),
        ("latest", "ACB"),
        ("relevance", "BAC"),  # without a keyword relevance falls back to the default order
    ],
)
def test_s1_every_sort_order(admin, ranked, sort, expected):
    assert ids(admin.search(sort=sort)) == [ranked[x] for x in expected]
    if sort != "relevance":  # with a keyword, relevance ranks by the match instead
        assert ids(admin.search(sort=sort, query="ranked")) == [ranked[x] for x in expected]


def test_s1_default_sort_is_most_subscriptions(bob, ranked):
    assert ids(bob.search()) == [ranked[x] for x in "BAC"]
    assert ids(bob.search(query="ranked")) == [ranked[x] for x in "BAC"]


def test_s1_sort_holds_across_pages(bob, ranked):
    assert all_ids(bob, sort="views", page_size=1) == [ranked[x] for x in "CAB"]
    assert all_ids(bob, sort="latest", page_size=2) == [ranked[x] for x in "ACB"]


def test_s1_relevance_puts_the_best_match_first(alice, bob, carol, publish):
    weak = publish(alice, "Generic Toolkit", summary="Includes a small quasar helper among many other utilities")
    strong = publish(alice, "Quasar Quasar Finder", summary="Quasar detection: quasar spectra, quasar redshift")
    publish(alice, "Unrelated Thing")
    subscribe(bob, weak.content_id)
    subscribe(carol, weak.content_id)
    assert ids(bob.search(query="quasar", sort="relevance")) == [strong.content_id, weak.content_id]
    assert ids(bob.search(query="quasar")) == [weak.content_id, strong.content_id]
    assert bob.search(query="quasar", sort="relevance").total == 2


def test_s1_pages_with_a_total(alice, bob, publish):
    published = [publish(alice, f"Pager {i}").content_id for i in range(5)]
    first = bob.search(page_size=2)
    assert (first.total, first.pages, first.page, first.page_size, len(first)) == (5, 3, 1, 2, 2)
    last = bob.search(page=3, page_size=2)
    assert (last.total, last.page, len(last.items)) == (5, 3, 1)
    beyond = bob.search(page=4, page_size=2)
    assert (beyond.items, beyond.total) == ((), 5)
    assert set(all_ids(bob, page_size=2)) == set(published)
    assert bob.search(page_size=100).pages == 1


def test_s1_empty_market_has_one_empty_page(bob):
    page = bob.search()
    assert (page.items, page.total, page.pages) == ((), 0, 1)


BAD_SEARCHES = [
    dict(kind="dataset"),
    dict(kind="Algorithm"),
    dict(kind=None),
    dict(tab="mine"),
    dict(tab=""),
    dict(sort="popular"),
    dict(sort=None),
    dict(categories=["Nope/Nothing"]),
    dict(categories=["Scenario"]),
    dict(categories=["Scenario/Robot", "Scenario/Robots"]),
    dict(categories=[42]),
    dict(page=0),
    dict(page=-1),
    dict(page="1"),
    dict(page=1.0),
    dict(page=True),
    dict(page_size=0),
    dict(page_size=101),
    dict(page_size="x"),
    dict(page_size=None),
    dict(query="x" * 201),
    dict(query=42),
]


@pytest.mark.parametrize("bad", BAD_SEARCHES, ids=lambda d: repr(d)[:40])
def test_s1_search_rejects_bad_input(alice, bob, publish, bad):
    asset = publish(alice, "Robot Arm", categories=["Scenario/Robot"])
    before = bob.search()
    with pytest.raises(gw.InvalidInput) as caught:
        bob.search(**bad)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value)
    assert bob.search() == before
    assert alice.asset(asset.content_id).views == 0


def test_s1_search_limits_are_inclusive(alice, bob, publish):
    asset = publish(alice, "Robot Arm")
    assert bob.search(page_size=1).page_size == 1
    assert bob.search(page_size=100).page_size == 100
    assert bob.search(query="robot " + "x" * 194).total == 0  # 200 characters is allowed
    assert ids(bob.search(query="   robot   ")) == [asset.content_id]


# -- S2: only released, visible assets; totals agree ---------------------------------------------


@pytest.fixture
def mixed_market(admin, alice, bob, carol, publish):
    """Assets of every visibility and status, all tagged Scenario/Robot and containing 'mixed'."""
    robot = ["Scenario/Robot"]
    shown = {
        "public": publish(alice, "Mixed Public", categories=robot),
        "group_bob": publish(alice, "Mixed Group Bob", visibility="group", group_users=["bob"], categories=robot),
        "bobs_private": publish(bob, "Mixed Bobs Private", visibility="private", categories=robot),
        "public_carol": publish(carol, "Mixed Carol Public", categories=robot),
    }
    hidden = {
        "private": publish(alice, "Mixed Private", visibility="private", categories=robot),
        "group_carol": publish(alice, "Mixed Group Carol", visibility="group", group_users=["carol"], categories=robot),
        "discontinued": publish(alice, "Mixed Discontinued", categories=robot),
        "bobs_discontinued": publish(bob, "Mixed Bobs Discontinued", categories=robot),
    }
    subscribe(bob, hidden["discontinued"].content_id)
    alice.discontinue(hidden["discontinued"].content_id)
    bob.discontinue(hidden["bobs_discontinued"].content_id)
    for asset in list(shown.values()) + list(hidden.values()):
        admin.set_featured(asset.content_id, True)
        admin.set_official(asset.content_id, True)
    return {k: v.content_id for k, v in shown.items()}, {k: v.content_id for k, v in hidden.items()}


@pytest.mark.parametrize("search", [
    dict(),
    dict(query="mixed"),
    dict(tab="featured"),
    dict(tab="official", query="mix"),
    dict(categories=["Scenario/Robot"]),
    dict(sort="latest", categories=["Scenario/Robot"], query="mixed"),
    dict(sort="relevance", query="mixed"),
], ids=repr)
def test_s2_totals_agree_with_items_across_pages(bob, mixed_market, search):
    shown, hidden = mixed_market
    for page_size in (1, 2, 3, 100):
        found = all_ids(bob, page_size=page_size, **search)
        assert set(found) == set(shown.values())


def test_s2_favorites_tab_total_counts_only_visible_released(alice, bob, mixed_market):
    shown, hidden = mixed_market
    bob.favorite(shown["public"])
    bob.favorite(hidden["discontinued"])  # still visible to bob as a subscriber
    alice.set_restrictions(hidden["group_carol"], visibility="public")
    bob.favorite(hidden["group_carol"])
    alice.set_restrictions(hidden["group_carol"], group_users=["carol"])  # stays public
    page = bob.search(tab="favorites", page_size=1)
    assert page.total == 2
    assert set(all_ids(bob, tab="favorites", page_size=1)) == {shown["public"], hidden["group_carol"]}


def test_s2_each_user_sees_their_own_total(admin, alice, carol, mixed_market):
    shown, hidden = mixed_market
    assert set(all_ids(carol)) == {shown["public"], shown["public_carol"], hidden["group_carol"]}
    assert set(all_ids(alice)) == {shown["public"], shown["group_bob"], shown["public_carol"],
                                   hidden["private"], hidden["group_carol"]}
    assert set(all_ids(admin)) == {shown["public"], shown["group_bob"], shown["bobs_private"],
                                   shown["public_carol"], hidden["private"], hidden["group_carol"]}


def test_s2_total_follows_visibility_changes(alice, bob, mixed_market):
    shown, hidden = mixed_market
    before = bob.search().total
    alice.set_restrictions(hidden["private"], visibility="public")
    assert bob.search().total == before + 1
    alice.release(hidden["discontinued"])
    assert bob.search().total == before + 2
    alice.discontinue(shown["public"])
    assert bob.search().total == before + 1
    assert shown["public"] not in all_ids(bob)


# -- S3: views -----------------------------------------------------------------------------------


def test_s3_each_open_counts_one_view(alice, bob, carol, publish):
    asset = publish(alice, "Viewed Asset")
    assert bob.asset(asset.content_id).views == 1
    assert bob.asset(asset.content_id).views == 2
    assert carol.asset(asset.content_id).views == 3
    assert alice.asset(asset.content_id).views == 3
    assert bob.search().items[0].views == 3


def test_s3_publisher_views_do_not_count(alice, bob, publish):
    asset = publish(alice, "Viewed Asset")
    for _ in range(3):
        alice.asset(asset.content_id)
    assert alice.asset(asset.content_id).views == 0
    assert bob.search().items[0].views == 0


def test_s3_admin_views_count(admin, alice, publish):
    asset = publish(alice, "Viewed Asset")
    admin.asset(asset.content_id)
    assert alice.asset(asset.content_id).views == 1


def test_s3_browsing_without_opening_counts_no_view(alice, bob, publish):
    asset = publish(alice, "Viewed Asset")
    bob.search()
    bob.search(query="viewed")
    bob.comments(asset.content_id)
    bob.comment(asset.content_id, "nice")
    bob.favorite(asset.content_id)
    bob.unfavorite(asset.content_id)
    bob.constraints(asset.content_id)
    bob.cover_image(asset.content_id)
    assert alice.asset(asset.content_id).views == 0


def test_s3_refused_open_counts_no_view(alice, bob, publish):
    asset = publish(alice, "Viewed Secret", visibility="private")
    with pytest.raises(gw.NotFound):
        bob.asset(asset.content_id)
    assert alice.asset(asset.content_id).views == 0


# -- F1: favorites -------------------------------------------------------------------------------


def test_f1_favorite_twice_counts_once(alice, bob, publish):
    asset = publish(alice, "Favored Asset")
    first = bob.favorite(asset.content_id)
    second = bob.favorite(asset.content_id)
    assert (first.favorites, second.favorites) == (1, 1)
    assert second.favorited is True
    assert bob.search(tab="favorites").total == 1


def test_f1_unfavorite_twice_and_unfavorite_without_favorite(alice, bob, carol, publish):
    asset = publish(alice, "Favored Asset")
    assert bob.unfavorite(asset.content_id).favorites == 0  # never held: nothing changes
    carol.favorite(asset.content_id)
    bob.favorite(asset.content_id)
    assert bob.unfavorite(asset.content_id).favorites == 1
    again = bob.unfavorite(asset.content_id)
    assert (again.favorites, again.favorited) == (1, False)
    assert bob.search(tab="favorites").total == 0
    assert ids(carol.search(tab="favorites")) == [asset.content_id]


def test_f1_counter_equals_number_of_users_holding_it(admin, alice, bob, carol, publish):
    asset = publish(alice, "Favored Asset")
    for user in (admin, alice, bob, carol, bob, alice):
        user.favorite(asset.content_id)
    assert bob.asset(asset.content_id).favorites == 4
    bob.unfavorite(asset.content_id)
    alice.unfavorite(asset.content_id)
    alice.unfavorite(asset.content_id)
    details = carol.asset(asset.content_id)
    assert details.favorites == 2 and details.favorited
    assert not bob.asset(asset.content_id).favorited
    assert bob.search().items[0].favorites == 2


def test_f1_favorited_flag_is_per_user(alice, bob, carol, publish):
    asset = publish(alice, "Favored Asset")
    bob.favorite(asset.content_id)
    assert bob.asset(asset.content_id).favorited is True
    assert carol.asset(asset.content_id).favorited is False


def test_f1_my_favorites_per_kind(alice, bob, publish, tmp_path):
    algorithm = publish(alice, "Favored Algorithm")
    model = publish(alice, "Favored Model", source=make_model(tmp_path))
    publish(alice, "Unloved Algorithm")
    bob.favorite(algorithm.content_id)
    bob.favorite(model.content_id)
    assert ids(bob.search(kind="algorithm", tab="favorites")) == [algorithm.content_id]
    assert ids(bob.search(kind="model", tab="favorites")) == [model.content_id]
    assert bob.search(kind="workflow", tab="favorites").total == 0


def test_f1_favorites_tab_pages_and_sorts(alice, bob, carol, publish):
    assets = [publish(alice, f"Favored {i}").content_id for i in range(3)]
    for cid in assets:
        bob.favorite(cid)
    carol.favorite(assets[0])
    assert all_ids(bob, tab="favorites", sort="favorites", page_size=1)[0] == assets[0]
    assert set(all_ids(bob, tab="favorites", page_size=2)) == set(assets)


# -- F2: comments --------------------------------------------------------------------------------


def test_f2_users_who_see_an_asset_can_comment(alice, bob, carol, publish, clock):
    asset = publish(alice, "Chatty Asset", visibility="group", group_users=["bob"])
    comment = bob.comment(asset.content_id, "Works well on my data.")
    assert isinstance(comment, gw.Comment)
    assert (comment.author, comment.text, comment.created_at) == ("bob", "Works well on my data.", clock.now)
    assert [c.text for c in alice.comments(asset.content_id)] == ["Works well on my data."]
    assert_hidden(lambda: carol.comment(asset.content_id, "let me in"), asset)
    assert alice.comments(asset.content_id).total == 1


def test_f2_comments_list_newest_first(alice, bob, carol, publish, clock):
    asset = publish(alice, "Chatty Asset")
    bob.comment(asset.content_id, "first")
    clock.advance(minutes=5)
    carol.comment(asset.content_id, "second")
    clock.advance(days=1)
    alice.comment(asset.content_id, "third")
    page = bob.comments(asset.content_id)
    assert [(c.author, c.text) for c in page.items] == [("alice", "third"), ("carol", "second"), ("bob", "first")]
    assert page.total == 3
    assert page.items[0].created_at > page.items[1].created_at > page.items[2].created_at


def test_f2_comments_at_the_same_instant_keep_newest_first(alice, bob, publish):
    asset = publish(alice, "Chatty Asset")
    for text in ("one", "two", "three"):
        bob.comment(asset.content_id, text)
    assert [c.text for c in bob.comments(asset.content_id)] == ["three", "two", "one"]


def test_f2_comments_page(alice, bob, publish, clock):
    asset = publish(alice, "Chatty Asset")
    for i in range(5):
        bob.comment(asset.content_id, f"c{i}")
        clock.advance(seconds=1)
    page = bob.comments(asset.content_id, page=2, page_size=2)
    assert [c.text for c in page.items] == ["c2", "c1"]
    assert (page.total, page.pages) == (5, 3)


def test_f2_comment_of_2000_characters_is_accepted(alice, bob, publish):
    asset = publish(alice, "Chatty Asset")
    text = "x" * 2000
    assert bob.comment(asset.content_id, text).text == text
    assert bob.comments(asset.content_id).items[0].text == text


def test_f2_comment_of_2001_characters_is_refused(alice, bob, publish):
    asset = publish(alice, "Chatty Asset")
    with pytest.raises(gw.InvalidInput) as caught:
        bob.comment(asset.content_id, "x" * 2001)
    assert isinstance(caught.value, ValueError)
    assert "2,000" in str(caught.value) or "2000" in str(caught.value)
    assert bob.comments(asset.content_id).total == 0


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None, 42, b"bytes"])
def test_f2_empty_or_non_text_comment_is_refused(alice, bob, publish, text):
    asset = publish(alice, "Chatty Asset")
    with pytest.raises(gw.InvalidInput):
        bob.comment(asset.content_id, text)
    assert bob.comments(asset.content_id).total == 0


def test_f2_comment_is_kept_as_plain_text(alice, bob, publish):
    asset = publish(alice, "Chatty Asset")
    text = "<script>alert(1)</script> **not bold**\nsecond line"
    bob.comment(asset.content_id, text)
    assert alice.comments(asset.content_id).items[0].text == text


def test_f2_comments_need_visibility_on_discontinued_assets_too(alice, bob, carol, retired):
    bob.comment(retired.content_id, "still using it")
    assert [c.text for c in alice.comments(retired.content_id)] == ["still using it"]
    assert_hidden(lambda: carol.comments(retired.content_id), retired)


def test_v1_a_role_changed_while_a_read_looks_up_the_caller_is_not_kept(admin, alice, bob, publish):
    """A team server's reads keep the caller's role a few seconds (``who_ttl``); a role change
    committed in the same process while a read was looking the caller up must not leave the
    old role kept (the read itself may still answer as of its start)."""
    from conftest import only_embedded

    only_embedded(bob, "who_ttl is a team server's setting inside the SQL gallery")
    secret = publish(alice, "Private Heron", visibility="private")
    admin.set_role("bob", "admin")
    bob.who_ttl = 60.0
    looked_up = bob._me

    def demoted_meanwhile(session):
        row = looked_up(session)  # still an admin as this read saw it...
        admin.set_role("bob", "user")  # ...while the change commits in another call
        return row

    bob._me = demoted_meanwhile
    assert secret.content_id in ids(bob.search())
    bob._me = looked_up
    assert secret.content_id not in ids(bob.search())
    with pytest.raises(gw.NotFound):
        bob.asset(secret.content_id)
