"""The REST client: ``GalleryService`` over a team server's API (SPEC §6).

Every call is generated from the route table (``routes.py``) and the service's
signatures, so the client offers exactly the interface's calls with the same arguments
and defaults; results come back as the same frozen dataclasses and errors as the same
``GalleryError`` classes with the same messages (T4). One ``httpx.Client`` (one
connection pool) per gallery; timeouts on every request; a request that failed on the
network is sent again only when that is safe: reads, and any request that never
reached the server.

``import gallery_widgets`` does not load httpx: this module is imported by ``gw.open``
with an http(s) URL only.
"""

from __future__ import annotations

import abc
import inspect
import tempfile
import time
import typing
from functools import lru_cache

import httpx

from . import routes as table
from . import service as service_module
from .entities import UNSET, PackedSource
from .errors import GalleryError, InvalidInput, StorageError, Unauthenticated
from .service import GalleryService
from .wire import encode_argument, from_wire

RETRY_STATUSES = (502, 503, 504)
_ANNOUNCE = 64 * 1024 * 1024  # archives up to this size are sent in one piece, larger ones streamed
CHUNK = 1024 * 1024


@lru_cache(maxsize=None)
def _signature(method: str) -> inspect.Signature:
    member = inspect.getattr_static(GalleryService, method)
    return inspect.signature(member.fget if isinstance(member, property) else member)


@lru_cache(maxsize=None)
def _returns(method: str):
    member = inspect.getattr_static(GalleryService, method)
    function = member.fget if isinstance(member, property) else member
    return typing.get_type_hints(function, vars(service_module)).get("return")


