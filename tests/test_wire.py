"""SPEC §6: every result the service returns survives the wire (JSON) unchanged, decoded by
the return type the interface declares."""

from __future__ import annotations

import json
import typing
from datetime import datetime, timezone

import pytest

import gallery_widgets as gw
from gallery_widgets import entities, service, wire
from gallery_widgets.errors import InvalidInput
from gallery_widgets.wire import decode_argument, encode_argument, from_wire, to_wire

from test_workflows import pipeline


def returns(method: str):
    return typing.get_type_hints(getattr(service.GalleryService, method), vars(service))["return"]


def round_trip(method: str, value):
    # The server writes answers with to_json (orjson): the very same text as to_wire + json.dumps.
    assert wire.to_json(value) == json.dumps(to_wire(value), ensure_ascii=False, separators=(",", ":")).encode(), method
    data = json.loads(json.dumps(to_wire(value)))
    again = from_wire(returns(method), data)
    assert again == value, method
    assert type(again) is type(value)
    return again


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("1\n2\n3\n")
    return path


def test_t4_every_result_type_round_trips(alice, bob, publish, tmp_path, data):
    asset = publish(alice, "Wire algo", summary="one line", categories=["Scenario/Smart Home"],
                    duration=gw.Duration(30, auto_renew=True))
    cid = asset.content_id
    alice.edit_asset(cid, paper=gw.Paper("A paper", "https://example.org/p"), description="# Hi\n**bold**",
                     cover=bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                         "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"))
    round_trip("search", bob.search(kind="algorithm"))
    round_trip("asset", alice.asset(cid))
    round_trip("favorite", bob.favorite(cid))
    round_trip("comment", bob.comment(cid, "nice"))
    round_trip("comments", bob.comments(cid))
    round_trip("constraints", bob.constraints(cid))
    sub = round_trip("subscribe", bob.subscribe(cid, accept_constraints=True, accept_agreements=True))
    assert sub.expires_at.tzinfo is not None
    subs = round_trip("subscriptions", bob.subscriptions())
    assert isinstance(subs, entities.SubscriptionList) and len(subs) == 1
    round_trip("publishes", alice.publishes())
    round_trip("user", bob.user("alice"))
    round_trip("taxonomy", bob.taxonomy())
    round_trip("categories", bob.categories())
    round_trip("agreements", bob.agreements())
    round_trip("licenses", bob.licenses())
    round_trip("regions", bob.regions())
    round_trip("usable_version", bob.usable_version(cid, kind="algorithm"))
    flow = pipeline(tmp_path, data).release_to_gallery(title="Wire flow", gallery=alice)
    round_trip("asset", flow)
    change = round_trip("add_whitelist_users", alice.add_whitelist_users(flow.content_id, "1.0.0", ["bob"]))
    assert isinstance(change, entities.WhitelistChange)
    workflow_version = alice.usable_version(flow.content_id, kind="workflow")
    assert workflow_version.steps
    round_trip("usable_version", workflow_version)
    record = alice.add_workspace_workflow(flow.content_id, "1.0.0", "wire_flow")
    round_trip("add_workspace_workflow", record)
    round_trip("workspace_workflows", alice.workspace_workflows())
    round_trip("notifications", alice.notifications())
    assert from_wire(returns("mark_notifications_read"), to_wire(3)) == 3


def test_t4_results_with_findings_round_trip(alice, publish, make_source):
    source = make_source(extra_files={"helper.py": "import subprocess\nsubprocess.call('ls')\n"})
    asset = publish(alice, "Findings algo", source=source)
    versions = asset.versions
    assert versions[0].findings, "the scan reports low/medium findings on subprocess"
    round_trip("asset", asset)


def test_t4_me_and_tokens_round_trip():
    user = entities.User("alice", "Alice", "a@example.org", "", "user", None, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert from_wire(entities.User, json.loads(json.dumps(to_wire(user)))) == user
    token = entities.AccessToken("laptop", datetime(2026, 1, 1, tzinfo=timezone.utc), None)
    assert from_wire(entities.AccessToken, to_wire(token)) == token


@pytest.mark.parametrize("hint, data", [
    (entities.User, {"username": "x"}),
    (entities.User, [1]),
    (entities.Page[entities.Comment], {"items": "no", "total": 1, "page": 1, "page_size": 1}),
    (datetime, 5),
])
def test_t4_malformed_wire_data_is_invalid_input(hint, data):
    with pytest.raises(InvalidInput):
        from_wire(hint, data)


def test_t4_arguments_round_trip():
    assert decode_argument("duration", "duration", encode_argument(gw.Duration(7, True))) == gw.Duration(7, True)
    assert decode_argument("duration", "duration", 7) == 7
    assert decode_argument("paper", "paper", encode_argument(gw.Paper("t", "https://x.org"))) == gw.Paper("t", "https://x.org")
    assert decode_argument("image", "cover", encode_argument(b"\x89PNG")) == b"\x89PNG"
    assert decode_argument("image", "cover", None) is None
    for kind, bad in [("duration", {"days": 1, "evil": 2}), ("paper", {"title": "x"}), ("image", {"base64": "!!"}),
                      ("image", "raw"), ("strs", "alice")]:
        with pytest.raises(InvalidInput):
            decode_argument(kind, "field", bad)
    assert wire.to_wire({"a": (1, 2)}) == {"a": [1, 2]}


def test_n3_notification_ids_travel_as_a_list_of_whole_numbers():
    from gallery_widgets import routes
    from gallery_widgets.server.openapi import document

    route = next(r for r in routes.ROUTES if r.method == "mark_notifications_read")
    (ids,) = route.params
    assert (ids.name, ids.where, ids.type, ids.required) == ("ids", "body", "ints?", False)
    assert decode_argument("ints?", "ids", None) is None
    assert decode_argument("ints?", "ids", [3, 4]) == [3, 4]
    for bad in ([True], ["3"], [1.5], 3, {"ids": 3}):
        with pytest.raises(InvalidInput, match="list of whole numbers"):
            decode_argument("ints?", "ids", bad)
    body = document()["paths"]["/notifications/read"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["ids"]["anyOf"][0] == {"type": "array", "items": {"type": "integer"}}


def test_t4_no_wire_entity_has_a_field_orjson_would_leave_out():
    """orjson skips dataclass fields whose names start with "_": no result may have one."""
    import dataclasses

    from gallery_widgets import entities

    hidden = {name: [f.name for f in dataclasses.fields(cls) if f.name.startswith("_")]
              for name, cls in vars(entities).items() if isinstance(cls, type) and dataclasses.is_dataclass(cls)}
    assert not any(hidden.values()), hidden


def test_t4_to_json_writes_what_orjson_refuses_as_the_standard_library_does():
    assert json.loads(wire.to_json({"big": 2**70, "id": (1, 2)})) == {"big": 2**70, "id": [1, 2]}
    assert wire.to_json(float("nan")) == b"null"
