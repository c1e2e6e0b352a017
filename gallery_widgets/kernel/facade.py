"""The notebook's side of a gallery (SPEC §4, §6, U1-U7): local sources go out packed,
imported versions come back as objects that run in this kernel.

``KernelSide`` is mixed in before any ``GalleryService`` implementation
(``class LocalGallery(KernelSide, SqlGallery)``; a REST client the same way) and uses
only the service's public calls: ``usable_version``, ``open_artifact``,
``check_usable``, ``record_import`` and the workspace records. Verifying and
unpacking artifacts, checking constraints against this environment, running a
model's loader, jobs and workflow runs all happen here, never in the gallery.
"""

from __future__ import annotations

import hashlib
import secrets
import warnings
from pathlib import Path

from ..entities import UNSET, Constraints, PackedSource, WorkspaceWorkflow
from ..errors import InvalidInput, NotFound
from ..manifest import local_name
from ..packing import read_limited
from ..paths import default_home

CONSTRAINT_MODES = ("warn", "raise", "ignore")
MAX_IMAGE_BYTES = 1024 * 1024

_current = None  # the gallery most recently opened in this process


def remember(gallery):
    """Make ``gallery`` the one the seed's SDK calls act on when given none (SPEC §4); returns it."""
    global _current
    _current = gallery
    return gallery


def current(gallery=None):
    """``gallery`` if given, else the gallery most recently opened in this process, else the
    embedded default (``gw.open()``)."""
    if gallery is not None:
        return gallery
    if _current is not None:
        return _current
    import gallery_widgets

    return gallery_widgets.open()


def packed(source) -> PackedSource:
    """A notebook source (``gw.Algorithm``, ``gw.Model``, ``gw.Workflow``) packed for a gallery."""
    if isinstance(source, PackedSource):
        return source
    from .sources import LocalSource

    if isinstance(source, LocalSource):
        return source.packed()
    raise InvalidInput(
        "source must be a gw.Algorithm, gw.Model or gw.Workflow (for example gw.Algorithm.from_dir('path')), "
        f"not {type(source).__name__}."
    )


