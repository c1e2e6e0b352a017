"""The gallery API on tornado alone, for ``gallery-widgets serve`` (SPEC T6): no kernels, no
files, no Jupyter login — only the gallery, with personal access tokens as the credential."""

from __future__ import annotations

from tornado import web

from .auth import TokenResolver
from .handlers import (
    HealthHandlerMixin,
    OpenAPIHandlerMixin,
    RouteHandlerMixin,
    UploadHandlerMixin,
    handler_specs,
)
from .state import ServerState


@web.stream_request_body
class RouteHandler(RouteHandlerMixin, web.RequestHandler):
    pass


@web.stream_request_body
class UploadHandler(UploadHandlerMixin, web.RequestHandler):
    pass


class HealthHandler(HealthHandlerMixin, web.RequestHandler):
    pass


class OpenAPIHandler(OpenAPIHandlerMixin, web.RequestHandler):
    pass


def make_app(state: ServerState, *, extra_resolvers=(), base_url: str = "/", hub_auth=None) -> web.Application:
    """The tornado application of the API over ``state`` (tokens first, then ``extra_resolvers``),
    under ``base_url``. With ``hub_auth`` (a ``HubOAuth``) it is a JupyterHub service: Hub tokens
    and Hub OAuth sessions are accepted too, and the OAuth login routes are added (``hub.py``).
    Every request is logged and counted while in flight (``operations.py``)."""
    from .operations import InFlight, TrackedApplication, access_log

    settings = {}
    specs = handler_specs(RouteHandler, UploadHandler, HealthHandler, OpenAPIHandler)
    if hub_auth is not None:
        from .hub import HubResolver, hub_handlers, hub_settings

        extra_resolvers = (*extra_resolvers, HubResolver(state, hub_auth))
        specs += hub_handlers(hub_auth)
        settings.update(hub_settings())
    if not state.resolvers:
        state.resolvers = [TokenResolver(state), *extra_resolvers]
    base = "/" + base_url.strip("/") if base_url.strip("/") else ""
    specs = [(base + pattern, *rest) for pattern, *rest in specs]
    return TrackedApplication(specs, gallery=state, default_handler_class=NotFoundHandler, log_function=access_log,
                              gallery_in_flight=InFlight(), **settings)


class NotFoundHandler(RouteHandlerMixin, web.RequestHandler):
    """Unknown paths answer in the API's error shape."""

    async def prepare(self):
        self.send_json({"error": {"code": "not_found", "message": f"No such API path: {self.request.path}.",
                                  "details": {}}}, 404)
