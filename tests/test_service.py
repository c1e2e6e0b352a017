"""SPEC §6 (layers, T5) and U3/U4/U7 at the wire level: the ``GalleryService`` calls a
kernel-side layer and a REST server build on, exercised on the SQL gallery.

A packed source is untrusted input here: its digest, manifest and entry names are
checked again by the gallery, and a refused publish leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import zipfile

import pytest

REST_BACKEND = True  # these tests run over the team server too (tests/conftest.py)

import gallery_widgets as gw
from gallery_widgets.entities import Agreement, PackedSource, UsableVersion, WorkspaceWorkflow
from gallery_widgets.errors import Conflict, InvalidInput, NotFound, SubscriptionRequired
from gallery_widgets.packing import MANIFEST_ENTRY, pack
from gallery_widgets.service import GalleryService

from conftest import write_algorithm


def subscribe(g, content_id):
    return g.subscribe(content_id, accept_constraints=True, accept_agreements=True)


def artifact_files(tmp_path) -> set[str]:
    root = tmp_path / "artifacts"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def packed_from(make_source, **options) -> PackedSource:
    return make_source(**options).packed()


# -- the interface ---------------------------------------------------------------------------
def test_layers_sql_gallery_implements_every_service_call(alice):
    assert isinstance(alice, GalleryService)
    abstract = GalleryService.__abstractmethods__
    assert {"search", "publish", "usable_version", "open_artifact", "workspace_workflows", "taxonomy"} <= abstract
    for name in abstract:
        assert not getattr(getattr(type(alice), name), "__isabstractmethod__", False), name


def test_layers_every_service_call_documents_what_it_raises():
    for name in GalleryService.__abstractmethods__:
        member = inspect.getattr_static(GalleryService, name)
        doc = inspect.getdoc(member.fget if isinstance(member, property) else member) or ""
        if name in ("url", "close", "taxonomy", "categories", "agreements", "licenses", "regions",
                    "mark_notifications_read"):
            assert doc, name
        else:
            assert "Raises:" in doc, name


def test_layers_reference_data_comes_from_the_gallery(alice):
    taxonomy = alice.taxonomy()
    assert "Scenario" in taxonomy and "Scenario/Robot" in alice.categories()
    assert set(alice.categories()) == {f"{d}/{leaf}" for d, leaves in taxonomy.items() for leaf in leaves}
    agreements = alice.agreements()
    assert all(isinstance(a, Agreement) and a.text and a.version for a in agreements)
    assert {a.id for a in agreements} == {"data-security-privacy-risk", "service-agreement", "publishing-agreement"}
    assert alice.licenses()[0] == "Unknown" and "MIT" in alice.licenses()
    assert alice.regions() == ("local",)


# -- T5: a packed source is checked again ------------------------------------------------------
def test_t5_packed_source_publishes_like_a_local_one(alice, make_source):
    packed = packed_from(make_source)
    asset = alice.publish(packed, title="Packed", agree=True)
    assert asset.versions[0].digest == packed.sha256
    again = alice.add_version(asset.content_id, packed_from(make_source), agree=True)
    assert [v.version for v in again.versions] == ["1.0.1", "1.0.0"]


def test_t5_packed_source_from_a_path_or_a_stream(alice, make_source, tmp_path):
    packed = packed_from(make_source)
    path = tmp_path / "upload.zip"
    path.write_bytes(packed.archive)
    from_path = alice.publish(PackedSource("algorithm", packed.manifest, path, packed.sha256), title="From path",
                              agree=True)
    stream = io.BytesIO(packed.archive)
    from_stream = alice.publish(PackedSource("algorithm", packed.manifest, stream, packed.sha256),
                                title="From stream", agree=True)
    assert from_path.versions[0].digest == from_stream.versions[0].digest == packed.sha256


def test_t5_digest_mismatch_is_refused_and_leaves_nothing(alice, make_source, tmp_path):
    packed = packed_from(make_source)
    wrong = PackedSource("algorithm", packed.manifest, packed.archive + b"x", packed.sha256)
    before = artifact_files(tmp_path)
    with pytest.raises(InvalidInput, match="sha256"):
        alice.publish(wrong, title="Tampered", agree=True)
    assert artifact_files(tmp_path) == before
    assert alice.publishes() == ()


@pytest.mark.parametrize("sha", ["", "abc", "G" * 64, None, 12])
def test_t5_malformed_digest_is_refused(alice, make_source, sha):
    packed = packed_from(make_source)
    with pytest.raises(InvalidInput, match="sha256"):
        alice.publish(PackedSource("algorithm", packed.manifest, packed.archive, sha), title="Bad", agree=True)


def test_t5_manifest_that_differs_from_the_archive_is_refused(alice, make_source):
    packed = packed_from(make_source)
    other = {**packed.manifest, "description": "not what the archive says"}
    with pytest.raises(InvalidInput, match="does not match"):
        alice.publish(PackedSource("algorithm", other, packed.archive, packed.sha256), title="Lie", agree=True)
    assert alice.publishes() == ()


def test_t5_invalid_manifest_is_refused_by_the_gallery(alice):
    manifest = {"kind": "algorithm", "name": "x", "entrypoint": "not an entrypoint"}
    data = zipped({"train.py": b"def main(p, i, o):\n    pass\n", MANIFEST_ENTRY: json.dumps(manifest).encode()})
    with pytest.raises(InvalidInput, match="entrypoint"):
        alice.publish(PackedSource.from_bytes("algorithm", manifest, data), agree=True)


def test_t5_kind_that_differs_from_the_manifest_is_refused(alice, make_source):
    packed = packed_from(make_source)
    with pytest.raises(InvalidInput, match="kind"):
        alice.publish(PackedSource("model", packed.manifest, packed.archive, packed.sha256), agree=True)
    with pytest.raises(InvalidInput, match="kind"):
        alice.publish(PackedSource("dataset", packed.manifest, packed.archive, packed.sha256), agree=True)


def test_t5_entrypoint_missing_from_the_archive_is_refused(alice, make_source):
    packed = packed_from(make_source)
    manifest = dict(packed.manifest)
    data = pack({"other.py": b"x = 1\n"}, manifest)
    with pytest.raises(InvalidInput, match="not in the archive"):
        alice.publish(PackedSource.from_bytes("algorithm", manifest, data), agree=True)


@pytest.mark.parametrize("entry", ["../evil.py", "/abs.py", "C:/drive.py", "dir\\back.py"])
def test_t5_archive_entry_outside_its_folder_is_refused(alice, make_source, entry):
    manifest = dict(packed_from(make_source).manifest)
    data = zipped({"train.py": b"def main(p, i, o):\n    pass\n", entry: b"x = 1\n",
                   MANIFEST_ENTRY: json.dumps(manifest, sort_keys=True).encode()})
    with pytest.raises(InvalidInput, match="outside its folder"):
        alice.publish(PackedSource.from_bytes("algorithm", manifest, data), agree=True)


def test_p4_case_clash_inside_a_packed_archive_is_refused(alice, make_source):
    manifest = dict(packed_from(make_source).manifest)
    data = zipped({"train.py": b"def main(p, i, o):\n    pass\n", "Util.py": b"", "util.py": b"",
                   MANIFEST_ENTRY: json.dumps(manifest, sort_keys=True).encode()})
    with pytest.raises(InvalidInput, match="Util.py"):
        alice.publish(PackedSource.from_bytes("algorithm", manifest, data), agree=True)


@pytest.mark.parametrize("archive", [b"", b"not a zip at all", None])
def test_t5_archive_that_is_not_a_zip_is_refused(alice, make_source, archive):
    manifest = dict(packed_from(make_source).manifest)
    packed = PackedSource("algorithm", manifest, archive, hashlib.sha256(archive or b"").hexdigest())
    with pytest.raises(InvalidInput):
        alice.publish(packed, agree=True)


def test_t5_scan_runs_on_the_packed_files(alice, tmp_path):
    evil = "import subprocess\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n"
    root = write_algorithm(tmp_path / "evil", "evil", extra_files={"x.py": evil})
    packed = gw.Algorithm.from_dir(root).packed()
    with pytest.raises(gw.ScanFailed):
        alice.publish(packed, agree=True)
    assert alice.publishes() == ()


def test_p6_packed_workflow_with_a_malformed_step_is_refused(alice, make_source):
    algorithm = packed_from(make_source)
    bad_steps = [
        [{"name": "a", "algorithm": {"local": "missing"}, "params": {}, "inputs": {}}],
        [{"name": "a b", "algorithm": {"local": "k"}, "params": {}, "inputs": {}}],
        [{"name": "a", "algorithm": "not-a-reference", "params": {}, "inputs": {}}],
        [{"name": "a", "algorithm": {"local": "k"}, "params": {}, "inputs": {"data": {"step": "zz", "output": "m"}}}],
        [{"name": "a", "algorithm": {"local": "k"}, "params": {}, "inputs": {"data": 5}}],
        [{"name": "a", "algorithm": {"local": "k"}, "inputs": {"data": {"step": "b", "output": "model"}}},
         {"name": "b", "algorithm": {"local": "k"}, "inputs": {"data": {"step": "a", "output": "model"}}}],
        [],
    ]
    for steps in bad_steps:
        workflow = PackedSource("workflow", {"kind": "workflow", "name": "wf", "steps": steps},
                                algorithms={"k": algorithm})
        with pytest.raises(InvalidInput):
            alice.publish(workflow, agree=True)
    assert alice.publishes() == ()


# -- U4 / U7: what the kernel-side layer fetches -----------------------------------------------------
def test_u4_usable_version_needs_a_subscription(alice, bob, publish):
    asset = publish(alice)
    with pytest.raises(SubscriptionRequired, match="Subscribe"):
        bob.usable_version(asset.content_id, kind="algorithm")
    subscribe(bob, asset.content_id)
    usable = bob.usable_version(asset.content_id, kind="algorithm")
    assert isinstance(usable, UsableVersion)
    assert (usable.content_id, usable.version, usable.kind, usable.digest) == (
        asset.content_id, "1.0.0", "algorithm", asset.versions[0].digest)
    assert usable.code_visible is False and alice.usable_version(asset.content_id, kind="algorithm").code_visible
    assert usable.manifest["entrypoint"] == "train:main" and usable.steps == ()


def test_u1_usable_version_of_another_kind_names_the_right_call(alice, publish):
    asset = publish(alice)
    with pytest.raises(InvalidInput, match="import_algorithm"):
        alice.usable_version(asset.content_id, kind="model")
    with pytest.raises(InvalidInput):
        alice.usable_version(asset.content_id, kind="dataset")
    with pytest.raises(InvalidInput):
        alice.usable_version(asset.content_id, "1.0", kind="algorithm")


def test_v1_usable_version_of_an_invisible_asset_is_not_found(alice, bob, publish):
    private = publish(alice, "Private", visibility="private")
    with pytest.raises(NotFound):
        bob.usable_version(private.content_id, kind="algorithm")
    with pytest.raises(NotFound):
        bob.check_usable(private.content_id)


def test_u4_check_usable_follows_cancel_and_retrieve(alice, bob, publish):
    asset = publish(alice)
    alice.check_usable(asset.content_id)  # the publisher needs no subscription
    subscribe(bob, asset.content_id)
    bob.check_usable(asset.content_id)
    bob.cancel_subscription(asset.content_id)
    with pytest.raises(SubscriptionRequired, match="retrieve"):
        bob.check_usable(asset.content_id)
    bob.retrieve_subscription(asset.content_id)
    bob.check_usable(asset.content_id)


def test_u7_open_artifact_serves_only_what_the_user_may_use(alice, bob, carol, publish):
    asset = publish(alice)
    digest = asset.versions[0].digest
    with alice.open_artifact(digest) as stream:
        data = stream.read()
    assert hashlib.sha256(data).hexdigest() == digest
    with pytest.raises(NotFound):
        bob.open_artifact(digest)  # visible, but not subscribed
    subscribe(bob, asset.content_id)
    assert hashlib.sha256(bob.open_artifact(digest).read()).hexdigest() == digest
    bob.cancel_subscription(asset.content_id)
    with pytest.raises(NotFound):
        bob.open_artifact(digest)
    with pytest.raises(NotFound):
        carol.open_artifact("0" * 64)  # does not exist: the same answer


@pytest.mark.parametrize("digest", ["", "xyz", "A" * 64, None, "0" * 63])
def test_u7_open_artifact_refuses_a_malformed_digest(alice, digest):
    with pytest.raises(InvalidInput, match="sha256"):
        alice.open_artifact(digest)


def test_v5_open_artifact_follows_the_version_whitelist(alice, bob, publish, make_source):
    asset = publish(alice, "Group", visibility="group", group_users=["bob"])
    second = alice.add_version(asset.content_id, make_source(extra_files={"v2.py": "X = 2\n"}), agree=True)
    alice.delete_whitelist_users(asset.content_id, "1.0.0", ["bob"])
    subscribe(bob, asset.content_id)
    newest, oldest = (v.digest for v in second.versions)
    assert newest != oldest
    assert bob.open_artifact(newest).read()
    with pytest.raises(NotFound):
        bob.open_artifact(oldest)


def test_u3_workflow_version_lists_its_steps_and_opens_their_artifacts(alice, bob, make_source):
    step_algo = make_source("step-algo")
    workflow = gw.Workflow("wf", steps=[gw.Step("only", step_algo, inputs={"data": "/tmp/x"})])
    asset = alice.publish(workflow, title="WF", visibility="public", agree=True)
    subscribe(bob, asset.content_id)
    usable = bob.usable_version(asset.content_id, kind="workflow")
    assert len(usable.steps) == 1 and usable.steps[0].kind == "algorithm"
    assert usable.manifest["steps"][0]["algorithm"] == usable.steps[0].reference
    # bob is not subscribed to the step's algorithm, but the workflow's subscription covers it
    assert bob.open_artifact(usable.steps[0].digest).read()
    bob.cancel_subscription(asset.content_id)
    with pytest.raises(NotFound):
        bob.open_artifact(usable.steps[0].digest)


def test_u3_workspace_workflows_are_kept_per_user_and_workspace(alice, bob, make_source):
    workflow = gw.Workflow("wf", steps=[gw.Step("only", make_source("s"), inputs={"data": "/tmp/x"})])
    asset = alice.publish(workflow, title="WF", visibility="public", agree=True)
    subscribe(bob, asset.content_id)
    kept = bob.add_workspace_workflow(asset.content_id, "1.0.0", "daily", workspace="team")
    assert isinstance(kept, WorkspaceWorkflow)
    assert (kept.name, kept.workspace, kept.region, kept.version.version) == ("daily", "team", "local", "1.0.0")
    assert [w.name for w in bob.workspace_workflows("team")] == ["daily"]
    assert bob.workspace_workflow("daily", "team").version.steps == kept.version.steps
    assert bob.workspace_workflows() == () and alice.workspace_workflows("team") == ()
    with pytest.raises(NotFound):
        alice.workspace_workflow("daily", "team")
    with pytest.raises(Conflict):
        bob.add_workspace_workflow(asset.content_id, "1.0.0", "daily", workspace="team")
    for bad in ({"name": "1bad"}, {"workspace": "a b"}, {"region": "mars"}):
        options = {"name": "ok", "workspace": "default", "region": "local", **bad}
        name = options.pop("name")
        with pytest.raises(InvalidInput):
            bob.add_workspace_workflow(asset.content_id, "1.0.0", name, **options)


def test_u4_workspace_workflow_needs_a_usable_subscription(alice, bob, make_source, publish):
    workflow = gw.Workflow("wf", steps=[gw.Step("only", make_source("s"), inputs={"data": "/tmp/x"})])
    asset = alice.publish(workflow, title="WF", visibility="public", agree=True)
    with pytest.raises(SubscriptionRequired):
        bob.add_workspace_workflow(asset.content_id, "1.0.0", "daily")
    algorithm = publish(alice, "Algo")
    with pytest.raises(InvalidInput, match="algorithm"):
        alice.add_workspace_workflow(algorithm.content_id, "1.0.0", "daily")
    assert bob.workspace_workflows() == ()


def test_u1_record_import_needs_a_subscription_and_a_version(alice, bob, publish):
    asset = publish(alice)
    with pytest.raises(SubscriptionRequired):
        bob.record_import(asset.content_id, "1.0.0")
    subscribe(bob, asset.content_id)
    bob.record_import(asset.content_id, "1.0.0")
    with pytest.raises(NotFound):
        bob.record_import(asset.content_id, "9.9.9")
    with pytest.raises(InvalidInput):
        bob.record_import(asset.content_id, "one")


def test_layers_the_sql_gallery_never_reads_a_path_it_is_given(alice, tmp_path):
    """A server passes on what callers send: a path must not make the gallery open a file."""
    from conftest import PNG_1PX, only_embedded
    from gallery_widgets.core.sql_gallery import SqlGallery

    only_embedded(alice, "builds a SqlGallery on the test's own database connection")
    image = tmp_path / "cover.png"
    image.write_bytes(PNG_1PX)
    core_only = SqlGallery(alice._ctx, alice._user_id, alice.username)
    asset = alice.publish(gw.Algorithm.from_dir(write_algorithm(tmp_path / "a")), title="A", agree=True)
    with pytest.raises(InvalidInput, match="bytes"):
        core_only.edit_asset(asset.content_id, cover=str(image))
    with pytest.raises(InvalidInput, match="bytes"):
        core_only.update_profile(avatar=image)
    assert core_only.cover_image(asset.content_id) is None and core_only.me.avatar is None
    assert core_only.edit_asset(asset.content_id, cover=PNG_1PX).cover is not None
    alice.update_profile(avatar=image)  # the notebook side reads the file
    assert alice.avatar_image() == PNG_1PX
    assert not hasattr(core_only, "import_algorithm") and not hasattr(core_only, "release_workflow")