class KernelSide:
    """Publishing local sources and importing into this kernel, over any ``GalleryService``."""

    @property
    def kernel_home(self) -> Path:
        """This machine's folder for the artifact cache, job folders and workflow runs."""
        return default_home()

    @property
    def cache_root(self) -> Path:
        return self.kernel_home / "cache"

    @property
    def jobs_root(self) -> Path:
        return self.kernel_home / "jobs"

    @property
    def runs_root(self) -> Path:
        return self.kernel_home / "runs"

    # -- publishing local sources (SPEC P1, P2, P6) -------------------------------------------
    def publish(self, source, *, title=None, version="1.0.0", description="", summary="", visibility="private",
                group_users=(), duration=None, categories=(), agree=False):
        """Create an asset from a local source at its first version (SPEC P1).

        ``source`` is a ``gw.Algorithm``, ``gw.Model`` or ``gw.Workflow`` (packed here and
        sent with its sha256); ``title`` defaults to its name; ``visibility`` "group"
        needs ``group_users``; ``duration`` is None (unlimited), days, or
        ``gw.Duration(days, auto_renew)``; ``agree=True`` accepts the publishing
        agreement. A workflow's local algorithms are published with it (P6).

        Raises:
            AgreementRequired: ``agree`` is not True.
            InvalidInput: a bad source, title, version, visibility, whitelist, duration or category.
            Conflict: you already publish an asset of this kind with this title.
            ScanFailed: the security scan found high-severity problems (``.findings``).
        """
        return super().publish(packed(source), title=title, version=version, description=description,
                               summary=summary, visibility=visibility, group_users=group_users,
                               duration=duration, categories=categories, agree=agree)

    def add_version(self, content_id, source, version=None, description="", agree=False):
        """Add a version to your asset from a local source (SPEC P2); without ``version`` the
        patch number goes up by one. The new version starts with the previous whitelist (V5).

        Raises:
            AgreementRequired: ``agree`` is not True.
            InvalidInput: a bad version, or a source of another kind than the asset.
            Conflict: the version is not greater than every existing one.
            ScanFailed: the security scan found high-severity problems.
            PermissionDenied / NotFound: the asset is not yours / not visible to you.
        """
        return super().add_version(content_id, packed(source), version=version, description=description,
                                   agree=agree)

    def release_workflow(self, workflow, *, content_id=None, version=None, description="", title=None,
                         visibility="private", group_users=(), summary="", duration=None, categories=()):
        """Publish a ``gw.Workflow`` as a new asset (no ``content_id``) or as its next version
        (SPEC P6; ``Workflow.release_to_gallery`` calls this).

        Local algorithm steps are published too, in the same transaction: as new algorithm
        assets at 1.0.0, or, for a new version, as the next version of the algorithm the
        previous workflow version used for that step when you publish it and its code
        changed. As in the seed's SDK, releasing accepts the publishing agreement.

        Raises:
            InvalidInput: not a workflow; bad title, version, visibility or whitelist; a step
                reference that does not exist or that you may not use; a step wired to an
                unknown output.
            Conflict: a version that is not newer, or a title you already use.
            ScanFailed: a step's code failed the security scan.
        """
        source = packed(workflow)
        if source.kind != "workflow":
            raise InvalidInput(f"release_workflow needs a gw.Workflow, not {type(workflow).__name__}.")
        if content_id is None:
            return self.publish(source, title=title, version="1.0.0" if version is None else version,
                                description=description, summary=summary, visibility=visibility,
                                group_users=group_users, duration=duration, categories=categories, agree=True)
        return self.add_version(content_id, source, version=version, description=description, agree=True)

    # -- images from files (the gallery takes bytes) -----------------------------------------
    def edit_asset(self, content_id, *, cover=UNSET, **changes):
        """Edit an asset's details; only what you pass changes (SPEC P7). ``cover`` may also
        be a path to a PNG or JPEG file; see ``GalleryService.edit_asset`` for the rest.

        Raises:
            InvalidInput: any bad value (nothing is changed then).
            Conflict: you already publish an asset of this kind with the new title.
            PermissionDenied / NotFound: the asset is not yours / not visible to you.
        """
        return super().edit_asset(content_id, cover=_image_bytes("cover", cover), **changes)

    def update_profile(self, *, avatar=UNSET, **changes):
        """Change your nickname, description, email or avatar (PNG/JPEG bytes or a path, ≤ 1 MiB);
        the account name cannot change (SPEC M3).

        Raises:
            InvalidInput: a bad value, or an attempt to change the account name.
        """
        return super().update_profile(avatar=_image_bytes("avatar", avatar), **changes)

    # -- importing (SPEC U1-U7) ----------------------------------------------------------------
    def import_algorithm(self, content_id: str, version: str | None = None, *, check_constraints: str = "warn"):
        """An algorithm you subscribed to (or publish) as an object that starts training jobs (SPEC U1).

        ``version`` defaults to the latest normal version you may use. The artifact is
        verified against its sha256 before anything is read, then cached (U7); constraints
        that this kernel does not meet are reported by name (U5): a warning, or an error
        with ``check_constraints="raise"``.

        Raises:
            NotFound: no such asset or version is visible to you.
            SubscriptionRequired: subscribe, retrieve or renew first (the message says which).
            InvalidInput: the asset is not an algorithm; unmet constraints with "raise".
        """
        from .handles import ImportedAlgorithm

        mode = _constraint_mode(check_constraints)
        usable = self.usable_version(content_id, version, kind="algorithm")
        folder = self._artifact_folder(usable.digest)
        problems = _check_environment(usable.title, [usable.constraints], mode)
        self.record_import(usable.content_id, usable.version)
        return ImportedAlgorithm(gallery=self, content_id=usable.content_id, title=usable.title,
                                 version=usable.version, manifest=dict(usable.manifest), folder=folder,
                                 code_visible=usable.code_visible, unmet=problems, jobs_root=self.jobs_root,
                                 digest=usable.digest)

    def import_model(self, content_id: str, version: str | None = None, *, check_constraints: str = "warn"):
        """A model you subscribed to, as the predictor its declared loader builds (SPEC U6).

        The loader runs in this kernel, after the artifact was verified (U7).

        Raises:
            NotFound / SubscriptionRequired / InvalidInput: as for ``import_algorithm``; also
                InvalidInput when the loader returns something without ``predict``.
        """
        from .handles import importing_from, load_module

        mode = _constraint_mode(check_constraints)
        usable = self.usable_version(content_id, version, kind="model")
        _check_environment(usable.title, [usable.constraints], mode)
        folder = self._artifact_folder(usable.digest)
        module_name, function_name = usable.manifest["loader"].split(":")
        unique = f"gallery_{usable.content_id}_{usable.version.replace('.', '_')}_{module_name.replace('.', '_')}"
        with importing_from(folder):  # the loader sees its own sibling modules, not another artifact's
            module = load_module(folder, module_name, unique)
            predictor = getattr(module, function_name)(folder)
        if not callable(getattr(predictor, "predict", None)):
            raise InvalidInput(
                f"The loader of {usable.title!r} returned {type(predictor).__name__}, which has no predict().")
        self.record_import(usable.content_id, usable.version)
        return predictor

    def import_workflow(self, content_id: str, version: str | None = None, name: str | None = None,
                        region: str = "local", workspace: str = "default", *, check_constraints: str = "warn"):
        """Import a workflow you subscribed to into a workspace, ready to run (SPEC U3).

        ``name`` defaults to ``workflow_`` + 4 hex digits; ``region`` is where it runs
        (``local``: this machine). The constraints of its steps' algorithm versions that
        this kernel does not meet are reported by name (U5), as for ``import_algorithm``.

        Raises:
            NotFound / SubscriptionRequired: as for ``import_algorithm``.
            InvalidInput: a bad name, region or workspace; unmet constraints with
                ``check_constraints="raise"``.
            Conflict: the workspace already has a workflow of that name.
        """
        mode = _constraint_mode(check_constraints)
        regions = self.regions()
        if region not in regions:
            raise InvalidInput(f"region must be one of {', '.join(map(repr, regions))}, not {region!r}.")
        workspace = local_name("workspace", workspace)
        name = local_name("name", name if name is not None else f"workflow_{secrets.token_hex(2)}")
        usable = self.usable_version(content_id, version, kind="workflow")
        _check_environment(usable.title, [usable.constraints, *(s.constraints for s in usable.steps)], mode)
        record = self.add_workspace_workflow(usable.content_id, usable.version, name, workspace=workspace,
                                             region=region)
        return self._workflow_handle(record)

    def workflows(self, workspace: str = "default") -> list:
        """The workflows imported into ``workspace``, newest first (SPEC U3).

        Raises:
            InvalidInput: a bad workspace name.
        """
        return [self._workflow_handle(record) for record in self.workspace_workflows(workspace)]

    def workflow(self, name: str, workspace: str = "default"):
        """One imported workflow by name (SPEC U3).

        Raises:
            InvalidInput: a bad name or workspace.
            NotFound: the workspace has no workflow of that name.
        """
        return self._workflow_handle(self.workspace_workflow(name, workspace))

    # -- what the handles are built from ----------------------------------------------------------
    def _workflow_handle(self, record: WorkspaceWorkflow):
        from .handles import ImportedAlgorithm, ImportedWorkflow

        usable = record.version
        steps = {step.reference: step for step in usable.steps}

        def load_step(reference: str, step_name: str) -> ImportedAlgorithm:
            """A step's algorithm version: the workflow's subscription stands in for one to the
            step, never for being allowed to use it (checked here and at every ``train``)."""
            self.check_step_usable(usable.content_id, usable.version, reference, step_name)
            step = steps.get(reference)
            if step is None:  # a manifest edited in the kernel: only the published steps run
                raise NotFound(f"Step {step_name!r} of the workflow {usable.title!r} is not available to you; ask "
                               "the workflow's publisher.")
            return ImportedAlgorithm(gallery=self, content_id=step.content_id, title=step.title,
                                     version=step.version, manifest=dict(step.manifest),
                                     folder=self._artifact_folder(step.digest), code_visible=step.code_visible,
                                     unmet=[], jobs_root=self.jobs_root, digest=step.digest,
                                     via_workflow=(usable.content_id, usable.version, step_name))

        return ImportedWorkflow(gallery=self, content_id=usable.content_id, title=usable.title,
                                version=usable.version, name=record.name, region=record.region,
                                workspace=record.workspace, manifest=dict(usable.manifest),
                                runs_root=self.runs_root, load_step=load_step)

    def _artifact_folder(self, digest: str) -> Path:
        """The verified, unpacked folder of an artifact in this machine's cache (SPEC U7)."""
        from . import extract

        return extract.fetch(digest, self.cache_root, self._verified_archive)

    def _worker_fetcher(self, digest: str):
        """How a Dask worker gets the archive of ``digest`` (the worker verifies it): here it
        travels with the task; an embedded gallery whose artifact folder the workers share
        overrides this (``FolderFetcher``), a served gallery can fetch it over REST."""
        from .cluster import InlineFetcher

        return InlineFetcher(self._verified_archive(digest))

    def _verified_archive(self, digest: str) -> bytes:
        """The archive of ``digest`` from the gallery, checked against its sha256 before
        anything else reads it (SPEC U7, T5)."""
        from ..artifacts import TamperedArtifact

        stream = self.open_artifact(digest)
        try:
            data = read_limited(stream)
        finally:
            stream.close()
        if hashlib.sha256(data).hexdigest() != digest:
            raise TamperedArtifact(
                f"Artifact {digest[:12]}… does not match its sha256 digest: it was changed after publishing "
                "and will not be used. Ask the publisher to publish it again."
            )
        return data


def _constraint_mode(mode) -> str:
    if mode not in CONSTRAINT_MODES:
        raise InvalidInput(
            f"check_constraints must be one of {', '.join(map(repr, CONSTRAINT_MODES))}, not {mode!r}.")
    return mode


def _check_environment(title: str, constraints: list[Constraints], mode: str) -> list[str]:
    """What this kernel does not meet (SPEC U5): warned about, raised, or ignored per ``mode``."""
    from .environment import unmet

    problems: list[str] = []
    if mode != "ignore":
        for each in constraints:
            problems += [p for p in unmet(each) if p not in problems]
    if problems:
        message = f"{title!r} needs what this kernel does not have: " + "; ".join(problems)
        if mode == "raise":
            raise InvalidInput(message)
        warnings.warn(message, stacklevel=3)
    return problems


def _image_bytes(name: str, value):
    """A path to an image, read here (the gallery takes the bytes); anything else as it is."""
    if not isinstance(value, (str, Path)):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise InvalidInput(f"{name}: no image file at {str(path)!r}.")
    size = path.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise InvalidInput(f"{name} is {size:,} bytes; the limit is 1 MiB. Use a smaller image.")
    return path.read_bytes()


__all__ = ["KernelSide", "packed", "current", "remember"]
