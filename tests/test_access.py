"""Group visibility across publishers and read paths (SPEC V1, V2, V5) and closed code (U1).

Several group assets of two publishers whitelist different users. Each user must reach
exactly the assets (and versions) whose whitelist holds them — through every read and
write path, in search, in My Subscriptions — and everything else must look exactly like
an asset that does not exist. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

REST_BACKEND = True  # these tests run over the team server too (tests/conftest.py)

import gallery_widgets as gw
from conftest import PNG_1PX

MISSING = "nosuchasset00000"
TABS = ("all", "featured", "official", "favorites")

# title -> (publisher, {version: whitelist})
GROUP_ASSETS = {
    "Alpha Lynx": ("alice", {"1.0.0": {"bob"}}),
    "Beta Heron": ("alice", {"1.0.0": {"carol"}}),
    "Gamma Otter": ("dave", {"1.0.0": {"bob", "erin"}}),
    "Delta Ibex": ("dave", {"1.0.0": {"frank"}, "1.0.1": {"carol"}}),
}
CONSUMERS = ("bob", "carol", "erin", "frank", "zoe")


def subscribe(g, content_id):
    return g.subscribe(content_id, accept_constraints=True, accept_agreements=True)


def ids(page) -> set[str]:
    return {item.content_id for item in page.items}


def expected_versions(title: str, user: str) -> list[str]:
    """The versions of ``title`` that ``user`` may see and use, newest first (V5)."""
    _, versions = GROUP_ASSETS[title]
    return sorted((v for v, users in versions.items() if user in users), reverse=True)


@pytest.fixture
def people(admin, open_as):
    """Every user of these tests (admin was opened first, so only admin is an admin)."""
    return {name: open_as(name) for name in ("alice", "dave", *CONSUMERS)}


@pytest.fixture
def groups(people, publish, make_source):
    """The group assets of GROUP_ASSETS, each with a cover, a category and its publisher's comment."""
    made = {}
    for title, (publisher, versions) in GROUP_ASSETS.items():
        g = people[publisher]
        first, *later = sorted(versions)
        asset = publish(g, title, visibility="group", group_users=sorted(versions[first]),
                        categories=["Scenario/Robot"])
        for number in later:
            g.add_version(asset.content_id, make_source(), version=number, agree=True)
            inherited = set(versions[first])  # V5: a new version starts with the one before's whitelist
            g.add_whitelist_users(asset.content_id, number, sorted(versions[number]))
            if inherited - versions[number]:
                g.delete_whitelist_users(asset.content_id, number, sorted(inherited - versions[number]))
        g.edit_asset(asset.content_id, cover=PNG_1PX, description=f"{title} details")
        g.comment(asset.content_id, f"{title} by its publisher")
        made[title] = g.asset(asset.content_id)
    for title, (publisher, versions) in GROUP_ASSETS.items():  # the fixture itself is right
        assert {v.version: set(v.whitelist) for v in people[publisher].asset(made[title].content_id).versions} == versions
    return made


def read_paths(g, cid):
    """Every call a browsing user can make with an asset id."""
    return {
        "asset": lambda: g.asset(cid),
        "comments": lambda: g.comments(cid),
        "comment": lambda: g.comment(cid, "hello"),
        "favorite": lambda: g.favorite(cid),
        "unfavorite": lambda: g.unfavorite(cid),
        "cover_image": lambda: g.cover_image(cid),
        "constraints": lambda: g.constraints(cid),
        "constraints 1.0.0": lambda: g.constraints(cid, version="1.0.0"),
        "subscribe": lambda: subscribe(g, cid),
        "cancel_subscription": lambda: g.cancel_subscription(cid),
        "retrieve_subscription": lambda: g.retrieve_subscription(cid),
        "import_algorithm": lambda: g.import_algorithm(cid),
        "import_model": lambda: g.import_model(cid),
        "import_workflow": lambda: g.import_workflow(cid),
    }


def write_paths(g, cid, source):
    return {
        "edit_asset": lambda: g.edit_asset(cid, summary="hijacked"),
        "set_restrictions": lambda: g.set_restrictions(cid, visibility="public"),
        "add_whitelist_users": lambda: g.add_whitelist_users(cid, "1.0.0", [g.username]),
        "delete_whitelist_users": lambda: g.delete_whitelist_users(cid, "1.0.0", ["bob"]),
        "add_version": lambda: g.add_version(cid, source, agree=True),
        "edit_version": lambda: g.edit_version(cid, "1.0.0", description="x"),
        "discontinue_version": lambda: g.discontinue_version(cid, "1.0.0"),
        "discontinue": lambda: g.discontinue(cid),
        "release": lambda: g.release(cid),
        "delete": lambda: g.delete(cid),
    }


def error_of(call) -> gw.GalleryError | None:
    try:
        call()
    except gw.GalleryError as exc:
        return exc
    return None


