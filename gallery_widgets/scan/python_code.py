"""Python code, checked by bandit (used as a library) on private temporary copies.

- Bandit's verdict depends only on a file's bytes, so it is cached by content: a new
  version of an asset re-scans only the files that changed.
- A large cold scan is spread over worker processes (bandit is pure Python, one core each)
  when the machine has idle cores.
- Bandit's AST walk is recursive: code nested a few hundred levels deep (a 2,000-term
  expression) overflows it. Such files get a second try in a worker process with a deep
  recursion limit and a large stack; what still cannot be parsed or walked is reported as
  high, because code that was not checked must not reach a subscriber.
- The profile leaves out bandit's tests about the publisher's own hygiene (asserts,
  hard-coded passwords, weak hashes, ``random``, empty excepts): the findings are shown to
  subscribers, who need what the code can do to them.
"""

from __future__ import annotations

import ast
import concurrent.futures
import hashlib
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import warnings
from collections import OrderedDict
from contextlib import contextmanager

from ..entities import Finding
from .common import MiB

PYTHON_SUFFIXES = (".py", ".pyw")
EXCLUDED_TESTS = frozenset({"B101", "B105", "B106", "B107", "B110", "B112", "B303", "B311", "B324"})
PARALLEL_MIN_BYTES = 256 * 1024  # below this a cold scan stays in this process (workers take ~0.3 s to start)
MAX_WORKERS = 4
DEEP_RECURSION_LIMIT = 200_000
DEEP_STACK_BYTES = 512 * MiB
WORKER_TIMEOUT_S = 900

