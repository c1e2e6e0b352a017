"""SPEC T4: every GalleryError class travels over the wire with a stable code and HTTP
status, and comes back as the same class with the same message and details."""

from __future__ import annotations

import json

import pytest

import gallery_widgets as gw
from gallery_widgets import errors
from gallery_widgets.entities import Finding

EXPECTED = {
    "gallery_error": 500, "not_found": 404, "permission_denied": 403, "invalid_input": 400, "too_large": 413,
    "conflict": 409, "subscription_required": 403, "agreement_required": 428, "scan_failed": 422,
    "schema_outdated": 503, "storage_error": 503, "tampered_artifact": 500, "unauthenticated": 401, "database_unavailable": 503,
}


def test_t4_every_error_class_has_a_stable_code_and_status():
    classes = errors.error_classes()
    assert {code: cls.status for code, cls in classes.items()} == EXPECTED
    for code, cls in classes.items():
        assert cls.code == code and issubclass(cls, gw.GalleryError)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_t4_round_trip_keeps_class_and_message(code):
    cls = errors.error_classes()[code]
    original = cls(f"Something about {code} went wrong; do this instead.")
    body = json.loads(json.dumps(original.to_dict()))
    assert body["error"]["code"] == code
    again = gw.GalleryError.from_dict(body)
    assert type(again) is cls and str(again) == str(original) and again.message == original.message


def test_t4_agreement_required_keeps_missing():
    original = gw.AgreementRequired("Accept the agreements first.", ("privacy-risk", "service-agreement"))
    again = gw.GalleryError.from_dict(json.loads(json.dumps(original.to_dict())))
    assert isinstance(again, gw.AgreementRequired) and again.missing == ("privacy-risk", "service-agreement")


def test_t4_scan_failed_keeps_findings():
    findings = (Finding("train.py", 3, "B602", "high", "shell=True runs a shell"),
                Finding("model.zip::inner.pkl", None, "pickle-global", "medium", "os.system"))
    original = gw.ScanFailed("The scan found 1 high-severity problem.", findings)
    again = gw.GalleryError.from_dict(json.loads(json.dumps(original.to_dict())))
    assert isinstance(again, gw.ScanFailed) and again.findings == findings


def test_t4_builtin_bases_survive():
    assert isinstance(gw.GalleryError.from_dict(gw.NotFound("x").to_dict()), LookupError)
    assert isinstance(gw.GalleryError.from_dict(gw.InvalidInput("x").to_dict()), ValueError)
    assert isinstance(gw.GalleryError.from_dict(gw.StorageError("x").to_dict()), OSError)


@pytest.mark.parametrize("body", [None, "text", {"error": "x"}, {"error": {"code": "not_found"}}, [1, 2]])
def test_t4_unreadable_error_body_is_a_plain_gallery_error(body):
    error = gw.GalleryError.from_dict(body)
    assert type(error) is gw.GalleryError and "cannot read" in str(error)


def test_t4_unknown_code_from_a_newer_server_keeps_the_message():
    error = gw.GalleryError.from_dict({"error": {"code": "brand_new", "message": "Do the new thing.", "details": {}}})
    assert type(error) is gw.GalleryError and str(error) == "Do the new thing."


def test_t4_a_subclass_without_its_own_code_is_refused():
    with pytest.raises(TypeError):
        class Sloppy(gw.NotFound):  # noqa: F841
            pass
