"""Training jobs: run an algorithm in its own process and follow it (SPEC U2)."""
