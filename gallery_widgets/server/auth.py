"""Who a request acts as (SPEC T1-T3, T7): pluggable resolvers.

A resolver is a function ``resolver(handler) -> Identity | None``, called in a worker
thread before any call: it returns the identity the request's credential stands for,
None when the credential is not its kind (the next resolver is asked), or raises
``Unauthenticated`` for a credential of its kind that is bad (unknown, expired, revoked).
A JupyterHub token resolver joins the list the same way.
"""

from __future__ import annotations

from typing import Callable

from ..core.tokens import TOKEN_PREFIX, Identity, ensure_account, resolve_token
from ..errors import Unauthenticated

Resolver = Callable[[object], "Identity | None"]


def bearer_token(handler) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (or ``token <token>``), else None."""
    header = handler.request.headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


class TokenResolver:
    """Personal access tokens (``gw_…``) of this gallery (T1)."""

    def __init__(self, state):
        self.state = state

    def __call__(self, handler) -> Identity | None:
        token = bearer_token(handler)
        if token is None or not token.startswith(TOKEN_PREFIX):
            return None
        return resolve_token(self.state.context, token, self.state.clock)


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


__all__ = ["Identity", "TokenResolver", "JupyterUserResolver", "resolve", "bearer_token", "ensure_account"]
