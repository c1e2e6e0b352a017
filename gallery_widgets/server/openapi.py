"""The OpenAPI 3 document of the REST API, generated from the route table (SPEC §6)."""

from __future__ import annotations

from functools import lru_cache

from .. import routes as table
from ..errors import error_classes

_NULLABLE_STRING = {"type": ["string", "null"]}
SCHEMAS = {
    "str": {"type": "string"},
    "str?": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "int": {"type": "integer"},
    "int?": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
    "bool": {"type": "boolean"},
    "strs": {"type": "array", "items": {"type": "string"}},
    "ints?": {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]},
    "duration": {"anyOf": [{"type": "null"}, {"type": "integer"},
                           {"type": "object", "properties": {"days": {"type": "integer"},
                                                             "auto_renew": {"type": "boolean"}},
                            "required": ["days"], "additionalProperties": False}]},
    "paper": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"title": {"type": "string"},
                                                                          "url": {"type": "string"}},
                                           "required": ["title", "url"], "additionalProperties": False}]},
    "image": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"base64": {"type": "string"}},
                                           "required": ["base64"], "additionalProperties": False}]},
    "source": {"$ref": "#/components/schemas/PackedSource"},
}
_QUERY_SCHEMAS = {**SCHEMAS, "str?": {"type": "string"}}

ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
        "code": {"type": "string", "enum": sorted(error_classes())},
        "message": {"type": "string"}, "details": {"type": "object"}}}},
}


def _responses(route) -> dict:
    errors = {str(s): {"description": "an error", "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Error"}}}} for s in (400, 401, 403, 404, 409, 413, 422, 428, 503)}
    if route.response == "none":
        ok = {"204": {"description": "done"}}
    elif route.response == "image":
        ok = {"200": {"description": "the image", "content": {"image/png": {}, "image/jpeg": {}}},
              "204": {"description": "no image"}}
    elif route.response == "stream":
        ok = {"200": {"description": "the archive", "content": {"application/zip": {}}}}
    else:
        ok = {"200": {"description": "the result", "content": {"application/json": {"schema": {}}}}}
    return {**ok, **errors}


@lru_cache(maxsize=1)
def document() -> dict:
    from .. import __version__

    paths: dict = {}
    for route in table.ROUTES:
        operation = {"operationId": route.method, "summary": route.summary, "responses": _responses(route),
                     "security": [{"bearer": []}]}
        parameters = []
        body_properties, body_required = {}, []
        for p in route.params:
            if p.where == "path":
                parameters.append({"name": p.name, "in": "path", "required": True, "schema": {"type": "string"}})
            elif p.where == "query":
                schema = _QUERY_SCHEMAS[p.type]
                entry = {"name": p.name, "in": "query", "required": p.required, "schema": schema}
                if p.type == "strs":
                    entry.update(style="form", explode=True)
                parameters.append(entry)
            else:
                body_properties[p.name] = SCHEMAS[p.type]
                if p.required:
                    body_required.append(p.name)
        if parameters:
            operation["parameters"] = parameters
        if route.verb != "GET":
            schema = {"type": "object", "properties": body_properties, "additionalProperties": False}
            if body_required:
                schema["required"] = body_required
            operation["requestBody"] = {"required": bool(body_required),
                                        "content": {"application/json": {"schema": schema}}}
        paths.setdefault(route.path, {})[route.verb.lower()] = operation
    paths[table.HEALTH_PATH] = {"get": {"operationId": "health", "summary": "Liveness; no credential", "security": [],
                                        "responses": {"200": {"description": "ok"}, "503": {"description": "down"}}}}
    paths[table.UPLOAD_PATH] = {"put": {
        "operationId": "upload", "summary": "Upload an archive named by its sha256 before publishing it (T5)",
        "security": [{"bearer": []}],
        "parameters": [{"name": "sha256", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {
            "type": "string", "format": "binary"}}}},
        "responses": {"201": {"description": "kept until a publish names it"},
                      **{str(s): {"description": "an error"} for s in (400, 401, 413)}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "gallery_widgets team server", "version": __version__},
        "servers": [{"url": table.PREFIX}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": ERROR,
                "PackedSource": {"type": "object", "required": ["kind", "manifest"], "properties": {
                    "kind": {"type": "string"}, "manifest": {"type": "object"}, "sha256": {"type": "string"},
                    "algorithms": {"type": "object"}}, "additionalProperties": False},
            },
        },
    }
