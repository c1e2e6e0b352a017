"""What an operator of ``gallery-widgets serve`` relies on: one log line per request, a health
check of everything the server stands on, and a stop that lets requests in flight finish.

- ``access_log`` is tornado's ``log_function``: ``user method route status ms`` on the
  ``gallery_widgets.server.access`` logger (standard error under ``serve``). The route is the
  path without its query string, and nothing of a credential or a body is logged.
- ``health`` answers whether the database and the artifact store are reachable.
- ``InFlight`` counts the requests a process is answering; ``serve`` waits for it to reach
  zero after ``SIGTERM`` (new connections are refused meanwhile) before closing connections.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from tornado import httputil, web

access = logging.getLogger("gallery_widgets.server.access")


def configure_logging() -> None:
    """Request lines (and the server's own warnings) on standard error, one per line."""
    if access.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    for name in ("gallery_widgets.server.access", "gallery_widgets.server"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def access_log(handler: web.RequestHandler) -> None:
    """One line per finished request: user, method and route, status, milliseconds."""
    identity = getattr(handler, "identity", None)
    user = getattr(identity, "username", None) or "-"
    request = handler.request
    millis = request.request_time() * 1000
    access.info("%s %s %s %d %.1fms", user, request.method, request.path, handler.get_status(), millis)
    tracker = handler.settings.get("gallery_in_flight")
    if tracker is not None:
        tracker.finished(request)


def health(state) -> tuple[int, dict]:
    """The health document and its status: 200 when the database and the artifact store answer,
    503 naming what does not (the details never hold credentials)."""
    report = {"database": "ok", "artifacts": "ok"}
    try:
        from sqlalchemy import text

        with state.context.db.read() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001  (any failure means "not reachable", said plainly)
        report["database"] = f"unreachable: {_first_line(exc)}"
    try:
        problem = state.context.artifacts.reachable()
    except Exception as exc:  # noqa: BLE001
        problem = _first_line(exc)
    if problem:
        report["artifacts"] = f"unreachable: {problem}"
    healthy = report["database"] == "ok" and report["artifacts"] == "ok"
    return (200 if healthy else 503), {"status": "ok" if healthy else "unavailable", **report}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class InFlight:
    """Requests being answered by this process (from their headers to their log line)."""

    def __init__(self):
        self._requests: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self, request) -> None:
        self._requests.add(id(request))
        self._idle.clear()

    def finished(self, request) -> None:
        self._requests.discard(id(request))
        if not self._requests:
            self._idle.set()

    def __len__(self) -> int:
        return len(self._requests)

    async def drained(self, timeout: float) -> bool:
        """Wait until no request is in flight (True), or ``timeout`` seconds (False)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


class TrackedApplication(web.Application):
    """A tornado application that counts its requests in flight (``settings['gallery_in_flight']``)."""

    def start_request(self, server_conn, request_conn) -> httputil.HTTPMessageDelegate:
        return _Tracked(super().start_request(server_conn, request_conn), self.settings["gallery_in_flight"],
                        request_conn)


class _Tracked(httputil.HTTPMessageDelegate):
    def __init__(self, inner, tracker: InFlight, connection):
        self.inner, self.tracker, self.connection = inner, tracker, connection
        self.request = None

    def headers_received(self, start_line, headers):
        result = self.inner.headers_received(start_line, headers)
        self.request = getattr(getattr(self.inner, "delegate", None), "request", None) or object()
        self.tracker.started(self.request)
        return result

    def data_received(self, chunk):
        return self.inner.data_received(chunk)

    def finish(self):
        return self.inner.finish()

    def on_connection_close(self):
        if self.request is not None:
            self.tracker.finished(self.request)
        return self.inner.on_connection_close()


async def drain(app, timeout: float) -> None:
    """After the server stopped listening: wait for the requests in flight to finish."""
    tracker = app.settings.get("gallery_in_flight")
    if tracker is None or not len(tracker):
        return
    logging.getLogger("gallery_widgets.server").info("stopping: waiting for %d request(s) in flight", len(tracker))
    if not await tracker.drained(timeout):
        logging.getLogger("gallery_widgets.server").warning(
            "stopping: %d request(s) still running after %.0f s are cut off", len(tracker), timeout)