_BANDIT_SEVERITY = {"LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
_LOCK = threading.Lock()  # bandit keeps module-level state, and we flip its loggers
# sha256 -> ((line, rule, severity, message), ...), or a str: why the file could not be checked
_CACHE: OrderedDict[bytes, tuple | str] = OrderedDict()
_CACHE_SIZE = 4096
_UNWALKED = "exception while scanning file"  # bandit's reason when its walk raised (RecursionError)


def is_python(name: str, head: bytes) -> bool:
    """By suffix, or a script whose first line runs python (``#!/usr/bin/env python3``)."""
    if name.lower().endswith(PYTHON_SUFFIXES):
        return True
    first = head.split(b"\n", 1)[0]
    return first.startswith(b"#!") and b"python" in first


def scan_python(sources: dict[str, bytes]) -> list[Finding]:
    """Bandit's findings for {path: source}, plus a high one for each file it could not check."""
    names_by_digest: dict[bytes, list[str]] = {}
    contents: dict[bytes, bytes] = {}
    for name, data in sources.items():
        digest = hashlib.sha256(data).digest()
        names_by_digest.setdefault(digest, []).append(name)
        contents[digest] = data
    with _LOCK:
        todo = {digest: data for digest, data in contents.items() if digest not in _CACHE}
        if todo:
            _CACHE.update(_check(todo))
        verdicts = {digest: _CACHE[digest] for digest in contents}
        for digest in contents:
            _CACHE.move_to_end(digest)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    findings = []
    for digest, names in names_by_digest.items():
        verdict = verdicts[digest]
        for name in names:
            if isinstance(verdict, str):
                findings.append(_unchecked(name, verdict))
            else:
                findings += [Finding(name, *issue) for issue in verdict]
    return findings


def _unchecked(name: str, why: str) -> Finding:
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return Finding(
        name, None, "python-unparsed", "high",
        f"bandit could not check this file ({why}), and code that was not checked cannot be published. "
        f"The scan parses with this kernel's Python {version}: fix the file, or, if it needs a newer Python, "
        "publish from a kernel of that Python (and declare it in the manifest's python constraint).",
    )


def _check(todo: dict[bytes, bytes]) -> dict[bytes, tuple | str]:
    """{digest: issues or why-unchecked} for every file of ``todo``."""
    items = list(todo.items())
    workers = min(MAX_WORKERS, _free_cpus(), len(items))
    results = None
    if workers > 1 and sum(len(data) for _, data in items) >= PARALLEL_MIN_BYTES:
        results = _in_workers(_split(items, workers), deep=False)
    if results is None:
        results = bandit(items)
    deep = [(digest, todo[digest]) for digest, verdict in results.items() if verdict == _UNWALKED]
    if deep:
        retried = _in_workers([deep], deep=True) or {}
        results.update({digest: verdict for digest, verdict in retried.items() if verdict != _UNWALKED})
    for digest, verdict in results.items():
        if isinstance(verdict, str):
            results[digest] = _why_unparsed(todo[digest], verdict)
    return results


def _free_cpus() -> int:
    """Cores this process may use that are not busy already: on a machine whose cores are all
    taken, worker processes only add their start-up time."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cpus, round(cpus - busy + 1)))


def _split(items: list, parts: int) -> list[list]:
    """``parts`` groups of about equal bytes, biggest files first."""
    groups: list[list] = [[] for _ in range(parts)]
    sizes = [0] * parts
    for item in sorted(items, key=lambda item: -len(item[1])):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(item)
        sizes[smallest] += len(item[1])
    return [group for group in groups if group]


def _in_workers(groups: list[list], *, deep: bool) -> dict | None:
    """Run bandit over each group in its own fresh process; None if a worker failed.

    The workers are plain ``python -m gallery_widgets.scan.worker`` processes, not
    multiprocessing ones: spawning those re-imports the caller's main script, which for a
    script that publishes would publish again. They end when their group is done, so
    nothing stays behind in the user's kernel.
    """
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "gallery_widgets.scan.worker"]

    def run(group: list) -> dict:
        limit = DEEP_RECURSION_LIMIT if deep else None
        done = subprocess.run(command, input=pickle.dumps((limit, group)), capture_output=True, env=env,
                              timeout=WORKER_TIMEOUT_S, check=True)
        return pickle.loads(done.stdout)  # our own worker's answer, not user data

    try:
        with concurrent.futures.ThreadPoolExecutor(len(groups)) as pool:
            results: dict = {}
            for answer in pool.map(run, groups):
                results.update(answer)
            return results
    except (subprocess.SubprocessError, OSError, pickle.UnpicklingError, EOFError):
        return None


def deep_bandit(items: list, recursion_limit: int) -> dict:
    """Bandit in a thread with a large stack and a deep recursion limit (in a worker process only:
    both settings are process-wide)."""
    sys.setrecursionlimit(recursion_limit)
    threading.stack_size(DEEP_STACK_BYTES)
    out: list = []
    worker = threading.Thread(target=lambda: out.append(bandit(items)))
    worker.start()
    worker.join()
    return out[0] if out else {digest: _UNWALKED for digest, _ in items}


def bandit(items: list) -> dict:
    """Bandit over [(digest, source)]; the files get neutral names in a private folder so a
    hostile path such as ``../x.py`` in the source can never be written outside it."""
    found: dict = {digest: [] for digest, _ in items}
    with _quiet_bandit(), tempfile.TemporaryDirectory(prefix="gallery-scan-") as folder:
        # Imported here: bandit loads its plugins on import, which a notebook opening
        # the gallery should not pay for.
        from bandit.core import config as b_config
        from bandit.core import docs_utils
        from bandit.core import manager as b_manager

        digest_of: dict[str, bytes] = {}
        for number, (digest, data) in enumerate(items):
            path = os.path.join(folder, f"{number}.py")
            with open(path, "wb") as out:
                out.write(data)
            digest_of[f"{number}.py"] = digest
        # ignore_nosec: a "# nosec" comment is the publisher's word, not a reason to trust the code.
        manager = b_manager.BanditManager(
            b_config.BanditConfig(), "file", quiet=True, ignore_nosec=True,
            profile={"include": set(), "exclude": set(EXCLUDED_TESTS)},
        )
        manager.discover_files(sorted(os.path.join(folder, name) for name in digest_of))
        manager.run_tests()
        for issue in manager.results:
            severity = _BANDIT_SEVERITY.get(str(issue.severity).upper(), "low")
            advice = "Rewrite or remove this code" if severity == "high" else "Check that this is safe here"
            message = (
                f"{issue.text.strip()} (bandit {issue.test}, confidence {str(issue.confidence).lower()}). "
                f"{advice}; {docs_utils.get_url(issue.test_id)} explains the risk and the safer alternative."
            )
            found[digest_of[os.path.basename(issue.fname)]].append((issue.lineno, issue.test_id, severity, message))
        for fname, reason in manager.get_skipped():
            found[digest_of[os.path.basename(fname)]] = str(reason)
    return {digest: issues if isinstance(issues, str) else tuple(issues) for digest, issues in found.items()}


def _why_unparsed(data: bytes, reason: str) -> str:
    """Bandit's skip reason made specific: the syntax error and its line, NUL bytes, depth."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}" if exc.lineno else exc.msg
    except ValueError as exc:  # NUL bytes
        return str(exc)
    except (RecursionError, MemoryError):
        return "it is nested too deeply to parse"
    if reason == _UNWALKED:
        return "its expressions or blocks are nested too deeply to walk; split them up"
    return reason


@contextmanager
def _quiet_bandit():
    """Keep bandit's (and its plugin loader's) log lines and warnings out of the user's notebook."""
    loggers = [logging.getLogger(name) for name in ("bandit", "stevedore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            # Compiling user code may warn (invalid escape sequences, ...); not ours to show.
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
