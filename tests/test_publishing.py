"""Publishing, editing and retiring assets (SPEC P1-P4, P7-P10).

Every test runs on SQLite and PostgreSQL (the ``backend`` fixture behind ``open_as``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

REST_BACKEND = "full"  # over the team server too when GALLERY_TEST_REST=all (tests/conftest.py)

import gallery_widgets as gw
from conftest import JPEG_HEADER, PNG_1PX, write_algorithm

VERSION_FORMAT = "three dot-separated non-negative integers"


# -- helpers -----------------------------------------------------------------------------


def artifact_files(tmp_path: Path) -> list[str]:
    """Every file in the test gallery's artifact store (tmp_path / "artifacts")."""
    root = tmp_path / "artifacts"
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def artifact_path(tmp_path: Path, digest: str) -> Path:
    return tmp_path / "artifacts" / "sha256" / digest[:2] / digest[2:]


def write_model(root: Path, name: str = "demo-model") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.yaml").write_text(f"name: {name}\nloader: load:load\n")
    (root / "load.py").write_text("def load(path):\n    return None\n")
    return root


def snapshot(publisher, content_id, tmp_path, *, others=(), queries=("", "zebra", "original")):
    """Everything a failed call could have touched, seen by the publisher (who counts no
    views) and by the other users' searches (which count nothing either)."""
    return {
        "asset": publisher.asset(content_id),
        "cover": publisher.cover_image(content_id),
        "publishes": publisher.publishes(),
        "search": {
            (viewer.username, q): viewer.search(kind="algorithm", query=q)
            for viewer in (publisher, *others)
            for q in queries
        },
        "artifacts": artifact_files(tmp_path),
    }


