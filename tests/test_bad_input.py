"""Bad text and names get a clear InvalidInput (never a raw database or encoding error) and
change nothing: NUL and control characters, unpaired surrogates, non-UTF-8 manifests, file
names that cannot be checked out or imported, and names equal after Unicode normalization
(SPEC P1, P2, P4, P7, F2, M3, S1, V5; the text rules are in docs/rules.md)."""

from __future__ import annotations

import os
import unicodedata

import pytest

REST_BACKEND = "full"  # over the team server too when GALLERY_TEST_REST=all (tests/conftest.py)
from conftest import write_algorithm
from snapshot import gallery_state

import gallery_widgets as gw

# What no gallery text may hold, with what the error says about it.
BAD_TEXT = {
    "nul": ("before\x00after", "NUL"),
    "escape": ("before\x1b[2Jafter", "control character"),
    "surrogate": ("before\ud800after", "unpaired surrogate"),
}


@pytest.fixture
def state(gallery_url, tmp_path):
    """``state()``: the whole gallery (rows and artifact files) right now."""
    return lambda: gallery_state(gallery_url, tmp_path / "artifacts")


def refused(state, call, *, match: str):
    """Run ``call``: it must raise InvalidInput matching ``match`` and change nothing."""
    before = state()
    with pytest.raises(gw.InvalidInput, match=match):
        call()
    assert state() == before


# -- every text field of every call --------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_TEXT, ids=list(BAD_TEXT))
@pytest.mark.parametrize("field", ["title", "summary", "description", "paper"])
def test_p7_edited_texts_refuse_nul_controls_and_surrogates(alice, publish, state, field, bad):
    asset = publish(alice, "Clean title")
    value, message = BAD_TEXT[bad]
    arguments = {"paper": gw.Paper(value, "https://example.org/paper")} if field == "paper" else {field: value}
    refused(state, lambda: alice.edit_asset(asset.content_id, **arguments), match=message)


@pytest.mark.parametrize("bad", BAD_TEXT, ids=list(BAD_TEXT))
@pytest.mark.parametrize("field", ["title", "summary", "description"])
def test_p1_publish_texts_refuse_nul_controls_and_surrogates(alice, make_source, state, field, bad):
    value, message = BAD_TEXT[bad]
    options = {"title": "Fine", field: value}
    refused(state, lambda: alice.publish(make_source(), visibility="public", agree=True, **options), match=message)


@pytest.mark.parametrize("bad", BAD_TEXT, ids=list(BAD_TEXT))
def test_p2_version_descriptions_refuse_nul_controls_and_surrogates(alice, publish, make_source, state, bad):
    asset = publish(alice, "Versioned")
    value, message = BAD_TEXT[bad]
    refused(state, lambda: alice.add_version(asset.content_id, make_source(), description=value, agree=True),
            match=message)
    refused(state, lambda: alice.edit_version(asset.content_id, "1.0.0", description=value), match=message)


@pytest.mark.parametrize("bad", BAD_TEXT, ids=list(BAD_TEXT))
def test_f2_comments_refuse_nul_controls_and_surrogates(alice, bob, publish, state, bad):
    asset = publish(alice, "Commented")
    value, message = BAD_TEXT[bad]
    refused(state, lambda: bob.comment(asset.content_id, value), match=message)


@pytest.mark.parametrize("bad", BAD_TEXT, ids=list(BAD_TEXT))
@pytest.mark.parametrize("field", ["nickname", "description", "email"])
def test_m3_profile_texts_refuse_nul_controls_and_surrogates(alice, state, field, bad):
    value, message = BAD_TEXT[bad]
    if field == "email":
        value = value.replace("before", "a@b.org")  # an address except for the bad character
    refused(state, lambda: alice.update_profile(**{field: value}), match=message)


