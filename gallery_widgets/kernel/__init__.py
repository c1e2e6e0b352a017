"""The kernel-side layer: everything that runs in the notebook kernel, on top of any
``GalleryService`` (SPEC §6). Nothing here imports the SQL store."""
