"""``gw.open``: a team server's gallery without loading the SQL gallery, else ``gallery.open``.

A notebook on a team server never needs SQLAlchemy or the core: opening over REST imports
only the client and the kernel side (SPEC §6: a fresh kernel opens and imports quickly).
"""

from __future__ import annotations

import os

from .errors import InvalidInput
from .kernel.facade import remember


def open(url=None, user=None, token=None, clock=None, *, artifacts=None, pool_size=None, max_overflow=None):
    """Open a gallery as ``user``.

    With no ``url``: ``GALLERY_URL`` when it is set, else the embedded gallery under
    ``GALLERY_HOME``. ``url`` may be a SQLAlchemy URL (``sqlite:///…``, ``postgresql://…``;
    see ``gallery_widgets.gallery.open``) or a team server's ``http(s)://host[:port][/prefix]``,
    opened with ``token`` (default ``GALLERY_TOKEN``, else ``JUPYTERHUB_API_TOKEN``): there the
    token says who you are, and ``user``, when given, must agree with it.

    Raises:
        InvalidInput: a bad URL or user name; no token for a server; ``user`` is not the token's.
        Unauthenticated: the server refused the token (unknown, expired or revoked).
        StorageError: the server cannot be reached; or, for a database, as ``gallery.open``.
        SchemaOutdated, Conflict: as ``gallery.open``.
    """
    if url is None and os.environ.get("GALLERY_URL"):
        url = os.environ["GALLERY_URL"]
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        if pool_size is not None or max_overflow is not None:
            raise InvalidInput("pool_size and max_overflow size a database connection pool; a team server has its own.")
        return open_remote(url, user, token, clock, artifacts)
    from .gallery import open as open_database

    return open_database(url, user, token, clock, artifacts=artifacts, pool_size=pool_size,
                         max_overflow=max_overflow)


def open_remote(url: str, user, token, clock, artifacts):
    """A team server's gallery (SPEC §6): who you are comes from the token, not from ``user``."""
    if clock is not None or artifacts is not None:
        raise InvalidInput("clock and artifacts belong to database galleries; a team server keeps its own.")
    if token is None:
        token = os.environ.get("GALLERY_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
    if token is None:
        raise InvalidInput(f"The gallery at {url} needs a token: gw.open(url, token=…) or GALLERY_TOKEN (ask its "
                           "operator for one: `gallery-widgets token create USER` on the server host).")
    if user is not None:
        from .core.validate import username

        username(user, "user")
    from .remote import RemoteGallery

    gallery = RemoteGallery(url, token)
    if user is not None and user != gallery.username:
        gallery.close()
        raise InvalidInput(f"This token belongs to {gallery.username!r}, not {user!r}; on a team server the token "
                           "says who you are (leave user out).")
    return remember(gallery)


