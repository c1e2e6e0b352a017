"""The jupyter_server extension: every Jupyter server serves the embedded gallery's API to its
own authenticated user (SPEC §6), enabled by
``jupyter-config/jupyter_server_config.d/gallery_widgets.json``."""

from __future__ import annotations

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .auth import JupyterUserResolver
from .handlers import (
    HealthHandlerMixin,
    OpenAPIHandlerMixin,
    RouteHandlerMixin,
    UploadHandlerMixin,
    handler_specs,
)
from .state import ServerState


class _JupyterBase(ExtensionHandlerMixin, APIHandler):
    """Jupyter authenticates (cookie or token); our resolver then answers 401 itself when it
    did not, so every route but health says 401 rather than Jupyter's 403 (T3)."""


def _open(cls):
    for verb in ("get", "post", "put", "patch", "delete"):
        if verb in cls.__dict__ or hasattr(cls, verb):
            setattr(cls, verb, allow_unauthenticated(getattr(cls, verb)))
    return cls


@web.stream_request_body
@_open
class JupyterRouteHandler(RouteHandlerMixin, _JupyterBase):
    pass


@web.stream_request_body
@_open
class JupyterUploadHandler(UploadHandlerMixin, _JupyterBase):
    pass


@_open
class JupyterHealthHandler(HealthHandlerMixin, _JupyterBase):
    pass


@_open
class JupyterOpenAPIHandler(OpenAPIHandlerMixin, _JupyterBase):
    pass


class GalleryExtension(ExtensionApp):
    """The gallery API inside a Jupyter server, over the embedded gallery (``GALLERY_HOME``)."""

    name = "gallery_widgets"
    load_other_extensions = True

    def initialize_settings(self):
        from ..paths import default_user

        def factory():
            from ..gallery import _context

            return _context(None, None)

        state = ServerState(factory, threads=4)
        state.resolvers = [JupyterUserResolver(state, default_user())]
        self.settings["gallery"] = state

    def initialize_handlers(self):
        self.handlers.extend(handler_specs(JupyterRouteHandler, JupyterUploadHandler, JupyterHealthHandler,
                                           JupyterOpenAPIHandler))
