"""Checking a version's constraints against the live environment (SPEC U5)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from ..entities import Constraints
from ..manifest import amount


def _total_memory() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def unmet(constraints: Constraints) -> list[str]:
    """Each constraint this environment does not meet, named, in plain words (empty: all met)."""
    problems: list[str] = []
    here = platform.python_version()
    if constraints.python and not SpecifierSet(constraints.python).contains(here, prereleases=True):
        problems.append(f"python {constraints.python} (this kernel runs {here})")
    for text in constraints.requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            problems.append(f"requirement {text!r} cannot be read")
            continue
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{text} (not installed; pip install '{text}')")
            continue
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"{text} (installed: {installed}; pip install '{text}')")
    for name, wanted in constraints.resources.items():
        key = name.lower()
        if key in ("cpu", "cpus"):
            have = os.cpu_count() or 1
            if amount(wanted) is not None and have < float(amount(wanted)):
                problems.append(f"{name}: {wanted} (this machine has {have})")
        elif key in ("memory", "mem", "ram"):
            need, have = amount(wanted), _total_memory()
            if need is not None and have is not None and have < need:
                problems.append(f"{name}: {wanted} (this machine has {have / 2**30:.1f} GiB)")
        elif key in ("gpu", "gpus"):
            need = amount(wanted)
            if need:
                problems.append(f"{name}: {wanted} (no GPU is available to this kernel)")
    return problems