@pytest.mark.parametrize("bad", BAD_TEXT, ids=list(BAD_TEXT))
def test_s1_search_queries_refuse_nul_controls_and_surrogates(alice, bob, publish, state, bad):
    publish(alice, "Searchable")
    value, message = BAD_TEXT[bad]
    refused(state, lambda: bob.search(kind="algorithm", query=value), match=message)
    refused(state, lambda: bob.subscriptions(query=value), match=message)


@pytest.mark.parametrize("name", ["bob\x00", "b\ud800b", "bob\tx", "ｂｏｂ"])
def test_v5_whitelist_names_must_be_plain_user_names(alice, publish, state, name):
    asset = publish(alice, "Shared", visibility="group", group_users=["carol"])
    refused(state, lambda: alice.add_whitelist_users(asset.content_id, "1.0.0", [name]), match="not valid")
    refused(state, lambda: alice.set_restrictions(asset.content_id, group_users=[name]), match="not valid")


def test_p7_tabs_and_line_breaks_stay_allowed_in_long_texts(alice, bob, publish):
    asset = publish(alice, "Tabs")
    text = "a table:\n\tcol 1\tcol 2\r\nend"
    assert alice.edit_asset(asset.content_id, description=text).description == text
    assert bob.comment(asset.content_id, text).text == text


def test_p7_one_line_fields_refuse_unicode_line_separators(alice, publish, state):
    asset = publish(alice, "One line")
    for separator in ("\u2028", "\u2029", "\x85"):
        refused(state, lambda: alice.edit_asset(asset.content_id, summary=f"one{separator}two"), match="single line")


def test_p1_texts_are_stored_in_normal_form_c(alice, bob, publish):
    decomposed = "Cafe\u0301 recommender"  # 'e' + combining acute accent
    asset = publish(alice, decomposed, summary="cre\u0300me")
    assert asset.title == unicodedata.normalize("NFC", decomposed) == "Café recommender"
    assert asset.summary == "crème"
    # the composed spelling finds it, whatever the publisher's keyboard produced
    assert [a.content_id for a in bob.search(kind="algorithm", query="café")] == [asset.content_id]


# -- titles unique after normalization ------------------------------------------------------------


@pytest.mark.parametrize("twin", ["ＣＨＵＲＮ model", "churn model", "Churn\u00a0model", "CHURN MODEL"],
                         ids=["fullwidth", "lower", "nbsp", "upper"])
def test_p1_titles_equal_after_nfkc_and_case_folding_clash(alice, publish, make_source, state, twin):
    original = publish(alice, "Churn model")
    before = state()
    with pytest.raises(gw.Conflict, match="already publish"):
        alice.publish(make_source(), title=twin, visibility="public", agree=True)
    assert state() == before
    other = publish(alice, "Another model")
    with pytest.raises(gw.Conflict, match="already publish"):
        alice.edit_asset(other.content_id, title=twin)
    assert alice.asset(other.content_id).title == "Another model"
    assert alice.asset(original.content_id).title == "Churn model"


def test_p1_title_uniqueness_folds_non_ascii_case_too(alice, bob, publish, make_source):
    publish(alice, "Économie")
    with pytest.raises(gw.Conflict):
        alice.publish(make_source(), title="éCONOMIE", visibility="public", agree=True)
    # another publisher, or another kind, may use the same title
    assert publish(bob, "économie").title == "économie"


def test_p1_ligatures_count_as_their_letters(alice, publish, make_source):
    publish(alice, "ﬁne tuning")
    with pytest.raises(gw.Conflict):
        alice.publish(make_source(), title="fine tuning", visibility="public", agree=True)


# -- user names -------------------------------------------------------------------------------------


def test_m3_a_second_spelling_of_a_user_name_is_refused(admin, open_as, gallery_url, tmp_path):
    open_as("alice")
    before = gallery_state(gallery_url, tmp_path / "artifacts")
    with pytest.raises(gw.Conflict, match="'alice'"):
        open_as("Alice")
    for lookalike in ("ａｌｉｃｅ", "alice\x00", "ali\ud800ce"):
        with pytest.raises(gw.InvalidInput, match="not valid"):
            open_as(lookalike)
    assert gallery_state(gallery_url, tmp_path / "artifacts") == before