class _Elements(HTMLParser):
    """The elements and attributes of rendered HTML (the DOM a browser would build)."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: (v or "") for k, v in attrs}))

    handle_startendtag = handle_starttag


def assert_safe_html(html: str) -> None:
    for tag, attrs in _Elements(html).elements:
        assert tag not in {"script", "iframe", "object", "embed", "style"}, html
        for name, value in attrs.items():
            assert not name.lower().startswith("on"), f"event handler {name} in {html!r}"
            if name.lower() in {"href", "src"}:
                assert not re.sub(r"\s", "", value).lower().startswith(("javascript:", "vbscript:", "data:")), html
    assert "<script" not in html.lower()
    assert "<img src=x" not in html.lower()


# -- P1 create --------------------------------------------------------------------------


def test_p1_publish_defaults(alice, make_source):
    source = make_source("forecast-net")
    asset = alice.publish(source, agree=True)
    assert asset.title == "forecast-net"  # title defaults to the source's name
    assert asset.kind == "algorithm"
    assert asset.visibility == "private"
    assert asset.duration is None
    assert asset.status == "released"
    assert asset.publisher == "alice"
    assert [v.version for v in asset.versions] == ["1.0.0"]
    assert asset.versions[0].status == "normal"
    assert asset.license == "Unknown" and asset.code_open is False
    assert asset.official is False and asset.featured is False
    assert (asset.views, asset.favorites, asset.subscriptions) == (0, 0, 0)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", asset.content_id)
    assert alice.asset(asset.content_id) == asset
    assert [a.content_id for a in alice.publishes()] == [asset.content_id]


def test_p1_private_by_default_is_seen_by_publisher_only(alice, bob, make_source):
    asset = alice.publish(make_source(), title="Secret", agree=True)
    assert [a.title for a in alice.search(kind="algorithm")] == ["Secret"]
    assert bob.search(kind="algorithm").total == 0
    with pytest.raises(gw.NotFound):
        bob.asset(asset.content_id)


def test_p1_publish_with_options(alice, bob, make_source):
    asset = alice.publish(
        make_source(),
        title="Grouped",
        version="2.3.4",
        description="first cut",
        visibility="group",
        group_users=["bob"],
        duration=gw.Duration(30, auto_renew=True),
        agree=True,
    )
    assert asset.visibility == "group"
    assert asset.duration == gw.Duration(30, True)
    assert [(v.version, v.description, v.whitelist) for v in asset.versions] == [("2.3.4", "first cut", ("bob",))]
    assert bob.asset(asset.content_id).title == "Grouped"
    days = alice.publish(make_source(), title="Days", duration=7, agree=True)
    assert days.duration == gw.Duration(7, False)


def test_p1_group_needs_group_users(alice, make_source, tmp_path):
    with pytest.raises(gw.InvalidInput, match="group_users"):
        alice.publish(make_source(), title="G", visibility="group", agree=True)
    assert alice.publishes() == ()
    assert artifact_files(tmp_path) == []


@pytest.mark.parametrize("agree", [False, None, "yes", 1])
def test_p1_agreement_required(alice, make_source, tmp_path, agree):
    with pytest.raises(gw.AgreementRequired) as info:
        alice.publish(make_source(), title="No agreement", agree=agree)
    assert "agree=True" in str(info.value)
    assert info.value.missing
    assert alice.publishes() == ()
    assert alice.search(kind="algorithm").total == 0
    assert artifact_files(tmp_path) == []


def test_p1_duplicate_title_per_publisher_and_kind(alice, bob, make_source, tmp_path):
    first = alice.publish(make_source("one"), title="Churn model", visibility="public", agree=True)
    files = artifact_files(tmp_path)
    with pytest.raises(gw.Conflict, match="Churn model"):
        alice.publish(make_source("two"), title="Churn model", agree=True)
    assert [a.content_id for a in alice.publishes()] == [first.content_id]
    assert artifact_files(tmp_path) == files  # the second archive was not kept
    # Another publisher may use the same title, and so may another kind of the same publisher.
    other = bob.publish(make_source("three"), title="Churn model", agree=True)
    assert other.title == "Churn model" and other.content_id != first.content_id
    model = alice.publish(gw.Model.from_dir(write_model(tmp_path / "m")), title="Churn model", agree=True)
    assert model.kind == "model"


def test_p1_publish_refuses_what_is_not_a_source(alice, algo_dir):
    with pytest.raises(gw.InvalidInput, match="gw.Algorithm"):
        alice.publish(str(algo_dir), title="Path", agree=True)


@pytest.mark.parametrize("title", ["", "   ", "two\nlines", "x" * 101, 42])
def test_p1_bad_title_refused(alice, make_source, title):
    with pytest.raises(gw.InvalidInput, match="title"):
        alice.publish(make_source(), title=title, agree=True)
    assert alice.publishes() == ()


# -- P2 add version ----------------------------------------------------------------------


def test_p2_add_version_bumps_patch(alice, make_source):
    asset = alice.publish(make_source(), title="Bumps", version="1.0.3", agree=True)
    updated = alice.add_version(asset.content_id, make_source(), description="fixes", agree=True)
    assert [v.version for v in updated.versions] == ["1.0.4", "1.0.3"]
    assert updated.versions[0].description == "fixes"
    again = alice.add_version(asset.content_id, make_source(), agree=True)
    assert [v.version for v in again.versions] == ["1.0.5", "1.0.4", "1.0.3"]


def test_p2_explicit_greater_version_compares_numerically(alice, make_source):
    asset = alice.publish(make_source(), title="Numeric", version="1.9.0", agree=True)
    updated = alice.add_version(asset.content_id, make_source(), version="1.10.0", agree=True)
    assert [v.version for v in updated.versions] == ["1.10.0", "1.9.0"]
    with pytest.raises(gw.Conflict):
        alice.add_version(asset.content_id, make_source(), version="1.9.5", agree=True)
    assert [v.version for v in alice.add_version(asset.content_id, make_source(), agree=True).versions] == [
        "1.10.1", "1.10.0", "1.9.0"
    ]
    assert alice.add_version(asset.content_id, make_source(), version="2.0.0", agree=True).versions[0].version == "2.0.0"


@pytest.mark.parametrize("version", ["1.0.3", "1.0.2", "0.9.9"])
def test_p2_version_not_greater_is_conflict(alice, make_source, tmp_path, version):
    asset = alice.publish(make_source(), title="Versions", version="1.0.3", agree=True)
    before = snapshot(alice, asset.content_id, tmp_path)
    with pytest.raises(gw.Conflict) as info:
        alice.add_version(asset.content_id, make_source("changed"), version=version, agree=True)
    assert "1.0.3" in str(info.value) and "1.0.4" in str(info.value)  # says what to use instead
    assert snapshot(alice, asset.content_id, tmp_path) == before


def test_p2_add_version_needs_agreement(alice, make_source, tmp_path):
    asset = alice.publish(make_source(), title="Agree", agree=True)
    before = snapshot(alice, asset.content_id, tmp_path)
    with pytest.raises(gw.AgreementRequired):
        alice.add_version(asset.content_id, make_source("changed"))
    assert snapshot(alice, asset.content_id, tmp_path) == before


def test_p2_add_version_to_others_asset_is_refused(alice, bob, make_source, tmp_path):
    public = alice.publish(make_source(), title="Alice public", visibility="public", agree=True)
    private = alice.publish(make_source(), title="Alice private", agree=True)
    files = artifact_files(tmp_path)
    with pytest.raises(gw.PermissionDenied):
        bob.add_version(public.content_id, make_source("bobs"), agree=True)
    with pytest.raises(gw.NotFound):
        bob.add_version(private.content_id, make_source("bobs"), agree=True)
    assert [v.version for v in alice.asset(public.content_id).versions] == ["1.0.0"]
    assert artifact_files(tmp_path) == files


def test_p2_kind_mismatch_is_invalid(alice, make_source, tmp_path):
    asset = alice.publish(make_source(), title="An algorithm", agree=True)
    model = gw.Model.from_dir(write_model(tmp_path / "model-src"))
    before = snapshot(alice, asset.content_id, tmp_path)
    with pytest.raises(gw.InvalidInput, match="algorithm"):
        alice.add_version(asset.content_id, model, agree=True)
    assert snapshot(alice, asset.content_id, tmp_path) == before


def test_p2_unknown_asset_is_not_found(alice, make_source):
    with pytest.raises(gw.NotFound):
        alice.add_version("nosuchasset", make_source(), agree=True)


def test_p2_new_version_keeps_whitelist_of_previous(alice, bob, carol, make_source):
    asset = alice.publish(make_source(), title="Grouped", visibility="group", group_users=["bob"], agree=True)
    alice.add_whitelist_users(asset.content_id, "1.0.0", ["carol"])
    updated = alice.add_version(asset.content_id, make_source(), agree=True)
    assert [(v.version, set(v.whitelist)) for v in updated.versions] == [
        ("1.0.1", {"bob", "carol"}),
        ("1.0.0", {"bob", "carol"}),
    ]


# -- P3 version format --------------------------------------------------------------------

BAD_VERSIONS = [
    "1.0", "1.0.0.0", "01.0.0", "1.00.0", "a.b.c", "-1.0.0", "", " ", None, 1.0, 1, (1, 0, 0),
    "1..0", "v1.0.0", "1.0.0-rc1", "1.0.x", "1.0.0.", ".1.0.0", "1,0,0", "1.0.-1", "1٠.0.0", "1.0.+1",
]


@pytest.mark.parametrize("version", BAD_VERSIONS, ids=repr)
def test_p3_publish_refuses_bad_version(alice, make_source, tmp_path, version):
    with pytest.raises(gw.InvalidInput) as info:
        alice.publish(make_source(), title="Bad version", version=version, agree=True)
    assert VERSION_FORMAT in str(info.value)
    assert "1.0.0" in str(info.value)  # an example of the right format
    assert alice.publishes() == ()
    assert artifact_files(tmp_path) == []


@pytest.mark.parametrize("version", [v for v in BAD_VERSIONS[:12] if v is not None], ids=repr)  # None: next patch
def test_p3_add_version_refuses_bad_version(alice, make_source, tmp_path, version):
    asset = alice.publish(make_source(), title="Good", agree=True)
    before = snapshot(alice, asset.content_id, tmp_path)
    with pytest.raises(gw.InvalidInput, match=VERSION_FORMAT):
        alice.add_version(asset.content_id, make_source("next"), version=version, agree=True)
    assert snapshot(alice, asset.content_id, tmp_path) == before


def test_p3_rejects_two_part_version_everywhere(alice, make_source):
    asset = alice.publish(make_source(), title="Good", agree=True)
    cid = asset.content_id
    calls = [
        lambda: alice.edit_version(cid, "1.0", description="x"),
        lambda: alice.discontinue_version(cid, "1.0"),
        lambda: alice.add_whitelist_users(cid, "1.0", ["bob"]),
        lambda: alice.delete_whitelist_users(cid, "1.0", ["bob"]),
    ]
    for call in calls:
        with pytest.raises(gw.InvalidInput, match=VERSION_FORMAT):
            call()


@pytest.mark.parametrize("version", ["0.0.0", "0.0.1", "10.20.30", "2.10.3", "999999999.0.0"])
def test_p3_accepts_three_integers(alice, make_source, version):
    assert alice.publish(make_source(), title="Fine", version=version, agree=True).versions[0].version == version


# -- P4 unique names (publishing side; the reader side is in test_sources.py) -------------------


def test_p4_publish_refuses_case_clash_and_keeps_nothing(alice, make_source, tmp_path):
    source = make_source(extra_files={"Train.py": "x = 1\n"})  # beside the fixture's train.py
    with pytest.raises(gw.InvalidInput) as info:
        alice.publish(source, title="Clash", agree=True)
    assert "'Train.py'" in str(info.value) and "'train.py'" in str(info.value)
    assert alice.publishes() == ()
    assert artifact_files(tmp_path) == []


# -- P7 editing details -------------------------------------------------------------------


def test_p7_edit_title_summary_description(alice, bob, publish):
    asset = publish(alice, "Original title", summary="old summary")
    edited = alice.edit_asset(
        asset.content_id,
        title="New title",
        summary="A one-line summary",
        description="# Heading\n\nSome **bold** text.",
    )
    assert (edited.title, edited.summary) == ("New title", "A one-line summary")
    assert edited.description == "# Heading\n\nSome **bold** text."
    assert "<h1>Heading</h1>" in edited.description_html
    assert "<strong>bold</strong>" in edited.description_html
    seen = bob.asset(asset.content_id)
    assert (seen.title, seen.summary, seen.description_html) == (
        "New title", "A one-line summary", edited.description_html
    )
    # Only what is passed changes.
    again = alice.edit_asset(asset.content_id, summary="Second summary")
    assert (again.title, again.description) == ("New title", edited.description)


def test_p7_edit_refuses_bad_title_and_summary(alice, publish):
    asset = publish(alice, "Keep")
    for kwargs in ({"title": ""}, {"title": "a\nb"}, {"title": "x" * 101}, {"summary": "two\nlines"},
                   {"summary": "s" * 201}, {"description": 12}, {"description": "d" * 50_001}):
        with pytest.raises(gw.InvalidInput):
            alice.edit_asset(asset.content_id, **kwargs)
    unchanged = alice.asset(asset.content_id)
    assert (unchanged.title, unchanged.summary, unchanged.description) == ("Keep", "", "")


def test_p7_edit_title_conflicts_with_own_other_asset(alice, bob, publish):
    publish(alice, "Taken")
    mine = publish(alice, "Mine")
    with pytest.raises(gw.Conflict, match="Taken"):
        alice.edit_asset(mine.content_id, title="Taken")
    # Re-saving its own title is fine; bob's titles do not clash with alice's.
    assert alice.edit_asset(mine.content_id, title="Mine").title == "Mine"
    theirs = publish(bob, "Bob's")
    assert bob.edit_asset(theirs.content_id, title="Taken").title == "Taken"


MALICIOUS_MARKDOWN = [
    "<script>alert(1)</script>",
    "Hello <script src='https://evil.example/x.js'></script> there",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    '<a href="#" onclick="steal()">click</a>',
    '<div onmouseover="steal()">hover</div>',
    "[click me](javascript:alert(1))",
    "[click me](JaVaScRiPt:alert(1))",
    "[click me](  javascript:alert(1))",
    "![pic](javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    '[x](https://example.org "title\\" onclick=\\"steal()")',
    "<iframe src='https://evil.example'></iframe>",
    "<svg onload=alert(1)>",
    "<a href='javascript:alert(1)'>raw link</a>",
    "<p style=\"background:url(javascript:alert(1))\">styled</p>",
]


@pytest.mark.parametrize("markdown", MALICIOUS_MARKDOWN)
def test_p7_description_strips_script_tags_handlers_and_javascript_links(alice, bob, publish, markdown):
    asset = publish(alice, "Unsafe")
    edited = alice.edit_asset(asset.content_id, description=markdown)
    assert edited.description == markdown  # the Markdown source is kept as written
    assert_safe_html(edited.description_html)
    assert_safe_html(bob.asset(asset.content_id).description_html)


def test_p7_description_strips_script_tags(alice, publish):
    asset = publish(alice, "Unsafe")
    html = alice.edit_asset(asset.content_id, description="<script>alert(1)</script>\n\nok").description_html
    assert not any(tag == "script" for tag, _ in _Elements(html).elements)
    assert "<p>ok</p>" in html


def test_p7_description_keeps_normal_markdown(alice, publish):
    asset = publish(alice, "Rich")
    markdown = (
        "Some **bold**, *italic* and `code`.\n\n"
        "- first\n- second\n\n"
        "1. one\n2. two\n\n"
        "[Project site](https://example.org/project)\n\n"
        "```python\nprint('hi')\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "![diagram](https://example.org/d.png)\n"
    )
    html = alice.edit_asset(asset.content_id, description=markdown).description_html
    assert "<strong>bold</strong>" in html
    assert "<em>italic</em>" in html
    assert "<code>code</code>" in html
    assert "<ul>" in html and "<li>first</li>" in html and "<li>second</li>" in html
    assert "<ol>" in html and "<li>one</li>" in html
    links = [attrs for tag, attrs in _Elements(html).elements if tag == "a"]
    assert [a["href"] for a in links] == ["https://example.org/project"]
    assert ">Project site</a>" in html
    assert "<pre>" in html and "print(" in html
    assert "<table>" in html and "<td>1</td>" in html
    images = [attrs for tag, attrs in _Elements(html).elements if tag == "img"]
    assert [i["src"] for i in images] == ["https://example.org/d.png"]
    assert_safe_html(html)


def test_p7_cover_png_and_jpeg(alice, bob, publish, tmp_path):
    asset = publish(alice, "Covered")
    assert alice.cover_image(asset.content_id) is None
    png = alice.edit_asset(asset.content_id, cover=PNG_1PX)
    assert png.cover is not None
    assert alice.cover_image(asset.content_id) == PNG_1PX
    assert bob.cover_image(asset.content_id) == PNG_1PX
    assert alice.edit_asset(asset.content_id, cover=JPEG_HEADER).cover != png.cover
    assert alice.cover_image(asset.content_id) == JPEG_HEADER
    # A path to an image works too.
    path = tmp_path / "cover.png"
    path.write_bytes(PNG_1PX)
    alice.edit_asset(asset.content_id, cover=path)
    assert alice.cover_image(asset.content_id) == PNG_1PX
    # Exactly 1 MiB is accepted.
    big = PNG_1PX + b"\0" * (1024 * 1024 - len(PNG_1PX))
    assert len(big) == 1024 * 1024
    alice.edit_asset(asset.content_id, cover=big)
    assert alice.cover_image(asset.content_id) == big
    # None removes it.
    assert alice.edit_asset(asset.content_id, cover=None).cover is None
    assert alice.cover_image(asset.content_id) is None


@pytest.mark.parametrize(
    "cover",
    [
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
        b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
        b"just some text, not an image",
        "not bytes and not a file",
        b"",
        PNG_1PX + b"\0" * (1024 * 1024 + 1 - len(PNG_1PX)),
        12345,
    ],
    ids=["gif", "text", "missing-path", "empty", "1MiB+1", "int"],
)
def test_p7_cover_refused(alice, publish, tmp_path, cover):
    asset = publish(alice, "Covered")
    alice.edit_asset(asset.content_id, cover=PNG_1PX)
    before = snapshot(alice, asset.content_id, tmp_path)
    with pytest.raises(gw.InvalidInput, match="cover"):
        alice.edit_asset(asset.content_id, cover=cover)
    assert snapshot(alice, asset.content_id, tmp_path) == before
    assert alice.cover_image(asset.content_id) == PNG_1PX


def test_p7_cover_file_over_1mib_refused(alice, publish, tmp_path):
    asset = publish(alice, "Covered")
    path = tmp_path / "huge.jpg"
    path.write_bytes(JPEG_HEADER + b"\0" * (1024 * 1024))
    with pytest.raises(gw.InvalidInput, match="1 MiB"):
        alice.edit_asset(asset.content_id, cover=path)
    assert alice.cover_image(asset.content_id) is None


def test_p7_categories_from_taxonomy_only(alice, bob, publish, make_source):
    asset = publish(alice, "Categorised")
    known = gw.categories()
    assert "Scenario/Robot" in known and "Industry/Smart Home" in known
    edited = alice.edit_asset(asset.content_id, categories=["Scenario/Robot", "Industry/Smart Home"])
    assert edited.categories == ("Scenario/Robot", "Industry/Smart Home")
    found = bob.search(kind="algorithm", categories=["Scenario/Robot"])
    assert [a.content_id for a in found] == [asset.content_id]
    assert found.items[0].categories == ("Scenario/Robot", "Industry/Smart Home")
    for bad in (["Scenario/Moon Base"], ["Robot"], ["Scenario/Robot", "Nope/Nothing"], [42]):
        with pytest.raises(gw.InvalidInput):
            alice.edit_asset(asset.content_id, categories=bad)
    assert alice.asset(asset.content_id).categories == ("Scenario/Robot", "Industry/Smart Home")
    with pytest.raises(gw.InvalidInput, match="Moon"):
        alice.publish(make_source(), title="C", categories=["Scenario/Moon"], agree=True)
    assert alice.edit_asset(asset.content_id, categories=[]).categories == ()


def test_p7_paper_http_and_https_only(alice, publish):
    asset = publish(alice, "Papered")
    edited = alice.edit_asset(asset.content_id, paper=gw.Paper("Attention Is All You Need",
                                                                "https://arxiv.org/abs/1706.03762"))
    assert edited.paper == gw.Paper("Attention Is All You Need", "https://arxiv.org/abs/1706.03762")
    assert alice.edit_asset(asset.content_id, paper=("Old paper", "http://example.org/p.pdf")).paper == gw.Paper(
        "Old paper", "http://example.org/p.pdf"
    )
    for bad in (
        gw.Paper("FTP", "ftp://example.org/p.pdf"),
        gw.Paper("JS", "javascript:alert(1)"),
        gw.Paper("No scheme", "example.org/p.pdf"),
        gw.Paper("", "https://example.org"),
        gw.Paper("No host", "https://"),
        "just a string",
    ):
        with pytest.raises(gw.InvalidInput):
            alice.edit_asset(asset.content_id, paper=bad)
    assert alice.asset(asset.content_id).paper == gw.Paper("Old paper", "http://example.org/p.pdf")
    assert alice.edit_asset(asset.content_id, paper=None).paper is None


def test_p7_code_open_and_license(alice, publish):
    asset = publish(alice, "Licensed")
    assert "MIT" in gw.LICENSES and "Unknown" in gw.LICENSES
    edited = alice.edit_asset(asset.content_id, code_open=True, license="MIT")
    assert (edited.code_open, edited.license) == (True, "MIT")
    for kwargs in ({"license": "WTFPL"}, {"license": "mit"}, {"license": None}, {"code_open": "yes"},
                   {"code_open": 1}):
        with pytest.raises(gw.InvalidInput):
            alice.edit_asset(asset.content_id, **kwargs)
    again = alice.asset(asset.content_id)
    assert (again.code_open, again.license) == (True, "MIT")
    for name in gw.LICENSES:
        assert alice.edit_asset(asset.content_id, license=name).license == name


def test_p7_version_descriptions(alice, bob, publish, make_source):
    asset = publish(alice, "Described", description="first")
    alice.add_version(asset.content_id, make_source(), description="second", agree=True)
    edited = alice.edit_version(asset.content_id, "1.0.0", description="first, revised")
    assert [(v.version, v.description) for v in edited.versions] == [("1.0.1", "second"), ("1.0.0", "first, revised")]
    assert [v.description for v in bob.asset(asset.content_id).versions] == ["second", "first, revised"]
    with pytest.raises(gw.NotFound, match="9.9.9"):
        alice.edit_version(asset.content_id, "9.9.9", description="x")
    with pytest.raises(gw.InvalidInput):
        alice.edit_version(asset.content_id, "1.0.0", description="d" * 5_001)
    assert alice.asset(asset.content_id).versions[1].description == "first, revised"


def test_p7_search_finds_edited_title_and_description(alice, bob, publish):
    asset = publish(alice, "Original plain title")
    assert bob.search(kind="algorithm", query="zebra").total == 0
    assert bob.search(kind="algorithm", query="kangaroo").total == 0
    alice.edit_asset(asset.content_id, title="Zebra detector")
    found = bob.search(kind="algorithm", query="zebra")
    assert [a.content_id for a in found] == [asset.content_id]
    assert found.items[0].title == "Zebra detector"
    assert bob.search(kind="algorithm", query="original").total == 0  # the old title is forgotten
    alice.edit_asset(asset.content_id, description="Tracks **kangaroos** in the outback.")
    assert [a.content_id for a in bob.search(kind="algorithm", query="kangaroo")] == [asset.content_id]
    alice.edit_asset(asset.content_id, summary="Counts wombats")
    assert [a.content_id for a in bob.search(kind="algorithm", query="wombats")] == [asset.content_id]
    assert [a.content_id for a in bob.search(kind="algorithm", query="zebra kangaroo", sort="relevance")] == [
        asset.content_id
    ]


# -- failed operations leave the gallery as it was ------------------------------------------


@pytest.fixture
def two_assets(alice, bob, publish):
    """Alice's public "Original" (with a cover and categories) and her other asset "Other"."""
    asset = publish(alice, "Original asset", description="zebra stripes", summary="original summary")
    alice.edit_asset(asset.content_id, cover=PNG_1PX, categories=["Scenario/Robot"],
                     paper=gw.Paper("P", "https://example.org"))
    publish(alice, "Other asset")
    return asset.content_id


