"""The gallery's face in JupyterLab (SPEC §5). Each widget takes a gallery ``g``
(default ``gw.open()``), holds no business rules, and shows every error inline."""
