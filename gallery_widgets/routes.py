"""The REST API's route table: one route per ``GalleryService`` call (SPEC §6).

The server's handlers, the REST client and the OpenAPI document are all built from
this table, so they cannot drift apart. A route names the service method, its HTTP verb
and its path under ``/gallery/api/v1``; the parameters come from the method's signature
in ``GalleryService``: those named in the path travel in the path, the others in the
query string (GET) or the JSON body (every other verb). ``PARAM_TYPES`` says how a
parameter is shaped on the wire; the gallery validates every value again.

Pure data: importing this module loads neither tornado nor httpx.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from functools import lru_cache

PREFIX = "/gallery/api/v1"

# How each parameter name travels. Unlisted names are strings.
PARAM_TYPES = {
    "page": "int", "page_size": "int", "expires_days": "int?",
    "count_view": "bool", "accept_constraints": "bool", "accept_agreements": "bool", "agree": "bool",
    "unread_only": "bool", "official": "bool", "featured": "bool", "code_open": "bool",
    "categories": "strs", "group_users": "strs", "user_groups": "strs",
    "duration": "duration", "paper": "paper", "cover": "image", "avatar": "image",
    "source": "source",
    "version": "str?", "kind": "str?", "status": "str?", "query": "str?", "title": "str?", "step": "str?",
    "username": "str?", "description": "str?", "summary": "str?", "nickname": "str?", "email": "str?",
    "license": "str?",
    "ids": "ints?",
}


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "path" | "query" | "body"
    type: str
    required: bool
    default: object = None


@dataclass(frozen=True)
class Route:
    method: str  # the GalleryService method
    verb: str
    path: str  # under PREFIX, with {name} placeholders
    summary: str = ""
    # The response: "json" (the method's result, decoded by its return type), "none"
    # (204), "image" (raw PNG/JPEG bytes or 204) or "stream" (an artifact's bytes).
    response: str = "json"

    @property
    def idempotent(self) -> bool:
        """A read the client may safely send again after a network failure.
        Opening an asset counts a view, so only its view-less form is one."""
        return self.verb == "GET" and self.method != "asset"

    @property
    def path_names(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @property
    def params(self) -> tuple[Param, ...]:
        return _params(self)

    def pattern(self) -> str:
        """The tornado URL pattern (under PREFIX) of this route."""
        return PREFIX + re.sub(r"{(\w+)}", r"(?P<\1>[^/]+)", self.path)

    def url(self, values: dict) -> str:
        from urllib.parse import quote

        return PREFIX + re.sub(r"{(\w+)}", lambda m: quote(str(values[m.group(1)]), safe=""), self.path)


def _route(method, verb, path, summary="", response="json") -> Route:
    return Route(method, verb, path, summary, response)


ROUTES: tuple[Route, ...] = (
    # market (S1-S3, F1, F2)
    _route("search", "GET", "/assets", "One page of the market (S1, S2)"),
    _route("asset", "GET", "/assets/{content_id}", "An asset's details; counts a view unless count_view=false (S3)"),
    _route("cover_image", "GET", "/assets/{content_id}/cover", "The cover image (PNG/JPEG), or 204", "image"),
    _route("favorite", "PUT", "/assets/{content_id}/favorite", "Add to My Favorites (F1)"),
    _route("unfavorite", "DELETE", "/assets/{content_id}/favorite", "Remove from My Favorites (F1)"),
    _route("comment", "POST", "/assets/{content_id}/comments", "Comment (F2)"),
    _route("comments", "GET", "/assets/{content_id}/comments", "Comments, newest first (F2)"),
    # subscriptions (SUB, M2)
    _route("constraints", "GET", "/assets/{content_id}/constraints", "A version's constraints (SUB1, U5)"),
    _route("subscribe", "POST", "/assets/{content_id}/subscription", "Subscribe (SUB1-SUB3)"),
    _route("cancel_subscription", "POST", "/assets/{content_id}/subscription/cancel", "Cancel (SUB4)"),
    _route("retrieve_subscription", "POST", "/assets/{content_id}/subscription/retrieve", "Retrieve (SUB4)"),
    _route("subscriptions", "GET", "/subscriptions", "My Subscriptions (M2)"),
    # publishing (P, V3-V6, M1)
    _route("publish", "POST", "/assets", "Create an asset from uploaded archives (P1, T5)"),
    _route("add_version", "POST", "/assets/{content_id}/versions", "Add a version (P2)"),
    _route("edit_asset", "PATCH", "/assets/{content_id}", "Edit details (P7)"),
    _route("set_restrictions", "PUT", "/assets/{content_id}/restrictions", "Visibility, whitelist, duration (V3-V5)"),
    _route("add_whitelist_users", "POST", "/assets/{content_id}/versions/{version_num}/whitelist",
           "Whitelist users on a version (V5, V6)"),
    _route("delete_whitelist_users", "POST", "/assets/{content_id}/versions/{version_num}/whitelist/remove",
           "Remove users from a version's whitelist (V5, V6)"),
    _route("edit_version", "PATCH", "/assets/{content_id}/versions/{version}", "A version's description (P7)"),
    _route("discontinue_version", "POST", "/assets/{content_id}/versions/{version}/discontinue",
           "Discontinue a version (P8)"),
    _route("discontinue", "POST", "/assets/{content_id}/discontinue", "Take off the market (V2, P9)"),
    _route("release", "POST", "/assets/{content_id}/release", "Back on the market (P9)"),
    _route("delete", "DELETE", "/assets/{content_id}", "Delete an asset without subscribers (P9)", "none"),
    _route("publishes", "GET", "/publishes", "My Publishes (M1)"),
    # accounts and administration (M3, T1, T2)
    _route("me", "GET", "/me", "Your account (M3)"),
    _route("update_profile", "PATCH", "/me", "Change nickname, description, email, avatar (M3)"),
    _route("user", "GET", "/users/{username}", "A user's public profile"),
    _route("avatar_image", "GET", "/avatar", "A user's avatar (default: yours), or 204", "image"),
    _route("notifications", "GET", "/notifications", "Your notifications"),
    _route("mark_notifications_read", "POST", "/notifications/read", "Mark all read, or those listed in ids; returns how many"),
    _route("set_role", "PUT", "/users/{username}/role", "Make a user admin or user (admins only)"),
    _route("set_official", "PUT", "/assets/{content_id}/official", "Mark official (admins only)"),
    _route("set_featured", "PUT", "/assets/{content_id}/featured", "Mark featured (admins only)"),
    _route("create_token", "POST", "/tokens", "Create a personal access token, shown once (T1)"),
    _route("tokens", "GET", "/tokens", "Your tokens, without secrets (T1)"),
    _route("revoke_token", "DELETE", "/tokens/{name}", "Revoke one of your tokens (T1)"),
    # reference data
    _route("taxonomy", "GET", "/taxonomy", "The category taxonomy"),
    _route("categories", "GET", "/categories", "Every category path"),
    _route("agreements", "GET", "/agreements", "The agreements users accept"),
    _route("licenses", "GET", "/licenses", "The licenses open code may carry"),
    _route("regions", "GET", "/regions", "Where an imported workflow may run"),
    # what the kernel side imports and runs with (U1-U7)
    _route("usable_version", "GET", "/assets/{content_id}/usable", "The version the user may import now (U4)"),
    _route("check_usable", "GET", "/assets/{content_id}/usable/check", "U4 at run time", "none"),
    _route("check_step_usable", "GET", "/assets/{content_id}/versions/{version}/step-check",
           "A workflow step may run now", "none"),
    _route("open_artifact", "GET", "/artifacts/{digest}", "An artifact's bytes, by sha256 (U7, T5)", "stream"),
    _route("record_import", "POST", "/assets/{content_id}/versions/{version}/imports", "Record an import", "none"),
    _route("add_workspace_workflow", "POST", "/workspaces/{workspace}/workflows", "Keep an imported workflow (U3)"),
    _route("workspace_workflows", "GET", "/workspaces/{workspace}/workflows", "Workflows in a workspace (U3)"),
    _route("workspace_workflow", "GET", "/workspaces/{workspace}/workflows/{name}", "One imported workflow (U3)"),
)

BY_METHOD = {route.method: route for route in ROUTES}

# Not service calls: the upload of an archive before publish/add_version names it (T5),
# the health check (no credential) and this document.
UPLOAD_PATH = "/uploads/{sha256}"
HEALTH_PATH = "/health"
OPENAPI_PATH = "/openapi.json"


@lru_cache(maxsize=None)
def _params(route: Route) -> tuple[Param, ...]:
    from .service import GalleryService

    member = inspect.getattr_static(GalleryService, route.method)
    function = member.fget if isinstance(member, property) else member
    params = []
    for p in list(inspect.signature(function).parameters.values())[1:]:
        if p.name in route.path_names:
            where = "path"
        else:
            where = "query" if route.verb == "GET" else "body"
        required = p.default is inspect.Parameter.empty
        default = None if required else p.default
        params.append(Param(p.name, where, PARAM_TYPES.get(p.name, "str"), required, default))
    missing = set(route.path_names) - {p.name for p in params}
    if missing:
        raise RuntimeError(f"route {route.method}: path names {missing} are not parameters")
    return tuple(params)


def check_table() -> None:
    """Every abstract service call has exactly one route (except ``url`` and ``close``)."""
    from .service import GalleryService

    calls = set(GalleryService.__abstractmethods__) - {"url", "close"}
    routed = {route.method for route in ROUTES}
    if calls != routed or len(routed) != len(ROUTES):
        raise RuntimeError(f"route table out of date: unrouted {sorted(calls - routed)}, "
                           f"unknown {sorted(routed - calls)}")
    seen = set()
    for route in ROUTES:
        key = (route.verb, route.pattern())
        if key in seen:
            raise RuntimeError(f"two routes for {key}")
        seen.add(key)
        route.params  # noqa: B018  (fails on a path name that is not a parameter)