def assert_like_missing(g, call_for, asset, where: str) -> None:
    """``call_for(cid)`` fails for ``asset`` exactly as for an id that does not exist."""
    hidden, missing = error_of(lambda: call_for(asset.content_id)), error_of(lambda: call_for(MISSING))
    assert isinstance(hidden, gw.NotFound), f"{g.username} / {asset.title} / {where}: {hidden!r}"
    assert type(hidden) is type(missing), where
    assert str(hidden).replace(asset.content_id, "ID") == str(missing).replace(MISSING, "ID"), where
    for word in asset.title.split():
        assert word.lower() not in str(hidden).lower(), f"{where} leaks the title: {hidden}"


# -- V1: each group asset reaches its own whitelist, nobody else's ------------------------------------------


def test_v1_group_asset_visible_only_to_its_own_whitelist_on_every_read_path(people, groups):
    for user in CONSUMERS:
        g = people[user]
        for title, asset in groups.items():
            cid = asset.content_id
            if expected_versions(title, user):
                details = g.asset(cid)
                assert details.title == title and details.publisher == GROUP_ASSETS[title][0]
                assert [c.text for c in g.comments(cid)][-1] == f"{title} by its publisher"  # oldest last
                assert g.cover_image(cid) == PNG_1PX
                assert g.favorite(cid).favorited and not g.unfavorite(cid).favorited
                assert g.constraints(cid).empty
                assert subscribe(g, cid).status == "active"
                assert g.import_algorithm(cid).version == expected_versions(title, user)[0]
                assert g.cancel_subscription(cid).status == "cancelled"
                assert g.retrieve_subscription(cid).status == "active"
                g.comment(cid, f"{user} was here")
            else:
                paths = read_paths(g, cid)
                for where in paths:
                    assert_like_missing(g, lambda c, w=where: read_paths(g, c)[w](), asset, where)
    # Nothing a refused call did reached the assets.
    for title, asset in groups.items():
        publisher = people[GROUP_ASSETS[title][0]]
        readers = {u for u in CONSUMERS if expected_versions(title, u)}
        assert {c.author for c in publisher.comments(asset.content_id)} == readers | {GROUP_ASSETS[title][0]}
        after = publisher.asset(asset.content_id)
        assert (after.favorites, after.subscriptions) == (0, len(readers))


def test_v1_group_asset_write_paths_deny_members_and_hide_from_others(people, groups, make_source):
    for user in CONSUMERS:
        g = people[user]
        for title, asset in groups.items():
            for where, call in write_paths(g, asset.content_id, make_source()).items():
                error = error_of(call)
                if expected_versions(title, user):
                    assert isinstance(error, gw.PermissionDenied), (user, title, where, error)
                else:
                    assert_like_missing(g, lambda c, w=where: write_paths(g, c, make_source())[w](), asset, where)
    for title, asset in groups.items():
        after = people[GROUP_ASSETS[title][0]].asset(asset.content_id)
        assert after.summary == "" and after.visibility == "group" and after.status == "released"
        assert {v.version: set(v.whitelist) for v in after.versions} == GROUP_ASSETS[title][1]


def test_v1_search_shows_each_user_only_the_group_assets_that_whitelist_them(admin, people, groups):
    admin.set_featured(groups["Beta Heron"].content_id, True)
    admin.set_official(groups["Gamma Otter"].content_id, True)
    for user in CONSUMERS:
        g = people[user]
        mine = {a.content_id for t, a in groups.items() if expected_versions(t, user)}
        for cid in mine:
            g.favorite(cid)
        for tab in TABS:
            for query in ("", "alpha", "beta", "gamma", "delta", "alice", "dave", "details"):
                for categories in ((), ("Scenario/Robot",)):
                    page = g.search(tab=tab, query=query, categories=categories, page_size=100)
                    assert ids(page) <= mine, (user, tab, query)
                    assert page.total == len(page.items), (user, tab, query)
        assert ids(g.search(page_size=100)) == mine
        assert ids(g.search(tab="favorites", page_size=100)) == mine
    assert admin.search(page_size=100).total == len(groups)


def test_v1_my_subscriptions_lists_only_assets_still_visible(people, groups):
    bob, alice = people["bob"], people["alice"]
    alpha, gamma = groups["Alpha Lynx"], groups["Gamma Otter"]
    subscribe(bob, alpha.content_id)
    subscribe(bob, gamma.content_id)
    assert {s.content_id for s in bob.subscriptions()} == {alpha.content_id, gamma.content_id}

    alice.set_restrictions(alpha.content_id, group_users=["carol"])  # bob is off Alpha's whitelist

    assert [s.content_id for s in bob.subscriptions()] == [gamma.content_id]
    assert len(bob.subscriptions().to_dataframe()) == 1
    for where in ("asset", "cancel_subscription", "retrieve_subscription", "import_algorithm", "subscribe"):
        assert_like_missing(bob, lambda c, w=where: read_paths(bob, c)[w](), alpha, where)

    alice.add_whitelist_users(alpha.content_id, "1.0.0", ["bob"])  # back on: the subscription shows again
    assert {s.content_id for s in bob.subscriptions()} == {alpha.content_id, gamma.content_id}


