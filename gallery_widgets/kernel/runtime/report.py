"""``gw.report(progress=0.4, loss=0.1)``: progress and metrics from inside a training job.

A job's runner sets ``GALLERY_JOB_EVENTS`` to the job's ``events.jsonl``; each call
appends one JSON line there. Outside a job the call checks its arguments and does
nothing else, so the same training code runs in a notebook cell and in a job.

This module is imported by every job before the user's code, so it must stay
light: standard library only (plus the package's errors).
"""

from __future__ import annotations

import json
import math
import numbers
import os
from datetime import datetime, timezone

from ...errors import InvalidInput

EVENTS_ENV = "GALLERY_JOB_EVENTS"
METRIC_TEXT_LIMIT = 1000  # a text metric keeps at most this many characters


def report(progress: float | None = None, **metrics) -> bool:
    """Record the job's progress (a fraction in [0, 1]) and any metrics (numbers or strings).

    Metrics of successive calls are merged; the job shows the latest value of each.
    Returns True when the call was recorded by a running job, False outside a job.

    Raises:
        InvalidInput: ``progress`` is not a number in [0, 1], or a metric is not a
            number or a string (the message names it).
    """
    event = {"time": None, "progress": check_progress(progress), "metrics": check_metrics(metrics, "gw.report")}
    path = os.environ.get(EVENTS_ENV)
    if not path:
        return False
    event["time"] = datetime.now(timezone.utc).isoformat()
    line = (json.dumps(event) + "\n").encode()
    # One write() on an O_APPEND descriptor: lines from several threads or worker
    # processes of the same job never interleave, and nothing waits in a buffer.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return True


def check_progress(progress) -> float | None:
    """``progress`` as a float in [0, 1], or None.

    Raises:
        InvalidInput: it is not a real number in [0, 1].
    """
    if progress is None:
        return None
    if isinstance(progress, bool) or not isinstance(progress, numbers.Real) or math.isnan(progress):
        raise InvalidInput(f"gw.report: progress must be a number in [0, 1] (a fraction of the work done), "
                           f"got {progress!r}.")
    value = float(progress)
    if not 0.0 <= value <= 1.0:
        raise InvalidInput(f"gw.report: progress must be in [0, 1], got {value!r}; pass done / total, "
                           f"e.g. progress=epoch / epochs.")
    return value


def check_metrics(metrics: dict, where: str) -> dict:
    """The metrics with numpy-like scalars turned into plain ints and floats.

    NaN and infinities are kept (a diverging loss is worth reporting); Python's json
    writes and reads them back.

    Raises:
        InvalidInput: a name is not a string, or a value is not a number or a string.
    """
    clean = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{where}: metric names must be non-empty strings, got {name!r}.")
        clean[name] = check_metric(name, value, where)
    return clean


def check_metric(name: str, value, where: str):
    """One metric value as a JSON-ready int, float, bool or str.

    Raises:
        InvalidInput: the value is not a number or a string.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        # A metric is a label, not a log: cut so that a job cannot flood the views with it.
        return value if len(value) <= METRIC_TEXT_LIMIT else value[:METRIC_TEXT_LIMIT] + "…"
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):  # also numpy's float32/float64 scalars
        return float(value)
    raise InvalidInput(f"{where}: metric {name!r} must be a number or a string, got {type(value).__name__} "
                       f"{value!r:.80}; pass a plain value, e.g. {name}=float(...) or {name}=tensor.item().")
