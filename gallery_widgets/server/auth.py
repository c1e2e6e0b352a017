"""Who a request acts as (SPEC T1-T3, T7): pluggable resolvers.

A resolver is a function ``resolver(handler) -> Identity | None``, called in a worker
thread before any call: it returns the identity the request's credential stands for,
None when the credential is not its kind (the next resolver is asked), or raises
``Unauthenticated`` for a credential of its kind that is bad (unknown, expired, revoked).
A JupyterHub token resolver joins the list the same way. A resolver may also have
``cached(handler) -> Identity | None``, asked first on the event loop: an answer from
memory, with no I/O, saves the request its trip through a worker thread and the database.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Callable

from ..core.tokens import TOKEN_PREFIX, Identity, check_token, ensure_account, hash_token
from ..errors import Unauthenticated

Resolver = Callable[[object], "Identity | None"]


def bearer_token(handler) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (or ``token <token>``), else None."""
    header = handler.request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


class TokenCache:
    """The good tokens this server process checked in the last ``seconds`` (T1).

    Checking a token is a database transaction of its own, on every request; a server keeps
    what it learnt for a few seconds instead (``gallery-widgets serve --token-cache SECONDS``,
    default 5; 0 checks the database on every request). The bound this sets:

    - a token revoked through this process (``g.revoke_token``) is refused by it at once: the
      user's entries are dropped when the revocation succeeds;
    - a token revoked elsewhere (another server process, ``gallery-widgets token revoke`` on the
      host) is refused by every process at most ``seconds`` after the revocation committed;
    - an expired token is refused the moment it expires: its expiry is kept and compared with
      the gallery's clock on every request;
    - only tokens that were good are kept: an unknown, revoked or expired one is looked up
      every time (and a token created a moment ago works at once).

    Entries are keyed by the token's sha256, as the database keys them, so the memory of the
    process holds no secret the request did not bring. Thread-safe.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float):
        self.seconds = max(0.0, float(seconds))
        self._entries: dict[str, tuple[Identity, datetime | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str, now: datetime) -> Identity | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        identity, expires_at, checked = entry
        if time.monotonic() - checked >= self.seconds or (expires_at is not None and expires_at <= now):
            self._entries.pop(digest, None)
            return None
        return identity

    def put(self, digest: str, identity: Identity, expires_at: datetime | None) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (identity, expires_at, time.monotonic())

    def forget_user(self, user_id: int) -> None:
        """Drop ``user_id``'s tokens (one of them was just revoked through this process)."""
        with self._lock:
            for digest in [d for d, (identity, _, _) in self._entries.items() if identity.user_id == user_id]:
                self._entries.pop(digest, None)


class TokenResolver:
    """Personal access tokens (``gw_…``) of this gallery (T1), checked in the database and kept
    for a few seconds in the state's ``TokenCache`` (whose docstring says the bound)."""

    def __init__(self, state):
        self.state = state

    def cached(self, handler) -> Identity | None:
        token = bearer_token(handler)
        if token is None or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return self.state.tokens.get(hash_token(token), self.state.clock())

    def __call__(self, handler) -> Identity | None:
        token = bearer_token(handler)
        if token is None or not token.startswith(TOKEN_PREFIX):
            return None
        identity, expires_at = check_token(self.state.context, token, self.state.clock)
        self.state.tokens.put(hash_token(token), identity, expires_at)
        return identity


class JupyterUserResolver:
    """Inside a user's own Jupyter server: whoever Jupyter authenticated acts as the embedded
    gallery's user (``GALLERY_USER`` or the login name, as ``gw.open()`` in its kernels).
    The Jupyter server is one person's; its own authentication is the gate."""

    def __init__(self, state, username: str):
        self.state = state
        self.username = username
        self._identity: Identity | None = None

    def __call__(self, handler) -> Identity | None:
        if not getattr(handler, "current_user", None):
            return None
        if self._identity is None:
            from ..core.sql_gallery import ensure_user

            self._identity = Identity(ensure_user(self.state.context, self.username, self.state.clock), self.username)
        return self._identity


def cached_identity(resolvers, handler) -> Identity | None:
    """The request's identity if a resolver knows it from memory (no I/O: safe on the event
    loop), else None and ``resolve`` decides in a worker thread."""
    for resolver in resolvers:
        cached = getattr(resolver, "cached", None)
        if cached is not None:
            identity = cached(handler)
            if identity is not None:
                return identity
    return None


def resolve(resolvers, handler) -> Identity:
    """The identity of ``handler``'s request, or ``Unauthenticated`` saying what is missing."""
    for resolver in resolvers:
        identity = resolver(handler)
        if identity is not None:
            return identity
    if bearer_token(handler) is not None:
        raise Unauthenticated("This token is not known to the gallery; create one with `gallery-widgets token create "
                              "USER` on the server host, or g.create_token(name).")
    raise Unauthenticated("This gallery needs a credential: send 'Authorization: Bearer <token>' with a personal access "
                          "token (gw.open(url, token=…), or GALLERY_TOKEN).")


__all__ = ["Identity", "TokenCache", "TokenResolver", "JupyterUserResolver", "resolve", "cached_identity", "bearer_token",
           "ensure_account"]