# -- manifests -------------------------------------------------------------------------------------


def test_p1_a_manifest_that_is_not_utf8_is_refused_by_line(tmp_path):
    root = write_algorithm(tmp_path / "latin1")
    (root / "algorithm.yaml").write_bytes(
        "name: latin1\nentrypoint: train:main\ndescription: Modèle pour la prévision\n".encode("latin-1"))
    with pytest.raises(gw.InvalidInput, match=r"not UTF-8 text \(byte 0xe8 on line 3\)"):
        gw.Algorithm.from_dir(root)


def test_p1_a_model_manifest_that_is_not_utf8_is_refused(tmp_path):
    root = tmp_path / "model"
    root.mkdir()
    (root / "model.yaml").write_bytes(b"name: m\nloader: load:load\n# \xff\xfe\n")
    (root / "load.py").write_text("def load(path):\n    return None\n")
    with pytest.raises(gw.InvalidInput, match="model.yaml is not UTF-8"):
        gw.Model.from_dir(root)


@pytest.mark.parametrize("escape, message", [(r"\0", "NUL"), (r"\ud800", "unpaired surrogate"),
                                             (r"\e", "control character")])
def test_p1_manifest_strings_made_by_yaml_escapes_are_refused(tmp_path, escape, message):
    root = write_algorithm(tmp_path / "escapes", manifest=(
        "name: escapes\n"
        "entrypoint: train:main\n"
        "hyperparameters:\n"
        f'  - {{name: mode, type: str, default: "a{escape}b"}}\n'
    ))
    with pytest.raises(gw.InvalidInput, match=f"algorithm.yaml: manifest.hyperparameters.*{message}"):
        gw.Algorithm.from_dir(root)


def test_p1_manifest_names_with_a_trailing_newline_are_refused(tmp_path):
    root = write_algorithm(tmp_path / "newline", manifest='name: "newline\\n"\nentrypoint: train:main\n')
    with pytest.raises(gw.InvalidInput, match="field 'name'"):
        gw.Algorithm.from_dir(root)


def test_p1_the_core_checks_manifest_strings_of_any_source(alice, algo_dir, state):
    """A source built without manifest.py (as a client could send it) is checked by the service."""
    good = gw.Algorithm.from_dir(algo_dir)
    forged = gw.Algorithm({**good.manifest, "description": "nul\x00inside"}, dict(good.files))
    refused(state, lambda: alice.publish(forged, title="Forged", visibility="public", agree=True), match="NUL")


def test_p1_function_sources_refuse_a_docstring_with_nul():
    def train(params, inputs, outputs):
        return {}

    train.__doc__ = "trains\x00things"
    with pytest.raises(gw.InvalidInput, match="NUL"):
        gw.Algorithm.from_function(train)


# -- file names inside a source (P4) ---------------------------------------------------------------


@pytest.mark.parametrize("name, message", [("data\\train.csv", "backslash"), ("c:data.csv", "colon"),
                                           ("notes\x1b.txt", "control character")])
def test_p4_file_names_that_cannot_be_checked_out_or_imported_are_refused(alice, tmp_path, state, name, message):
    root = write_algorithm(tmp_path / "names", extra_files={name: "x"})
    with pytest.raises(gw.InvalidInput, match=message):
        gw.Algorithm.from_dir(root)
    # nor can a source built around the folder reader get one into the gallery
    good = gw.Algorithm.from_dir(write_algorithm(tmp_path / "good"))
    forged = gw.Algorithm(good.manifest, {**good.files, name: b"x"})
    refused(state, lambda: alice.publish(forged, title="Forged", visibility="public", agree=True), match=message)


