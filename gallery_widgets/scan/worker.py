"""A bandit worker process: ``python -m gallery_widgets.scan.worker``.

Reads ``(deep recursion limit or None, [(digest, source), ...])`` pickled on stdin, writes ``{digest: verdict}``
pickled on stdout (see ``python_code._in_workers``; both ends are this package).
"""

from __future__ import annotations

import pickle
import sys

from .python_code import bandit, deep_bandit


def main() -> None:
    deep_limit, items = pickle.loads(sys.stdin.buffer.read())
    result = deep_bandit(items, deep_limit) if deep_limit else bandit(items)
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
