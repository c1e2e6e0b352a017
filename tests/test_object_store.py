"""The artifact store at an fsspec URL (SPEC §6 Artifacts, T6): ``s3://bucket/prefix`` through
s3fs against moto's standalone S3 server on loopback, reached with the usual AWS settings.

Publishing and importing through it, a changed object refused at import (U7), a failed publish
or upload leaving no object behind, streaming a multi-part upload, ``gallery-widgets gc`` over
it, and the refusals of a store that cannot be used."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import write_algorithm
from s3server import MotoS3

import gallery_widgets as gw
from gallery_widgets.artifacts import TamperedArtifact, open_store
from gallery_widgets.errors import Conflict, InvalidInput, NotFound

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def s3():
    pytest.importorskip("s3fs")
    server = MotoS3()
    saved = {name: os.environ.get(name) for name in server.env}
    os.environ.update(server.env)  # the usual settings s3fs / botocore read by themselves
    try:
        yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


@pytest.fixture
def bucket(s3):
    return s3.create_bucket(f"gallery-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def s3_open(tmp_path, bucket, monkeypatch):
    """``s3_open(user)``: the test's SQLite gallery with its artifacts in ``s3://bucket/team``."""
    monkeypatch.setenv("GALLERY_HOME", str(tmp_path / "home"))  # the kernel's cache, not the blobs
    url = f"sqlite:///{tmp_path / 'gallery.db'}"
    artifacts = f"s3://{bucket}/team"

    def _open(user: str):
        return gw.open(url, user=user, artifacts=artifacts)

    _open("admin")
    return _open


def subscribe(g, content_id):
    return g.subscribe(content_id, accept_constraints=True, accept_agreements=True)


def test_t6_s3_store_publish_and_import_through_moto(s3, bucket, s3_open, tmp_path):
    alice, bob = s3_open("alice"), s3_open("bob")
    source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "algo", "s3-algo"))
    asset = alice.publish(source, title="Stored in S3", visibility="public", agree=True)
    digest = asset.versions[0].digest

    assert f"team/sha256/{digest[:2]}/{digest[2:]}" in s3.keys(bucket)
    assert not (tmp_path / "artifacts").exists()  # nothing went to a local artifact folder
    subscribe(bob, asset.content_id)
    imported = bob.import_algorithm(asset.content_id)
    assert imported.manifest["name"] == "s3-algo"
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    job = imported.train({"epochs": 1}, {"data": data}, output_dir=tmp_path / "out").wait(120)
    assert job.status == "succeeded", job.logs
    assert job.metrics == {"loss": 0.5}


def test_u7_digest_mismatch_in_the_bucket_is_refused_at_import(s3, bucket, s3_open, tmp_path):
    alice, bob = s3_open("alice"), s3_open("bob")
    source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "algo", "s3-tampered"))
    asset = alice.publish(source, title="Changed in the bucket", visibility="public", agree=True)
    subscribe(bob, asset.content_id)
    digest = asset.versions[0].digest
    key = f"team/sha256/{digest[:2]}/{digest[2:]}"
    client = s3.client()
    data = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    data[len(data) // 2] ^= 0x01
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))

    with pytest.raises(TamperedArtifact, match="sha256") as caught:
        bob.import_algorithm(asset.content_id)
    assert "Ask the publisher" in str(caught.value)
    assert not any((tmp_path / "home").rglob("train.py"))  # nothing was unpacked


def test_o9_failed_publish_leaves_no_object_in_the_bucket(s3, bucket, s3_open, tmp_path):
    alice = s3_open("alice")
    first = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "a", "first"))
    alice.publish(first, title="Taken title", visibility="public", agree=True)
    before = s3.keys(bucket)
    other = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "b", "second"))

    with pytest.raises(Conflict):  # same title: refused after its blob was stored, which is undone
        alice.publish(other, title="Taken title", visibility="public", agree=True)
    assert s3.keys(bucket) == before