def test_v2_discontinued_group_asset_needs_its_own_whitelist_as_well_as_a_subscription(people, groups):
    bob, alice = people["bob"], people["alice"]
    alpha = groups["Alpha Lynx"]
    subscribe(bob, alpha.content_id)
    alice.set_restrictions(alpha.content_id, group_users=["carol"])
    alice.discontinue(alpha.content_id)
    # bob still subscribes to it and is whitelisted on Gamma, another publisher's group asset:
    # neither makes Alpha visible again.
    assert_like_missing(bob, lambda c: bob.asset(c), alpha, "asset")
    assert bob.asset(groups["Gamma Otter"].content_id).title == "Gamma Otter"
    alice.add_whitelist_users(alpha.content_id, "1.0.0", ["bob"])
    assert bob.asset(alpha.content_id).status == "discontinued"  # V2: an existing subscriber again


# -- V5: per version ------------------------------------------------------------------------------------


def test_v5_subscribe_and_import_only_versions_whose_whitelist_holds_you(people, groups):
    delta = groups["Delta Ibex"].content_id
    carol, frank = people["carol"], people["frank"]
    for g, mine, other in ((carol, "1.0.1", "1.0.0"), (frank, "1.0.0", "1.0.1")):
        assert [v.version for v in g.asset(delta).versions] == [mine]
        subscribe(g, delta)
        assert g.import_algorithm(delta).version == mine
        assert g.import_algorithm(delta, version=mine).version == mine
        assert g.constraints(delta, version=mine).empty
        for call in (lambda: g.import_algorithm(delta, version=other), lambda: g.constraints(delta, version=other)):
            error = error_of(call)
            assert isinstance(error, gw.NotFound), error
            assert f"available: {mine})" in str(error)  # names only the versions you may use
    # The versions of one asset whitelist nobody into another's.
    bob = people["bob"]
    for where in ("asset", "constraints", "import_algorithm"):
        assert_like_missing(bob, lambda c, w=where: read_paths(bob, c)[w](), groups["Delta Ibex"], where)


def test_v5_the_whitelist_of_a_version_shows_no_one_another_version(people, groups, make_source):
    dave, carol = people["dave"], people["carol"]
    delta = groups["Delta Ibex"].content_id
    dave.add_version(delta, make_source(), version="1.0.2", agree=True)
    assert [v.version for v in carol.asset(delta).versions] == ["1.0.2", "1.0.1"]  # 1.0.2 inherited carol
    dave.delete_whitelist_users(delta, "1.0.2", ["carol"])
    assert [v.version for v in carol.asset(delta).versions] == ["1.0.1"]


# -- U1: closed code ----------------------------------------------------------------------------------------


@pytest.fixture
def closed(people, publish):
    asset = publish(people["alice"], "Closed Kiwi")  # public, code not open (the default)
    subscribe(people["bob"], asset.content_id)
    return asset


def test_u1_closed_code_handle_hands_out_neither_source_nor_folder(people, closed, tmp_path):
    handle = people["bob"].import_algorithm(closed.content_id)

    assert handle.code_visible is False
    for read in (lambda: handle.folder, lambda: handle.files, lambda: handle.preview(), lambda: handle.module,
                 lambda: handle.preview("train.py")):
        with pytest.raises(gw.PermissionDenied, match="not open"):
            read()
    assert str(tmp_path) not in repr(handle) and "cache" not in repr(handle)

    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    job = handle.train(params={"epochs": 1}, inputs={"data": data}).wait(60)  # it still trains
    assert job.status == "succeeded", job.error


def test_u1_code_visible_is_read_only(people, closed):
    handle = people["bob"].import_algorithm(closed.content_id)

    with pytest.raises(AttributeError, match="read-only"):
        handle.code_visible = True
    with pytest.raises(AttributeError):
        del handle.code_visible

    assert handle.code_visible is False
    with pytest.raises(gw.PermissionDenied):
        handle.preview()


def test_u1_open_code_and_the_publisher_see_the_folder(people, closed):
    own = people["alice"].import_algorithm(closed.content_id)
    assert own.code_visible and (own.folder / "train.py").is_file() and "train.py" in own.files

    people["alice"].edit_asset(closed.content_id, code_open=True)
    opened = people["bob"].import_algorithm(closed.content_id)
    assert opened.code_visible and opened.folder == own.folder
    assert "def main" in opened.preview()
