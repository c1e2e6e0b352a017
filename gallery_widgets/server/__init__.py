"""The gallery's REST server (SPEC §6): thin tornado handlers over ``SqlGallery``.

Two ways to run it, with the same handlers:

- inside every Jupyter server, as the ``GalleryExtension`` jupyter_server extension
  (enabled by ``jupyter-config/jupyter_server_config.d/gallery_widgets.json``): the
  embedded gallery, served to the Jupyter server's authenticated user;
- standalone for a team, ``gallery-widgets serve`` (``serve.py``): only the gallery API,
  with personal access tokens as the credential.

Nothing here runs published code.
"""

from __future__ import annotations


def _jupyter_server_extension_points():
    from .extension import GalleryExtension

    return [{"module": "gallery_widgets.server", "app": GalleryExtension}]


def _load_jupyter_server_extension(serverapp):  # older jupyter_server entry point
    from .extension import GalleryExtension

    GalleryExtension._load_jupyter_server_extension(serverapp)
