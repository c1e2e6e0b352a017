"""Receiving a packed source (SPEC §6, T5, P4): the gallery trusts nothing it is sent.

The archive's sha256 is recomputed, the manifest checked again and compared with the
one inside the archive, the entry names checked (P4, no entry outside its folder) and
the entrypoint looked for. The files are read into memory for the security scan
(P5); nothing is written or run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import manifest as mf
from ..entities import KINDS, Constraints, PackedSource
from ..errors import InvalidInput
from ..packing import MANIFEST_ENTRY, check_names, read_limited, unpack_in_memory


@dataclass(frozen=True)
class CheckedSource:
    """An algorithm or model the gallery read and checked, ready to scan and store."""

    kind: str
    manifest: dict
    files: dict[str, bytes]  # everything but the manifest entry
    archive: bytes = field(repr=False)
    digest: str = ""
    version: str = ""  # named in scan notifications when known

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def constraints(self) -> Constraints:
        return Constraints.from_manifest(self.manifest)


def require_packed(source) -> PackedSource:
    if not isinstance(source, PackedSource):
        raise InvalidInput(
            "source must be a gw.Algorithm, gw.Model or gw.Workflow (for example gw.Algorithm.from_dir('path')), "
            f"not {type(source).__name__}."
        )
    if source.kind not in KINDS:
        raise InvalidInput(f"A packed source's kind must be one of {', '.join(KINDS)}, not {source.kind!r}.")
    if not isinstance(source.manifest, Mapping):
        raise InvalidInput(f"A packed source's manifest must be a mapping, not {type(source.manifest).__name__}.")
    return source


def check_packed(source: PackedSource) -> CheckedSource:
    """Read and check a packed algorithm or model; InvalidInput says what does not hold."""
    source = require_packed(source)
    if source.kind == "workflow":
        raise InvalidInput("A workflow step must be a packed algorithm, not a workflow.")
    digest = source.sha256
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"The packed source's sha256 must be 64 lower-case hex digits, not {digest!r}.")
    data = _read(source)
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise InvalidInput(
            f"The archive's sha256 is {actual}, not {digest} as sent: it was changed or cut short on the way. "
            "Nothing was published; publish again."
        )
    inside, files = unpack_in_memory(data)
    where = f"the manifest of {source.name or 'the packed ' + source.kind!r}"
    fields = dict(source.manifest)
    if fields.pop("kind", source.kind) != source.kind:
        raise InvalidInput(f"{where}: field 'kind' must be {source.kind!r}, as the packed source says.")
    if source.kind == "algorithm":
        manifest = mf.algorithm_manifest(fields, where)
        module = manifest["entrypoint"].split(":")[0]
        field_name = "entrypoint"
    else:
        manifest = mf.model_manifest(fields, where)
        module = manifest["loader"].split(":")[0]
        field_name = "loader"
    if manifest != dict(source.manifest) or inside != manifest:
        raise InvalidInput(
            f"{where} does not match the checked manifest inside the archive ({MANIFEST_ENTRY}); "
            "pack the source with gallery_widgets (gw.Algorithm / gw.Model) and publish again."
        )
    check_names(files)
    path = module.replace(".", "/")
    if f"{path}.py" not in files and f"{path}/__init__.py" not in files:
        raise InvalidInput(f"{where}: field {field_name!r} names module {module!r}, which is not in the archive.")
    return CheckedSource(source.kind, manifest, files, data, digest)


def _read(source: PackedSource) -> bytes:
    archive = source.archive
    if archive is None:
        raise InvalidInput(f"The packed {source.kind} {source.name!r} has no archive.")
    stream = source.open_archive()
    try:
        return read_limited(stream)
    finally:
        if not hasattr(archive, "read"):  # opened here; a stream given to us is the caller's to close
            stream.close()