def test_p7_failed_edit_with_bad_category_changes_nothing(alice, bob, two_assets, tmp_path):
    before = snapshot(alice, two_assets, tmp_path, others=(bob,))
    with pytest.raises(gw.InvalidInput):
        alice.edit_asset(two_assets, title="Renamed", description="kangaroo", categories=["Scenario/Nowhere"])
    assert snapshot(alice, two_assets, tmp_path, others=(bob,)) == before


def test_p7_failed_edit_with_duplicate_title_changes_nothing(alice, bob, two_assets, tmp_path):
    before = snapshot(alice, two_assets, tmp_path, others=(bob,))
    new_cover = PNG_1PX + b"a brand new cover"
    with pytest.raises(gw.Conflict):
        alice.edit_asset(two_assets, title="Other asset", summary="changed", description="changed too",
                         cover=new_cover, categories=["Scenario/IoT"], license="MIT", code_open=True)
    assert snapshot(alice, two_assets, tmp_path, others=(bob,)) == before  # no new cover file either


def test_p7_failed_edit_with_bad_cover_changes_nothing(alice, bob, two_assets, tmp_path):
    before = snapshot(alice, two_assets, tmp_path, others=(bob,))
    with pytest.raises(gw.InvalidInput):
        alice.edit_asset(two_assets, title="Renamed", summary="new", description="new words",
                         categories=["Scenario/IoT"], cover=b"GIF89a not allowed")
    assert snapshot(alice, two_assets, tmp_path, others=(bob,)) == before


