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


def test_import_gallery_widgets_loads_no_http_or_server_stack():
    import subprocess
    import sys

    code = ("import sys, gallery_widgets; bad = [m for m in ('httpx', 'tornado', 'jupyter_server', "
            "'gallery_widgets.client', 'gallery_widgets.server.handlers') if m in sys.modules]; print(bad)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
