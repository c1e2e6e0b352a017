"""The gallery as a JupyterHub service (SPEC T7): a Hub user needs no gallery token.

``HubResolver`` joins the server's credential resolvers (``server/auth.py``) after the
gallery's own tokens. It accepts

- the user's JupyterHub API token (``Authorization: token …`` or ``Bearer …``; every Hub
  kernel has one in ``JUPYTERHUB_API_TOKEN``), and
- a Hub OAuth browser session: the cookie ``jupyterhub.services.auth.HubOAuth`` sets once
  the browser went through ``<prefix>login`` → the Hub → ``<prefix>oauth_callback``.

The Hub identifies the token's owner and its scopes; the request acts as that Hub user (the
gallery account of the same name, created on first use). The token must carry the service's
access scope (``access:services!service=<name>``, what the Hub grants through the roles in the
README's configuration); a token without it is refused with a message naming that scope. Tokens
of services (not users) are refused: nobody acts as another user through the gallery.

Everything the Hub needs comes from the environment it gives a managed service
(``JUPYTERHUB_API_URL``, ``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_SERVICE_PREFIX``,
``JUPYTERHUB_CLIENT_ID``, ``JUPYTERHUB_OAUTH_CALLBACK_URL``, ``JUPYTERHUB_OAUTH_ACCESS_SCOPES``…).
"""

from __future__ import annotations

import os

from ..errors import InvalidInput, StorageError, Unauthenticated

HUB_ENV = "JUPYTERHUB_API_URL"  # set by the Hub for every managed service


def running_under_hub() -> bool:
    return bool(os.environ.get(HUB_ENV))


def hub_auth():
    """The ``HubOAuth`` of this service, configured from the Hub's environment.

    Raises:
        InvalidInput: jupyterhub is not installed, or the Hub's environment is missing.
    """
    try:
        from jupyterhub.services.auth import HubOAuth
    except ImportError:
        raise InvalidInput("JupyterHub service mode needs the jupyterhub package (pip install jupyterhub).") from None
    if not running_under_hub():
        raise InvalidInput("--jupyterhub needs the environment JupyterHub gives a managed service "
                           f"({HUB_ENV}, JUPYTERHUB_API_TOKEN, …); start the server from the Hub's "
                           "c.JupyterHub.services (see the README).")
    # One shared instance: the login and OAuth callback handlers (HubOAuthenticated) use it too.
    # The Hub's answer for a token is cached a minute: a revoked Hub token works that long.
    return HubOAuth.instance(cache_max_age=60)


def _refused(message: str) -> Unauthenticated:
    return Unauthenticated(message)


def hub_user(auth, token: str) -> str:
    """The Hub user name ``token`` stands for, if it may use this service.

    Raises:
        Unauthenticated: the Hub does not know the token, it belongs to a
            service, or it lacks the service's access scope (named in the message).
    """
    try:
        model = auth.user_for_token(token, sync=True)
    except Exception as exc:  # the Hub is down or refuses the service itself (tornado HTTPError 500)
        raise StorageError(f"The JupyterHub at {auth.api_url} does not answer ({exc}); try again when the Hub is "
                           "back.") from None
    if not model:
        raise _refused("The JupyterHub did not accept this token (unknown, expired or revoked); use the "
                       "JUPYTERHUB_API_TOKEN of your Hub server, or a token from the Hub's token page.")
    if model.get("kind", "user") != "user":
        raise _refused(f"This token belongs to the Hub service {model.get('name')!r}, not to a user; the gallery "
                       "acts only as Hub users.")
    missing = sorted(auth.access_scopes)
    if missing and not auth.check_scopes(auth.access_scopes, model):
        raise _refused(
            f"This JupyterHub token of {model.get('name')!r} lacks the scope {', '.join(missing)} that the gallery "
            "service needs; ask the Hub admin to grant it through a role (README, 'The gallery as a JupyterHub "
            "service'), or use a token created with it.")
    return model["name"]


class HubResolver:
    """A server credential resolver for Hub tokens and Hub OAuth sessions (see the module)."""

    def __init__(self, state, auth=None):
        self.state = state
        self.auth = auth if auth is not None else hub_auth()
        # Hub user name -> the gallery account of that name. An account, once there, stays (with
        # the same id and name); the Hub's answer about the token is asked on every request
        # (HubAuth caches it). Saves a write transaction (ensure_account) per request.
        self._accounts: dict = {}

    def __call__(self, handler):
        from ..core.tokens import TOKEN_PREFIX, ensure_account

        sent = self.auth.get_token(handler, in_cookie=False)  # Authorization header
        token = sent or self.auth.get_token(handler, in_cookie=True)  # else the OAuth session cookie
        if not token or token.startswith(TOKEN_PREFIX):
            return None  # no credential, or a gallery token (its own resolver answers for it)
        if not sent and handler.request.method == "POST" and not _is_json(handler):
            # A cross-site form can POST with the cookie but never as JSON (that needs CORS,
            # which this server does not grant); every gallery call sends JSON.
            raise _refused("A browser session may only send JSON to the gallery (Content-Type: application/json).")
        name = hub_user(self.auth, token)
        identity = self._accounts.get(name)
        if identity is None:
            identity = ensure_account(self.state.context, name, clock=self.state.clock)
            if len(self._accounts) >= 10_000:
                self._accounts.clear()
            self._accounts[name] = identity
        return identity


def _is_json(handler) -> bool:
    return handler.request.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json"


def hub_settings() -> dict:
    """Tornado settings of a Hub service: the secret that signs the OAuth session cookie.

    ``GALLERY_COOKIE_SECRET`` (hex) when several server processes share the sessions; else one
    derived from the service's own Hub token, stable for as long as the Hub keeps that token.
    """
    import hashlib

    secret = os.environ.get("GALLERY_COOKIE_SECRET", "").strip()
    if secret:
        try:
            return {"cookie_secret": bytes.fromhex(secret)}
        except ValueError:
            raise InvalidInput("GALLERY_COOKIE_SECRET must be hex digits (e.g. `openssl rand -hex 32`).") from None
    seed = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    return {"cookie_secret": hashlib.sha256(b"gallery-widgets oauth cookie\0" + seed.encode()).digest()}


def hub_handlers(auth) -> list[tuple]:
    """The routes a Hub service adds under its prefix: ``login`` (starts the Hub's OAuth and
    comes back signed in), ``oauth_callback`` (where the Hub sends the browser back) and the
    prefix itself (what the Hub polls to see the service is up)."""
    from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
    from tornado import web

    from ..routes import PREFIX

    class CallbackHandler(HubOAuthCallbackHandler):
        def initialize(self, hub_auth):
            self.hub_auth = hub_auth

    class LoginHandler(HubOAuthenticated, web.RequestHandler):
        def initialize(self, hub_auth):
            self.hub_auth = hub_auth

        @web.authenticated
        def get(self):
            self.redirect(self.hub_auth.base_url.rstrip("/") + PREFIX + "/me")

    class IndexHandler(web.RequestHandler):
        def get(self):
            base = auth.base_url.rstrip("/")
            self.write({"service": "gallery", "api": base + PREFIX, "login": base + "/login"})

    return [
        ("/oauth_callback", CallbackHandler, {"hub_auth": auth}),
        ("/login", LoginHandler, {"hub_auth": auth}),
        ("/?", IndexHandler, {}),
    ]