def test_p7_failed_edit_with_bad_paper_or_license_changes_nothing(alice, bob, two_assets, tmp_path):
    before = snapshot(alice, two_assets, tmp_path, others=(bob,))
    with pytest.raises(gw.InvalidInput):
        alice.edit_asset(two_assets, title="Renamed", cover=JPEG_HEADER, paper=gw.Paper("x", "ftp://x.org/p"))
    with pytest.raises(gw.InvalidInput):
        alice.edit_asset(two_assets, description="renamed", cover=JPEG_HEADER, license="Beerware")
    assert snapshot(alice, two_assets, tmp_path, others=(bob,)) == before


def test_p1_failed_publishes_change_nothing(alice, bob, two_assets, make_source, tmp_path):
    before = snapshot(alice, two_assets, tmp_path, others=(bob,))
    # A bad manifest never becomes a source.
    bad = write_algorithm(tmp_path / "src" / "bad", manifest="name: bad\nentrypoint: train\n")
    with pytest.raises(gw.InvalidInput, match="entrypoint"):
        alice.publish(gw.Algorithm.from_dir(bad), title="Bad manifest", agree=True)
    # A duplicate title, a clash of names, a missing agreement, a bad version or category.
    with pytest.raises(gw.Conflict):
        alice.publish(make_source("dup"), title="Original asset", agree=True)
    with pytest.raises(gw.InvalidInput):
        alice.publish(make_source("clash", extra_files={"data": "1", "DATA/x.csv": "2"}), title="Clash", agree=True)
    with pytest.raises(gw.AgreementRequired):
        alice.publish(make_source("unagreed"), title="Unagreed")
    with pytest.raises(gw.InvalidInput):
        alice.publish(make_source("badver"), title="Bad version", version="1.0", agree=True)
    with pytest.raises(gw.InvalidInput):
        alice.publish(make_source("badcat"), title="Bad cat", categories=["Nope/No"], agree=True)
    with pytest.raises(gw.InvalidInput):
        alice.publish(make_source("badgroup"), title="Bad group", visibility="group", agree=True)
    assert snapshot(alice, two_assets, tmp_path, others=(bob,)) == before


