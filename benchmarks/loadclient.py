"""A load generator's HTTP client: one keep-alive HTTP/1.1 connection, one request at a time.

The benchmarks measure the gallery server, not the client. httpx costs about 2 ms of CPU per
request on this machine (measured: 1.8-2.0 ms for ``GET /me``), this client about 0.09 ms; on a
2-core machine shared by the servers, PostgreSQL and 64 clients, httpx alone took ~15 % of the
CPU the figures are about. Notebooks still use httpx (``gw.open(url)``); the benchmarks' one-client
round trip keeps using it, so that figure is what a notebook sees.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode, urlsplit


class LoadClient:
    def __init__(self, base: str, headers: dict[str, str] | None = None, timeout: float = 30):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        fixed = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, *, params: dict | None = None, json_body=None,
                      content: bytes | None = None) -> tuple[int, bytes]:
        """(status, body) of one request; the connection is opened on first use and again after
        the server closed it."""
        return await asyncio.wait_for(self._request(method, path, params, json_body, content), self.timeout)

    async def _request(self, method, path, params, json_body, content) -> tuple[int, bytes]:
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        target = self.prefix + path + ("?" + urlencode(params, doseq=True) if params else "")
        head = f"{method} {target} HTTP/1.1\r\n{self._fixed}"
        body = content if content is not None else b""
        if json_body is not None:
            body = json.dumps(json_body).encode()
            head += "Content-Type: application/json\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(body)}\r\n"
        try:
            self._writer.write(head.encode("latin-1") + b"\r\n" + body)
            return await self._response()
        except BaseException:
            await self.aclose()  # a half-read answer leaves the connection unusable
            raise

    async def _response(self) -> tuple[int, bytes]:
        reader = self._reader
        status = int((await reader.readuntil(b"\r\n")).split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value == b"chunked"
            elif name == b"connection":
                close = value == b"close"
        if chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            data = b"".join(parts)
        else:
            data = await reader.readexactly(length) if length else b""
        if close:
            await self.aclose()
        return status, data

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def __aenter__(self) -> "LoadClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
