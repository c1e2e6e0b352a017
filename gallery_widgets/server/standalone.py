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


def make_app(state: ServerState, *, extra_resolvers=()) -> web.Application:
    """The tornado application of the API over ``state`` (tokens first, then ``extra_resolvers``)."""
    if not state.resolvers:
        state.resolvers = [TokenResolver(state), *extra_resolvers]
    return web.Application(handler_specs(RouteHandler, UploadHandler, HealthHandler, OpenAPIHandler),
                           gallery=state, default_handler_class=NotFoundHandler)


class NotFoundHandler(RouteHandlerMixin, web.RequestHandler):
    """Unknown paths answer in the API's error shape."""

    async def prepare(self):
        self.send_json({"error": {"code": "not_found", "message": f"No such API path: {self.request.path}.",
                                  "details": {}}}, 404)