def test_p10_failed_restriction_changes_nothing(alice, bob, carol, publish, tmp_path):
    asset = publish(alice, "Grouped original", visibility="group", group_users=["bob"])
    cid = asset.content_id
    before = snapshot(alice, cid, tmp_path, others=(bob, carol))
    with pytest.raises(gw.InvalidInput):  # narrowing, even with a new whitelist and duration
        alice.set_restrictions(cid, visibility="private", group_users=["carol"], duration=5)
    with pytest.raises(gw.InvalidInput):  # V4: the last whitelisted user cannot go
        alice.delete_whitelist_users(cid, "1.0.0", ["bob"])
    with pytest.raises(gw.InvalidInput):
        alice.set_restrictions(cid, group_users=[])
    assert snapshot(alice, cid, tmp_path, others=(bob, carol)) == before
    with pytest.raises(gw.NotFound):
        carol.asset(cid)


# -- P8 discontinue a version ------------------------------------------------------------------


def test_p8_discontinue_version_needs_two_normal_versions(alice, bob, publish, make_source):
    asset = publish(alice, "Versioned")
    cid = asset.content_id
    with pytest.raises(gw.Conflict, match="two"):
        alice.discontinue_version(cid, "1.0.0")
    assert alice.asset(cid).versions[0].status == "normal"
    alice.add_version(cid, make_source(), agree=True)
    alice.add_version(cid, make_source(), agree=True)
    edited = alice.discontinue_version(cid, "1.0.1")
    assert [(v.version, v.status) for v in edited.versions] == [
        ("1.0.2", "normal"), ("1.0.1", "discontinued"), ("1.0.0", "normal")
    ]
    # Others no longer see the discontinued version.
    assert [v.version for v in bob.asset(cid).versions] == ["1.0.2", "1.0.0"]
    alice.discontinue_version(cid, "1.0.0")
    with pytest.raises(gw.Conflict):
        alice.discontinue_version(cid, "1.0.2")
    assert [(v.version, v.status) for v in alice.asset(cid).versions] == [
        ("1.0.2", "normal"), ("1.0.1", "discontinued"), ("1.0.0", "discontinued")
    ]
    with pytest.raises(gw.NotFound):
        alice.discontinue_version(cid, "3.0.0")


