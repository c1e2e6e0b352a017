"""The service core: every rule of the gallery, in pure Python (no ipywidgets)."""
