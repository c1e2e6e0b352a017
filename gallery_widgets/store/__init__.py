"""Persistence: the SQL database (``engine``, ``schema``, ``search``) and the artifact store."""