# -- P9 discontinue / release / delete ------------------------------------------------------------


def _subscribe(g, cid):
    return g.subscribe(cid, accept_constraints=True, accept_agreements=True)


def test_p9_discontinue_and_release(alice, bob, carol, publish):
    asset = publish(alice, "Lifecycle")
    cid = asset.content_id
    _subscribe(bob, cid)
    discontinued = alice.discontinue(cid)
    assert discontinued.status == "discontinued"
    # V2: off the market; the publisher and existing subscribers still see it.
    assert bob.search(kind="algorithm").total == 0
    assert carol.search(kind="algorithm").total == 0
    assert alice.asset(cid).status == "discontinued"
    assert bob.asset(cid).status == "discontinued"
    with pytest.raises(gw.NotFound):
        carol.asset(cid)
    assert [p.status for p in alice.publishes()] == ["discontinued"]
    released = alice.release(cid)
    assert released.status == "released"
    assert [a.content_id for a in carol.search(kind="algorithm")] == [cid]
    assert carol.asset(cid).status == "released"


def test_p9_delete_refused_while_subscribed(alice, bob, carol, publish, tmp_path):
    asset = publish(alice, "Popular")
    cid = asset.content_id
    _subscribe(bob, cid)
    _subscribe(carol, cid)
    carol.cancel_subscription(cid)  # a cancelled subscriber still counts
    before = snapshot(alice, cid, tmp_path, others=(bob, carol))
    with pytest.raises(gw.Conflict) as info:
        alice.delete(cid)
    assert re.search(r"\b2 subscribers\b", str(info.value)), str(info.value)
    assert "discontinue" in str(info.value)  # says what to do instead
    assert snapshot(alice, cid, tmp_path, others=(bob, carol)) == before
    bob.cancel_subscription(cid)
    with pytest.raises(gw.Conflict, match=r"\b2 subscribers\b"):
        alice.delete(cid)