class RestClient(GalleryService):
    """A gallery on a team server, opened with a token (the server decides who that is)."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0, retries: int = 2):
        if not isinstance(token, str) or not token.strip():
            raise Unauthenticated(f"The gallery at {url} needs a token: gw.open(url, token=…), or set GALLERY_TOKEN.")
        self._base = url.rstrip("/")
        self._retries = retries
        self._http = httpx.Client(
            base_url=self._base,
            headers={"Authorization": f"Bearer {token.strip()}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            follow_redirects=False,
        )
        self.username = self.me.username  # who the token stands for; also checks it now (401 early)

    def __repr__(self) -> str:
        return f"<gallery {self._base} as {self.username!r}>"

    @property
    def url(self) -> str:
        return self._base

    def close(self) -> None:
        self._http.close()

    # -- the one way every call goes -------------------------------------------------------
    def _invoke(self, method: str, args: tuple, kwargs: dict):
        route = table.BY_METHOD[method]
        bound = _signature(method).bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        values.pop("self", None)
        params = {p.name: p for p in route.params}
        for name in route.path_names:
            value = values.get(name)
            if not isinstance(value, str) or not value.strip() or len(value) > 1000:
                raise InvalidInput(f"{name} must be a non-empty string, not {value!r}.")
        url = route.url(values)
        uploads: list[str] = []
        request: dict = {}
        if route.verb == "GET":
            request["params"] = [(name, item) for name, value in values.items()
                                 if params[name].where == "query" and value is not None and value is not UNSET
                                 for item in _query_items(params[name], value)]
        else:
            body = {}
            for name, value in values.items():
                if params[name].where != "body" or value is UNSET:
                    continue
                if name == "source":
                    value = self._upload_source(value, uploads)
                elif params[name].type == "strs" and isinstance(value, str) and name.endswith(("users", "groups")):
                    value = [value]  # one user name, as the gallery itself accepts it
                try:
                    body[name] = value if name == "source" else encode_argument(value)
                except TypeError:
                    raise InvalidInput(f"{name} cannot be {type(value).__name__}; see help(g.{method}).") from None
            request["json"] = body
        if route.response == "stream":
            return self._download(url)
        response = self._send(route.verb, url, idempotent=route.idempotent, **request)
        if response.status_code == 204:
            return None
        if route.response == "image":
            return response.content
        return from_wire(_returns(method), response.json())

    def _send(self, verb: str, url: str, *, idempotent: bool, **request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(verb, url, **request)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if attempt < self._retries and (idempotent or never_sent) and _rewindable(request):
                    attempt += 1
                    time.sleep(0.2 * attempt)
                    continue
                raise StorageError(f"The gallery server at {self._base} could not be reached ({type(exc).__name__}: "
                                   f"{exc}); check the URL and that the server runs, then try again.") from None
            if response.status_code in RETRY_STATUSES and idempotent and attempt < self._retries:
                attempt += 1
                time.sleep(0.2 * attempt)
                continue
            if response.status_code >= 400:
                raise _error(response)
            return response

    # -- archives (T5) ---------------------------------------------------------------------
    def _upload_source(self, source, uploads: list) -> dict:
        """Upload every archive of a packed source (a workflow's local algorithms too) by its
        sha256, and describe the source by those digests."""
        if not isinstance(source, PackedSource):
            raise InvalidInput(f"source must be a packed source (gw.Algorithm, gw.Model or gw.Workflow), not "
                               f"{type(source).__name__}.")
        described = {"kind": source.kind, "manifest": dict(source.manifest) if hasattr(source.manifest, "keys")
                     else source.manifest, "sha256": source.sha256 or ""}
        if source.archive is not None and source.sha256:
            self._upload(source)
            uploads.append(source.sha256)
        if source.algorithms:
            described["algorithms"] = {key: self._upload_source(each, uploads)
                                       for key, each in dict(source.algorithms).items()}
        return described

    def _upload(self, source: PackedSource) -> None:
        if not isinstance(source.sha256, str) or len(source.sha256) != 64:
            raise InvalidInput("The packed source's sha256 must be 64 hex digits.")
        stream = source.open_archive()
        try:
            def chunks():
                while True:
                    block = stream.read(CHUNK)
                    if not block:
                        return
                    yield block
            self._send("PUT", f"{table.PREFIX}/uploads/{source.sha256}", idempotent=False,
                       content=chunks(), headers={"Content-Type": "application/octet-stream"})
        finally:
            if stream is not source.archive:
                stream.close()

    def _download(self, url: str):
        """An artifact's bytes in a temporary file (memory up to 16 MiB); the kernel side
        verifies them against the digest before anything unpacks them (U7)."""
        attempt = 0
        while True:
            spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
            try:
                with self._http.stream("GET", url) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise _error(response)
                    for block in response.iter_bytes(CHUNK):
                        spool.write(block)
                spool.seek(0)
                return spool
            except httpx.TransportError as exc:
                spool.close()
                if attempt < self._retries:
                    attempt += 1
                    time.sleep(0.2 * attempt)
                    continue
                raise StorageError(f"Downloading from the gallery server at {self._base} failed ({exc}); "
                                   "try again.") from None
            except BaseException:
                spool.close()
                raise


def _rewindable(request: dict) -> bool:
    return not (request.get("content") is not None and not isinstance(request["content"], (bytes, str)))


def _query_items(param, value) -> list[str]:
    kind = param.type
    if kind == "strs":
        items = [value] if isinstance(value, str) else value
        try:
            items = list(items)
        except TypeError:
            raise InvalidInput(f"{param.name} must be a list of strings, not {value!r}.") from None
        if not all(isinstance(v, str) for v in items):
            raise InvalidInput(f"{param.name} must be a list of strings, not {value!r}.")
        return items
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidInput(f"{param.name} must be True or False, not {value!r}.")
        return ["true" if value else "false"]
    if kind in ("int", "int?"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{param.name} must be a whole number, not {value!r}.")
        return [str(value)]
    if not isinstance(value, str):
        raise InvalidInput(f"{param.name} must be text, not {type(value).__name__}.")
    return [value]


def _error(response: httpx.Response) -> GalleryError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return GalleryError.from_dict(body)
    return GalleryError(f"The gallery server answered {response.status_code} {response.reason_phrase} to "
                        f"{response.request.method} {response.request.url.path}: {response.text[:200]!r}.")


def _make(method: str):
    def call(self, *args, **kwargs):
        return self._invoke(method, args, kwargs)

    call.__name__ = method
    call.__qualname__ = f"RestClient.{method}"
    call.__doc__ = getattr(GalleryService, method).__doc__
    call.__signature__ = _signature(method)
    return call


for _route in table.ROUTES:
    if _route.method == "me":
        RestClient.me = property(lambda self: self._invoke("me", (), {}), doc=GalleryService.me.__doc__)
    else:
        setattr(RestClient, _route.method, _make(_route.method))
abc.update_abstractmethods(RestClient)
