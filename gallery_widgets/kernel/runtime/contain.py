"""Keeping a job's processes together, so that every one of them ends with the job.

A process group is not enough: an algorithm can start a daemon with ``setsid`` (or
``start_new_session=True``), which leaves the group, and a double fork leaves its
parent. So the job's runner makes itself a *child subreaper* (Linux ``prctl``): every
process the job starts, however it detaches, is re-parented to the runner instead of
to init, and stays its descendant. Ending a job is then "stop every descendant, then
kill them": the processes are frozen with SIGSTOP first (a frozen process cannot fork
a new one while the list is read), until a fresh look finds no one new.
psutil lists the descendants.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def become_subreaper() -> bool:
    """Orphaned descendants of this process are re-parented to it (Linux); False elsewhere."""
    return _prctl(PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent(signum: int = signal.SIGKILL) -> bool:
    """This process gets ``signum`` when its parent (strictly: the parent's thread that
    started it) ends (Linux); False elsewhere."""
    return _prctl(PR_SET_PDEATHSIG, int(signum))


def kill_tree(root_pid: int, *, include_root: bool) -> int:
    """SIGKILL every descendant of ``root_pid`` (and ``root_pid`` itself with ``include_root``),
    freezing them first so none can start another meanwhile. Returns how many were killed.
    Processes of other users are skipped (they cannot be signalled anyway)."""
    import psutil

    try:
        root = psutil.Process(root_pid)
    except psutil.NoSuchProcess:
        return 0
    frozen: dict[int, psutil.Process] = {}
    if include_root:
        _quietly(root.suspend)
    for _ in range(100):  # a fork bomb cannot keep this going: frozen processes do not fork
        try:
            found = root.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        new = [p for p in found if p.pid not in frozen]
        if not new:
            break
        for process in new:
            _quietly(process.suspend)
            frozen[process.pid] = process
    victims = list(frozen.values()) + ([root] if include_root else [])
    for process in victims:
        _quietly(process.kill)
    return len(victims)


def _quietly(action) -> None:
    import psutil

    try:
        action()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        pass