def test_p9_delete_refused_with_one_cancelled_subscriber(alice, bob, publish):
    asset = publish(alice, "Once popular")
    _subscribe(bob, asset.content_id)
    bob.cancel_subscription(asset.content_id)
    with pytest.raises(gw.Conflict, match=r"\b1 subscriber\b"):
        alice.delete(asset.content_id)
    assert alice.asset(asset.content_id).title == "Once popular"


def test_p9_delete_removes_asset_and_artifacts(alice, bob, publish, make_source, tmp_path):
    asset = publish(alice, "Doomed")
    cid = asset.content_id
    alice.add_version(cid, make_source("v2"), agree=True)
    alice.edit_asset(cid, cover=PNG_1PX + b"doomed cover", description="elephant")
    bob.favorite(cid)
    bob.comment(cid, "nice")
    digests = [v.digest for v in alice.asset(cid).versions]
    cover = alice.asset(cid).cover
    for digest in (*digests, cover):
        assert artifact_path(tmp_path, digest).is_file()
    assert alice.delete(cid) is None
    with pytest.raises(gw.NotFound):
        alice.asset(cid)
    with pytest.raises(gw.NotFound):
        bob.asset(cid)
    with pytest.raises(gw.NotFound):
        bob.favorite(cid)
    assert alice.publishes() == ()
    assert bob.search(kind="algorithm").total == 0
    assert bob.search(kind="algorithm", query="elephant").total == 0
    assert bob.search(kind="algorithm", tab="favorites").total == 0
    for digest in (*digests, cover):
        assert not artifact_path(tmp_path, digest).exists()
    assert artifact_files(tmp_path) == []
    # The title is free again.
    assert publish(alice, "Doomed").title == "Doomed"