def test_p4_a_file_name_that_is_not_utf8_is_refused(tmp_path):
    root = write_algorithm(tmp_path / "bytes")
    os.close(os.open(os.path.join(os.fsencode(root), b"caf\xe9.csv"), os.O_CREAT | os.O_WRONLY))
    with pytest.raises(gw.InvalidInput, match="not valid UTF-8"):
        gw.Algorithm.from_dir(root)


def test_p4_names_equal_after_canonical_normalization_clash(alice, tmp_path, state):
    composed, decomposed = "caf\u00e9.py", "cafe\u0301.py"  # one file on macOS
    source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "accents",
                                                   extra_files={composed: "a = 1", decomposed: "a = 2"}))
    with pytest.raises(gw.InvalidInput, match="unique") as info:
        source.pack()
    assert composed in str(info.value) and decomposed in str(info.value)
    refused(state, lambda: alice.publish(source, title="Accents", agree=True), match="unique")


def test_p4_a_folder_and_a_file_differing_in_case_and_accents_clash(tmp_path):
    source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "mixed",
                                                   extra_files={"Données/a.csv": "1", "donne\u0301es": "2"}))
    with pytest.raises(gw.InvalidInput, match="folder.*file|file.*folder"):
        source.pack()


def test_p4_compatibility_forms_stay_distinct_file_names(alice, tmp_path):
    """Only canonical equivalence and case merge file names (as file systems do): 'ﬁle' and
    'file' are two files everywhere, so both may be published."""
    root = write_algorithm(tmp_path / "ligature", extra_files={"ﬁle.txt": "1", "file.txt": "2"})
    source = gw.Algorithm.from_dir(root)
    assert {"ﬁle.txt", "file.txt"} <= set(source.files)
    assert alice.publish(source, title="Ligatures", agree=True).title == "Ligatures"


# -- the operator's extra taxonomy (P7: categories from the taxonomy only) ---------------------------


@pytest.fixture
def extra_taxonomy(request, tmp_path, monkeypatch):
    """``extra_taxonomy(bytes)``: GALLERY_TAXONOMY names a file holding these bytes."""
    from gallery_widgets.core import taxonomy

    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "rest":
        pytest.skip("GALLERY_TAXONOMY is read by the server process, which the test cannot change (rest backend)")

    def use(content: bytes):
        path = tmp_path / "taxonomy.yaml"
        path.write_bytes(content)
        monkeypatch.setenv("GALLERY_TAXONOMY", str(path))
        taxonomy._load.cache_clear()

    yield use
    monkeypatch.delenv("GALLERY_TAXONOMY")
    taxonomy._load.cache_clear()


def test_p7_an_extra_taxonomy_file_adds_categories(alice, publish, extra_taxonomy):
    extra_taxonomy("Industry: [Mining]\nTeam: [Forecasting desk]\n".encode())
    asset = publish(alice, "Mined")
    assert alice.edit_asset(asset.content_id, categories=["Industry/Mining", "Team/Forecasting desk"]).categories == (
        "Industry/Mining", "Team/Forecasting desk")


@pytest.mark.parametrize("content, message", [
    (b"Industry: [Min\xe9ria]\n", "not UTF-8"),
    (b"Industry: [unclosed\n", "not valid YAML"),
    (b"- just\n- a list\n", "must map each dimension"),
    (b'Industry: ["Mi\\0ning"]\n', "NUL"),
    (b'Industry: ["Mining/Coal"]\n', "without '/'"),
], ids=["latin1", "yaml", "list", "nul", "slash"])
def test_p7_a_bad_extra_taxonomy_file_is_a_clear_error(alice, publish, extra_taxonomy, state, content, message):
    asset = publish(alice, "Categorised")
    extra_taxonomy(content)
    refused(state, lambda: alice.edit_asset(asset.content_id, categories=["Industry/Mining"]),
            match=f"GALLERY_TAXONOMY.*{message}")
