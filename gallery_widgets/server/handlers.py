"""Thin handlers: parse → call the SQL gallery as the request's user → serialise → map errors.

One handler class serves every route (its URL pattern's routes arrive as ``routes``, one
per verb). Bodies are streamed in with a limit, and the credential is resolved before the
body is read, so nobody without one can make the server buffer anything. The gallery is
synchronous: calls run in the server's worker threads, never on the event loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets

from tornado import web
from tornado.ioloop import IOLoop

from .. import routes as table
from ..errors import GalleryError, InvalidInput, NotFound, TooLarge
from ..wire import decode_argument, to_json
from .auth import cached_identity, resolve

log = logging.getLogger("gallery_widgets.server")

CHUNK = 1024 * 1024
_INTERNAL = ("The gallery server failed on this request (the details are in its log); try again, and tell the "
             "gallery's operator if it keeps happening.")


def error_body(exc: BaseException) -> tuple[int, dict]:
    if isinstance(exc, GalleryError):
        return exc.status, exc.to_dict()
    return 500, {"error": {"code": GalleryError.code, "message": _INTERNAL, "details": {}}}


class GalleryHandlerMixin:
    """What every gallery handler does, under tornado alone or inside jupyter_server."""

    requires_identity = True

    def initialize(self, routes=None, **kwargs):
        self.gallery_routes = routes or {}
        super().initialize(**kwargs)

    @property
    def state(self):
        return self.settings["gallery"]

    # -- the request's life -----------------------------------------------------------------
    async def prepare(self):
        parent = super().prepare()
        if parent is not None:
            await parent
        self._body = bytearray()
        self._too_large = False
        self.identity = None
        if self._finished:
            return
        # The body limit is ours (data_received): tornado's would drop the connection without
        # saying why. An announced body far over the limit is refused before it is read.
        limit = self.body_limit()
        self.request.connection.set_max_body_size(max(limit * 4, limit + CHUNK))
        announced = self.request.headers.get("Content-Length")
        if announced and announced.isdigit() and int(announced) > limit * 4:
            return self.send_gallery_error(self._too_large_error())
        if self.requires_identity:
            try:
                self.identity = cached_identity(self.state.resolvers, self)
                if self.identity is None:
                    self.identity = await self.run(resolve, self.state.resolvers, self)
            except Exception as exc:  # noqa: BLE001  (every failure is answered as an error body)
                return self.send_gallery_error(exc)

    def body_limit(self) -> int:
        return self.state.max_body

    def _too_large_error(self) -> TooLarge:
        return TooLarge(f"The request body is larger than this server accepts ({self.body_limit():,} bytes); "
                        "send less (images ≤ 1 MiB, archives within the server's upload limit).")

    def data_received(self, chunk: bytes) -> None:
        if self._too_large:
            return
        if len(self._body) + len(chunk) > self.body_limit():
            self._too_large = True
            self._body = bytearray()
            return
        self._body.extend(chunk)

    async def run(self, function, *args):
        return await IOLoop.current().run_in_executor(self.state.executor, function, *args)

    # -- answers -----------------------------------------------------------------------------
    def send_json(self, value, status: int = 200) -> None:
        """Answer ``value`` (JSON data, or a result the wire knows: ``wire.to_json``)."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(to_json(value))

    def send_gallery_error(self, exc: BaseException) -> None:
        status, body = error_body(exc)
        if status == 500:
            log.error("gallery request %s %s failed", self.request.method, self.request.path, exc_info=exc)
        if self._finished:
            return
        self.clear()
        self.send_json(body, status)

    def write_error(self, status_code: int, **kwargs) -> None:
        """Tornado's own errors (a malformed request, a refused XSRF check) in our error shape."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, GalleryError):
            status_code, body = error_body(exc)
        else:
            reason = getattr(exc, "log_message", None) or self._reason
            code = {404: NotFound.code, 401: "unauthenticated", 403: "permission_denied"}.get(status_code,
                                                                                            InvalidInput.code)
            body = {"error": {"code": code, "message": str(reason), "details": {}}}
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def compute_etag(self):
        # No ETag: an answer changes with every view and favorite, no client sends
        # If-None-Match, and tornado's default hashed every answer's bytes (SHA-1).
        return None

    def check_xsrf_cookie(self):
        # A bearer-token request cannot be forged by a browser; cookie sessions (inside
        # Jupyter) keep Jupyter's check.
        if self.request.headers.get("Authorization"):
            return None
        return super().check_xsrf_cookie()


class RouteHandlerMixin(GalleryHandlerMixin):
    async def get(self, **path):
        await self._dispatch("GET", path)

    async def post(self, **path):
        await self._dispatch("POST", path)

    async def put(self, **path):
        await self._dispatch("PUT", path)

    async def patch(self, **path):
        await self._dispatch("PATCH", path)

    async def delete(self, **path):
        await self._dispatch("DELETE", path)

    async def _dispatch(self, verb: str, path: dict) -> None:
        route = self.gallery_routes.get(verb)
        if route is None:
            self.set_header("Allow", ", ".join(sorted(self.gallery_routes)))
            body = InvalidInput(f"{verb} is not allowed on {self.request.path}; use "
                                f"{' or '.join(sorted(self.gallery_routes))}.").to_dict()
            return self.send_json(body, 405)
        uploads: list = []
        try:
            if self._too_large:
                raise self._too_large_error()
            arguments = self._arguments(route, path)
            if "source" in arguments:
                arguments["source"], uploads = self._source(arguments["source"])
            result = await self.run(self._call, route, arguments, uploads)
            await self._respond(route, result)
        except Exception as exc:  # noqa: BLE001
            self.send_gallery_error(exc)
        finally:
            _discard(uploads)

    def _call(self, route, arguments, uploads=()):
        try:
            gallery = self.state.gallery(self.identity)
            if route.method == "me":
                return gallery.me
            result = getattr(gallery, route.method)(**arguments)
            if route.response == "stream":  # the first bytes come with the call: one worker trip for a small artifact
                return _first_bytes(result)
            if route.method == "revoke_token":  # refused by this process at once (auth.TokenCache)
                self.state.tokens.forget_user(self.identity.user_id)
            return result
        finally:
            # An upload serves one publish: nothing of it stays, whatever the outcome, and it is
            # gone before the answer leaves (T5).
            _discard(uploads)

    # -- parsing -----------------------------------------------------------------------------
    def _arguments(self, route, path: dict) -> dict:
        params = {p.name: p for p in route.params}
        arguments = {name: value for name, value in path.items()}
        if route.verb == "GET":
            given = self.request.query_arguments
            unknown = sorted(set(given) - {p.name for p in params.values() if p.where == "query"})
            if unknown:
                raise InvalidInput(f"Unknown query parameter(s) {', '.join(unknown)}; this call takes "
                                   f"{', '.join(p.name for p in params.values() if p.where == 'query') or 'none'}.")
            for name, raw in given.items():
                arguments[name] = _query_value(params[name], [_text(v) for v in raw])
        else:
            body = _json_object(bytes(self._body))
            allowed = {p.name for p in params.values() if p.where == "body"}
            unknown = sorted(set(body) - allowed)
            if unknown:
                raise InvalidInput(f"Unknown field(s) {', '.join(unknown)}; this call takes "
                                   f"{', '.join(sorted(allowed)) or 'no fields'}.")
            for name, value in body.items():
                arguments[name] = _body_value(params[name], value)
        missing = [p.name for p in params.values() if p.required and p.name not in arguments]
        if missing:
            raise InvalidInput(f"Missing required field(s): {', '.join(missing)}.")
        return arguments

    def _source(self, value):
        """A packed source as the client describes it: kind, manifest and, per archive, the
        sha256 of an upload this user made (PUT /uploads/{sha256}) just before."""
        from ..entities import PackedSource

        uploads = []

        def read(item, where):
            if not isinstance(item, dict):
                raise InvalidInput(f"{where} must be an object with kind, manifest, sha256 and algorithms.")
            unknown = set(item) - {"kind", "manifest", "sha256", "algorithms"}
            if unknown:
                raise InvalidInput(f"Unknown field(s) in {where}: {', '.join(sorted(unknown))}.")
            digest = item.get("sha256") or ""
            archive = None
            if digest:
                if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
                    raise InvalidInput(f"{where}.sha256 must be 64 lower-case hex digits.")
                archive = self.state.upload_path(self.identity.user_id, digest)
                if not archive.is_file():
                    raise InvalidInput(f"No upload {digest[:12]}… from you is waiting: upload the archive first "
                                       f"(PUT {table.PREFIX}/uploads/{digest}), then publish.")
                uploads.append(archive)
            algorithms = item.get("algorithms") or {}
            if not isinstance(algorithms, dict):
                raise InvalidInput(f"{where}.algorithms must be an object of packed algorithms.")
            return PackedSource(kind=item.get("kind"), manifest=item.get("manifest"), archive=archive,
                                sha256=digest, algorithms={k: read(v, f"{where}.algorithms[{k!r}]")
                                                           for k, v in algorithms.items()})

        return read(value, "source"), uploads

    # -- answering ---------------------------------------------------------------------------
    async def _respond(self, route, result) -> None:
        if route.response == "none" or (route.response == "image" and result is None):
            self.set_status(204)
            return self.finish()
        if route.response == "image":
            self.set_header("Content-Type", "image/png" if result.startswith(b"\x89PNG") else "image/jpeg")
            self.set_header("Cache-Control", "private, max-age=60")
            return self.finish(result)
        if route.response == "stream":
            return await self._stream(result)
        self.send_json(result)

    async def _stream(self, opened) -> None:
        stream, chunk, done = opened
        self.set_header("Content-Type", "application/zip")
        if done:  # read whole (and checked) in the call's own worker trip: sent with its length
            return self.finish(chunk)
        try:
            while True:
                if chunk:
                    self.write(chunk)
                    await self.flush()
                if done:
                    break
                chunk, done = await self.run(_read_some, stream)
        finally:
            if not done:
                stream.close()
        self.finish()


def _read_some(stream) -> tuple[bytes, bool]:
    """Up to about ``CHUNK`` bytes of ``stream`` and whether it ended (then it is closed)."""
    chunk = stream.read(CHUNK)
    if len(chunk) < CHUNK:
        more = stream.read(CHUNK) if chunk else b""
        if not more:
            stream.close()  # the read that met the end checked the digest (TamperedArtifact)
            return chunk, True
        chunk += more
    return chunk, False


def _first_bytes(stream) -> tuple:
    """(stream, first bytes, ended) for ``_stream``; the stream is closed if reading fails."""
    try:
        return (stream, *_read_some(stream))
    except BaseException:
        stream.close()
        raise


def _discard(paths) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _json_object(raw: bytes) -> dict:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"The request body is not valid JSON ({exc}); send a JSON object.") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"The request body must be a JSON object, not {type(value).__name__}.")
    return value


_BOOLS = {"true": True, "1": True, "false": False, "0": False}


def _text(raw: bytes) -> str:
    # Lone surrogates pass through so that the gallery refuses them with its own message.
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise InvalidInput("A query parameter is not valid UTF-8; send text.") from None


def _query_value(param, raw: list[str]):
    if param.type == "strs":
        return tuple(raw)
    if len(raw) != 1:
        raise InvalidInput(f"{param.name} must be given once.")
    value = raw[0]
    if param.type == "int":
        if not value.lstrip("-").isdigit() or len(value) > 18:
            raise InvalidInput(f"{param.name} must be a whole number, not {value[:40]!r}.")
        return int(value)
    if param.type == "bool":
        if value.lower() not in _BOOLS:
            raise InvalidInput(f"{param.name} must be true or false, not {value[:40]!r}.")
        return _BOOLS[value.lower()]
    return value


def _body_value(param, value):
    kind = param.type
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput(f"{param.name} must be a whole number, not {json.dumps(value)[:40]}.")
    if kind == "int?" and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput(f"{param.name} must be a whole number or null, not {json.dumps(value)[:40]}.")
    # Text and flags go through as sent: the gallery checks them with its own messages (a
    # publish with agree="yes" is an AgreementRequired, a version 1.0 names the version format).
    if kind == "strs" and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        raise InvalidInput(f"{param.name} must be a list of strings.")
    if kind == "source":
        return value
    return decode_argument(kind, param.name, value)


class UploadHandlerMixin(GalleryHandlerMixin):
    """``PUT /uploads/{sha256}``: an archive streamed to disk while its sha256 is computed; kept
    (for the publish that names it) only when it matches (T5). A dropped or refused upload
    leaves nothing."""

    def body_limit(self) -> int:
        return self.state.max_upload

    async def prepare(self):
        self._temp = None
        await super().prepare()
        if self._finished:
            return
        digest = self.path_kwargs.get("sha256", "")
        if len(digest) != 64 or digest.strip("0123456789abcdef"):
            return self.send_gallery_error(InvalidInput("The upload's path must end in the archive's sha256 "
                                                        "(64 lower-case hex digits)."))
        if self.request.method != "PUT":
            return
        folder = self.state.upload_folder()
        from ..artifacts import TEMP_PREFIX

        self._temp = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        self._file = open(self._temp, "wb")
        self._hash = hashlib.sha256()
        self._size = 0

    def data_received(self, chunk: bytes) -> None:
        if self._temp is None or self._too_large:
            return
        self._size += len(chunk)
        if self._size > self.body_limit():
            self._too_large = True
            return
        self._hash.update(chunk)
        self._file.write(chunk)

    async def put(self, sha256: str):
        try:
            self._file.close()
            if self._too_large:
                raise TooLarge(f"The archive is larger than this server's upload limit "
                               f"({self.body_limit():,} bytes); ask its operator to raise it (--max-upload).")
            actual = self._hash.hexdigest()
            if actual != sha256:
                raise InvalidInput(f"The uploaded archive's sha256 is {actual[:12]}…, not {sha256[:12]}… as named: it "
                                   "changed on the way (or is another file); nothing was kept. Upload it again.")
            os.replace(self._temp, self.state.upload_path(self.identity.user_id, sha256))
            self._temp = None
            self.send_json({"sha256": sha256, "size": self._size}, 201)
        except Exception as exc:  # noqa: BLE001
            self._discard()  # before the answer leaves: a refused upload leaves nothing
            self.send_gallery_error(exc)

    def on_connection_close(self) -> None:
        self._discard()  # a dropped upload leaves nothing
        super().on_connection_close()

    def on_finish(self) -> None:
        self._discard()

    def _discard(self) -> None:
        temp = getattr(self, "_temp", None)
        if temp is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001
                pass
            temp.unlink(missing_ok=True)
            self._temp = None


class HealthHandlerMixin(GalleryHandlerMixin):
    """``GET /health``: no credential needed (T3); says whether the database and the artifact
    store answer (503 naming the one that does not)."""

    requires_identity = False

    async def get(self):
        from .. import __version__
        from .operations import health

        try:
            status, report = await self.run(health, self.state)
        except Exception as exc:  # noqa: BLE001  (the gallery could not even be opened)
            return self.send_gallery_error(exc)
        self.send_json({**report, "version": __version__}, status)


class OpenAPIHandlerMixin(GalleryHandlerMixin):
    async def get(self):
        from .openapi import document

        self.send_json(document())


def handler_specs(route_cls, upload_cls, health_cls, openapi_cls) -> list[tuple]:
    """The URL specs of the whole API, for the given handler classes."""
    by_pattern: dict[str, dict] = {}
    for route in table.ROUTES:
        by_pattern.setdefault(route.pattern(), {})[route.verb] = route
    specs = [
        (table.PREFIX + table.HEALTH_PATH, health_cls, {}),
        (table.PREFIX + table.OPENAPI_PATH, openapi_cls, {}),
        (table.PREFIX + "/uploads/(?P<sha256>[^/]+)", upload_cls, {}),
    ]
    specs += [(pattern, route_cls, {"routes": routes}) for pattern, routes in by_pattern.items()]
    return specs