def test_p9_delete_keeps_artifacts_other_assets_use(alice, publish, algo_dir, tmp_path):
    source = gw.Algorithm.from_dir(algo_dir)
    first = publish(alice, "First copy", source=source)
    second = publish(alice, "Second copy", source=source)
    digest = first.versions[0].digest
    assert second.versions[0].digest == digest
    alice.delete(first.content_id)
    assert artifact_path(tmp_path, digest).is_file()
    assert alice.asset(second.content_id).versions[0].digest == digest
    alice.delete(second.content_id)
    assert not artifact_path(tmp_path, digest).exists()


def test_p9_delete_unknown_asset_is_not_found(alice):
    with pytest.raises(gw.NotFound):
        alice.delete("nosuchasset")


# -- P10 only the publisher (or an admin) ------------------------------------------------------

EDITING_CALLS = {
    "edit_asset": lambda g, cid, src: g.edit_asset(cid, title="Hijacked"),
    "set_restrictions": lambda g, cid, src: g.set_restrictions(cid, duration=3),
    "add_whitelist_users": lambda g, cid, src: g.add_whitelist_users(cid, "1.0.0", ["carol"]),
    "delete_whitelist_users": lambda g, cid, src: g.delete_whitelist_users(cid, "1.0.0", ["dave"]),
    "edit_version": lambda g, cid, src: g.edit_version(cid, "1.0.0", description="hijacked"),
    "discontinue_version": lambda g, cid, src: g.discontinue_version(cid, "1.0.0"),
    "discontinue": lambda g, cid, src: g.discontinue(cid),
    "release": lambda g, cid, src: g.release(cid),
    "delete": lambda g, cid, src: g.delete(cid),
    "add_version": lambda g, cid, src: g.add_version(cid, src, agree=True),
}


@pytest.mark.parametrize("call", list(EDITING_CALLS), ids=list(EDITING_CALLS))
def test_p10_non_publisher_cannot_edit(alice, bob, open_as, make_source, publish, tmp_path, call):
    operation = EDITING_CALLS[call]
    carol = open_as("carol")
    public = publish(alice, "Public one", visibility="public")
    alice.add_version(public.content_id, make_source(), agree=True)
    grouped = publish(alice, "Group one", visibility="group", group_users=["bob", "dave"])
    private = publish(alice, "Private one", visibility="private")
    befores = {a.content_id: snapshot(alice, a.content_id, tmp_path) for a in (public, grouped, private)}
    # Seen but not owned: PermissionDenied.
    for cid in (public.content_id, grouped.content_id):
        with pytest.raises(gw.PermissionDenied) as info:
            operation(bob, cid, make_source("bobs"))
        assert "publisher" in str(info.value)
    # Not seen: NotFound (V1), and the message does not leak the title.
    for g, cid in ((bob, private.content_id), (carol, grouped.content_id)):
        with pytest.raises(gw.NotFound) as info:
            operation(g, cid, make_source("intruder"))
        assert "Private one" not in str(info.value) and "Group one" not in str(info.value)
    with pytest.raises(gw.NotFound):
        operation(bob, "nosuchasset", make_source("ghost"))
    for a in (public, grouped, private):
        assert snapshot(alice, a.content_id, tmp_path) == befores[a.content_id]


def test_p10_admin_may_edit_any_asset(admin, alice, bob, publish, make_source, tmp_path):
    asset = publish(alice, "Alice's", visibility="private")
    cid = asset.content_id
    assert admin.edit_asset(cid, title="Renamed by admin", license="MIT").title == "Renamed by admin"
    assert admin.set_restrictions(cid, visibility="group", group_users=["bob"], duration=3).visibility == "group"
    assert admin.add_version(cid, make_source(), agree=True).versions[0].version == "1.0.1"
    assert admin.add_whitelist_users(cid, "1.0.0", ["carol"]).users == ("carol",)
    assert admin.delete_whitelist_users(cid, "1.0.0", ["carol"]).users == ("carol",)
    assert admin.edit_version(cid, "1.0.0", description="by admin").versions[1].description == "by admin"
    assert admin.discontinue_version(cid, "1.0.0").versions[1].status == "discontinued"
    assert admin.discontinue(cid).status == "discontinued"
    assert admin.release(cid).status == "released"
    seen = alice.asset(cid)
    assert (seen.title, seen.publisher, seen.license, seen.duration) == (
        "Renamed by admin", "alice", "MIT", gw.Duration(3)
    )
    assert [(v.version, v.status, v.description) for v in seen.versions] == [
        ("1.0.1", "normal", ""), ("1.0.0", "discontinued", "by admin")
    ]
    digests = [v.digest for v in seen.versions]
    admin.delete(cid)
    with pytest.raises(gw.NotFound):
        alice.asset(cid)
    assert not any(artifact_path(tmp_path, d).exists() for d in digests)


def test_p10_user_made_admin_gains_editing(admin, alice, bob, publish):
    asset = publish(alice, "Alice's")
    with pytest.raises(gw.PermissionDenied):
        bob.edit_asset(asset.content_id, summary="by bob")
    admin.set_role("bob", "admin")
    assert bob.edit_asset(asset.content_id, summary="by bob").summary == "by bob"
