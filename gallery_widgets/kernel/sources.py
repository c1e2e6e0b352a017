"""Local sources a user publishes: ``gw.Algorithm`` and ``gw.Model`` (SPEC §4)."""

from __future__ import annotations

from pathlib import Path

from .. import manifest as mf
from ..entities import Constraints, PackedSource
from ..errors import InvalidInput
from ..packing import collect_files, pack


class LocalSource:
    """A folder of code plus its checked manifest, ready to pack and publish."""

    kind: str = ""
    manifest_file: str = ""

    def __init__(self, manifest: dict, files: dict[str, bytes], origin: str = ""):
        self.manifest = manifest
        self.files = files
        self.origin = origin

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def constraints(self) -> Constraints:
        return Constraints.from_manifest(self.manifest)

    def pack(self) -> bytes:
        """The deterministic archive of the files with the manifest inside (same files → same bytes)."""
        return pack(self.files, self.manifest)

    def packed(self) -> PackedSource:
        """This source as it travels to a gallery: kind, manifest, archive and its sha256."""
        return PackedSource.from_bytes(self.kind, self.manifest, self.pack())

    def __repr__(self) -> str:
        return f"gw.{type(self).__name__}({self.name!r}, {len(self.files)} files)"

    @classmethod
    def _read_dir(cls, path) -> tuple[Path, dict, dict[str, bytes]]:
        root = Path(path).expanduser()
        if not root.is_dir():
            raise InvalidInput(f"{root} is not a folder; pass the folder that holds {cls.manifest_file}.")
        where = str(root / cls.manifest_file)
        data = mf.load_yaml(root / cls.manifest_file)
        files = collect_files(root)
        return root, {"where": where, "data": data}, files


class Algorithm(LocalSource):
    """Training code: a folder with ``algorithm.yaml`` (see the README for the format),
    or a notebook function (``from_function``)."""

    kind = "algorithm"
    manifest_file = "algorithm.yaml"

    @classmethod
    def from_function(cls, fn, *, name: str | None = None, hyperparameters=None, inputs=None, outputs=None,
                      requirements=None, python: str | None = None, description: str = "") -> "Algorithm":
        """A function ``fn(params, inputs, outputs)`` from a notebook cell as an algorithm.

        Its source, and the imports, constants and helper functions of the notebook it
        uses, are captured into ``train.py``. ``hyperparameters`` is the manifest's list
        form or a dict of name -> default.

        Raises:
            InvalidInput: the function's source cannot be read, it uses notebook objects
                that cannot be packed, or a manifest field is invalid.
        """
        from .capture import capture_function, hyperparameters_from

        source = capture_function(fn)
        where = f"Algorithm.from_function({fn.__name__})"
        manifest = mf.algorithm_manifest(
            {
                "name": name or fn.__name__.replace("_", "-"),
                "entrypoint": f"train:{fn.__name__}",
                "hyperparameters": hyperparameters_from(hyperparameters),
                "inputs": inputs,
                "outputs": outputs,
                "requirements": requirements,
                "python": python,
                "description": description or (fn.__doc__ or "").strip(),
            },
            where,
        )
        return cls(manifest, {"train.py": source.encode()}, origin=where)

    def code_dir(self) -> Path:
        """A folder holding this algorithm's files (its own folder, or a copy for captured functions)."""
        if self.origin and Path(self.origin).is_dir():
            return Path(self.origin)
        if getattr(self, "_materialized", None) is None:
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix=f"gw-{self.name}-"))
            for rel, data in self.files.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_bytes(data)
            self._materialized = folder
        return self._materialized

    def train(self, params=None, inputs=None, output_dir=None, *, jobs_root=None, memory_limit_mb=None,
              timeout_s=None, cluster=None):
        """Run this algorithm as a training job in its own process; returns the ``Job`` (SPEC U2).

        ``cluster``: run it on a Dask cluster (a ``distributed.Client``, a cluster object or a
        scheduler address; default ``GALLERY_DASK_SCHEDULER`` when set, else this machine).

        Raises:
            InvalidInput: a hyperparameter or input that does not fit the manifest (the field is named).
        """
        from ..paths import default_home
        from .training import start_training

        return start_training(
            code_dir=self.code_dir(), manifest=self.manifest, params=params, inputs=inputs, output_dir=output_dir,
            jobs_root=Path(jobs_root) if jobs_root else default_home() / "jobs",
            memory_limit_mb=memory_limit_mb, timeout_s=timeout_s, cluster=cluster, code_ref=self._code_ref,
        )

    def _code_ref(self):
        """(digest, fetcher): the packed archive travels with the task to the worker."""
        import hashlib

        from .cluster import InlineFetcher

        data = self.pack()
        return hashlib.sha256(data).hexdigest(), InlineFetcher(data)

    @classmethod
    def from_dir(cls, path) -> "Algorithm":
        root, raw, files = cls._read_dir(path)
        manifest = mf.algorithm_manifest(raw["data"], raw["where"])
        module = manifest["entrypoint"].split(":")[0]
        module_file = module.replace(".", "/") + ".py"
        package_init = module.replace(".", "/") + "/__init__.py"
        if module_file not in files and package_init not in files:
            raise InvalidInput(
                f"{raw['where']}: field 'entrypoint' names module {module!r}, but {root} has no "
                f"{module_file}; add it or fix the entrypoint."
            )
        return cls(manifest, files, str(root))

    @property
    def hyperparameters(self) -> list[dict]:
        return self.manifest["hyperparameters"]


class Model(LocalSource):
    """A trained model: a folder with ``model.yaml`` naming a ``loader``."""

    kind = "model"
    manifest_file = "model.yaml"

    @classmethod
    def from_dir(cls, path) -> "Model":
        root, raw, files = cls._read_dir(path)
        manifest = mf.model_manifest(raw["data"], raw["where"])
        module = manifest["loader"].split(":")[0]
        if module.replace(".", "/") + ".py" not in files and module.replace(".", "/") + "/__init__.py" not in files:
            raise InvalidInput(
                f"{raw['where']}: field 'loader' names module {module!r}, which is not in {root}."
            )
        return cls(manifest, files, str(root))