def test_t5_upload_with_a_wrong_digest_or_a_broken_stream_leaves_nothing(s3, bucket):
    store = open_store(f"s3://{bucket}/blobs")
    data = os.urandom(12 * 2**20)  # more than one part: a multipart upload
    wrong = "0" * 64
    with pytest.raises(InvalidInput, match="declared sha256"):
        store.put_stream(io.BytesIO(data), wrong)

    class Broken(io.RawIOBase):
        sent = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            if self.sent > 9 * 2**20:
                raise ConnectionResetError("client went away")
            self.sent += len(buffer)
            return len(buffer)

    with pytest.raises(ConnectionResetError):
        store.put_stream(io.BufferedReader(Broken()))
    assert s3.keys(bucket) == []
    assert s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_t5_large_blob_streams_both_ways_through_s3(s3, bucket, tmp_path):
    store = open_store(f"s3://{bucket}/blobs")
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        for _ in range(24):
            handle.write(os.urandom(2**20))
    digest, new = store.put_file(big)
    assert new and store.exists(digest)
    assert store.put_file(big) == (digest, False)  # stored once

    import hashlib

    check = hashlib.sha256()
    with store.open(digest) as stream:
        while chunk := stream.read(2**20):
            check.update(chunk)
    assert check.hexdigest() == digest


def test_u7_streamed_read_of_a_changed_object_fails_at_its_end(s3, bucket):
    store = open_store(f"s3://{bucket}/blobs")
    digest, _ = store.put(b"original bytes")
    s3.client().put_object(Bucket=bucket, Key=f"blobs/sha256/{digest[:2]}/{digest[2:]}", Body=b"changed bytes")
    with pytest.raises(TamperedArtifact):
        store.open(digest).read()
    with pytest.raises(TamperedArtifact):
        store.get(digest)
    with pytest.raises(NotFound, match="re-publish"):
        store.get("a" * 64)


def test_o6_gc_lists_and_removes_unreferenced_objects_in_the_bucket(s3, bucket, s3_open, tmp_path):
    alice = s3_open("alice")
    source = gw.Algorithm.from_dir(write_algorithm(tmp_path / "src" / "a", "kept"))
    asset = alice.publish(source, title="Kept", visibility="public", agree=True)
    kept = asset.versions[0].digest
    orphan, _ = open_store(f"s3://{bucket}/team").put(b"a blob no row names")

    def gc(*args):
        result = subprocess.run(
            [sys.executable, "-m", "gallery_widgets", "gc", "--url", f"sqlite:///{tmp_path / 'gallery.db'}",
             "--artifacts", f"s3://{bucket}/team", *args],
            capture_output=True, text=True, timeout=300, env={**os.environ, **s3.env})
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "unreferenced" in gc() and orphan[:2] in gc("--older-than", "0")
    out = gc("--older-than", "0", "--apply")
    assert "removed 1 unreferenced blob" in out
    keys = s3.keys(bucket, "team/sha256/")
    assert keys == [f"team/sha256/{kept[:2]}/{kept[2:]}"]


def test_o9_a_store_that_cannot_be_used_is_refused_clearly(tmp_path, monkeypatch, s3):
    url = f"sqlite:///{tmp_path / 'gallery.db'}"
    with pytest.raises(InvalidInput, match="nosuchfs"):
        gw.open(url, user="alice", artifacts="nosuchfs://bucket/x")
    monkeypatch.setenv("GALLERY_ARTIFACTS_OPTIONS", "{not json")
    with pytest.raises(InvalidInput, match="GALLERY_ARTIFACTS_OPTIONS"):
        open_store("s3://any-bucket/x")
    monkeypatch.setenv("GALLERY_ARTIFACTS_OPTIONS", '{"endpoint_url": "%s"}' % s3.endpoint)
    assert "does not exist" in open_store(f"s3://missing-{uuid.uuid4().hex[:8]}/x").reachable()


def test_o9_storage_options_from_the_environment_reach_the_store(s3, bucket, monkeypatch):
    for name in s3.env:  # only the JSON options point at the server
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GALLERY_ARTIFACTS_OPTIONS",
                       '{"endpoint_url": "%s", "key": "k", "secret": "s", "client_kwargs": {"region_name": "us-east-1"}}'
                       % s3.endpoint)
    store = open_store(f"s3://{bucket}/opts")
    digest, new = store.put(b"through options")
    assert new and store.get(digest) == b"through options" and store.reachable() is None
