"""SPEC §6: one route per service call, under /gallery/api/v1, and an OpenAPI document built
from the same table."""

from __future__ import annotations

from gallery_widgets import routes
from gallery_widgets.service import GalleryService


def test_t6_every_service_call_has_exactly_one_route():
    routes.check_table()
    calls = set(GalleryService.__abstractmethods__) - {"url", "close"}
    assert {r.method for r in routes.ROUTES} == calls


def test_t6_openapi_document_covers_every_route():
    from gallery_widgets.server.openapi import document

    doc = document()
    operations = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {r.method for r in routes.ROUTES} | {"health", "upload"} == operations
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert all(op["security"] for p, ops in doc["paths"].items() if p != "/health" for op in ops.values())
