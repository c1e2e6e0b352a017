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

from ..errors import GalleryError, InvalidInput

HUB_ENV = "JUPYTERHUB_API_URL"  # set by the Hub for every managed service


class HubRefused(GalleryError, PermissionError):
    """A Hub credential the Hub does not accept, or one without the service's access scope.
    Raised as the server's ``Unauthenticated`` where that class exists."""


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


def _refused(message: str) -> Exception:
    try:
        from ..errors import Unauthenticated  # the server's 401 (errors.py of the team server)

        return Unauthenticated(message)
    except ImportError:
        return HubRefused(message)


def hub_user(auth, token: str) -> str:
    """The Hub user name ``token`` stands for, if it may use this service.

    Raises:
        Unauthenticated (or HubRefused): the Hub does not know the token, it belongs to a
            service, or it lacks the service's access scope (named in the message).
    """
    try:
        model = auth.user_for_token(token, sync=True)
    except Exception as exc:  # the Hub is down or refuses the service itself (tornado HTTPError 500)
        from ..errors import StorageError

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

    def __call__(self, handler):
        from ..core.tokens import TOKEN_PREFIX, ensure_account

        token = self.auth.get_token(handler, in_cookie=True)
        if not token or token.startswith(TOKEN_PREFIX):
            return None  # no credential, or a gallery token (its own resolver answers for it)
        name = hub_user(self.auth, token)
        return ensure_account(self.state.context, name, clock=self.state.clock)
