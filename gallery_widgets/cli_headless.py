"""Headless use for pipelines and CI: ``gallery-widgets publish | search | subscriptions |
subscribe | import``, over any gallery ``gw.open`` reaches (``--url``, else ``GALLERY_URL`` +
``GALLERY_TOKEN``, else the embedded gallery).

Each command prints a short human summary, or with ``--json`` one JSON document on standard
output (an error too: ``{"error": {"code", "message", "details"}}``), and exits with a code
that tells the failures apart (``EXIT_CODES``, documented in the README)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from datetime import date, datetime
from enum import Enum
from pathlib import Path

from .errors import (
    AgreementRequired,
    Conflict,
    GalleryError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ScanFailed,
    SchemaOutdated,
    StorageError,
    SubscriptionRequired,
)

# Checked in this order (the first class that matches wins); 2 is also argparse's usage error.
EXIT_CODES: tuple[tuple[type, int, str], ...] = (
    (InvalidInput, 2, "bad_input"),
    (NotFound, 3, "not_found"),
    (PermissionDenied, 4, "permission_denied"),
    (SubscriptionRequired, 5, "subscription_required"),
    (AgreementRequired, 6, "agreement_required"),
    (ScanFailed, 7, "scan_failed"),
    (Conflict, 8, "conflict"),
    (StorageError, 9, "unavailable"),
    (SchemaOutdated, 9, "unavailable"),
)
EXIT_OTHER = 1  # any other gallery error (an expired credential on a server, say)
MANIFESTS = {"algorithm.yaml": "algorithm", "model.yaml": "model"}


def exit_code(error: GalleryError) -> tuple[int, str]:
    for cls, code, name in EXIT_CODES:
        if isinstance(error, cls):
            return code, name
    return EXIT_OTHER, getattr(error, "code", None) or "error"


# -- output -------------------------------------------------------------------------------------
def jsonable(value):
    """Frozen entities → JSON-ready data (datetimes as ISO 8601, tuples as lists)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return value


def _emit(args, data, human: str) -> int:
    if args.json:
        json.dump(jsonable(data), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(human)
    return 0


def _fail(args, error: GalleryError) -> int:
    code, name = exit_code(error)
    details = {}
    if isinstance(error, AgreementRequired):
        details["missing"] = list(error.missing)
    if isinstance(error, ScanFailed):
        details["findings"] = jsonable(error.findings)
    if args.json:
        json.dump({"error": {"code": name, "message": str(error), "details": details}}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    print(f"error ({name}): {error}", file=sys.stderr)
    return code


# -- the gallery -------------------------------------------------------------------------------
def _open(args):
    """The gallery to act on; on a server the user comes from the token, never from ``--user``."""
    import gallery_widgets as gw

    options = {}
    if args.user:
        options["user"] = args.user
    if args.artifacts:
        options["artifacts"] = args.artifacts
    return gw.open(args.url, **options)


def _source(folder: str):
    import gallery_widgets as gw

    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput(f"{folder} is not a folder: give the folder of an algorithm (algorithm.yaml) or a model "
                           "(model.yaml).")
    kinds = [kind for name, kind in MANIFESTS.items() if (root / name).is_file()]
    if len(kinds) != 1:
        raise InvalidInput(
            f"{folder} must hold exactly one of algorithm.yaml or model.yaml (found {len(kinds)}); a workflow is "
            "built and published from Python (gw.Workflow).")
    return (gw.Algorithm if kinds[0] == "algorithm" else gw.Model).from_dir(root)


def _duration(args):
    if args.duration is None:
        return None
    from .entities import Duration

    return Duration(args.duration, auto_renew=args.auto_renew)


# -- commands ----------------------------------------------------------------------------------
def cmd_publish(args) -> int:
    g = _open(args)
    source = _source(args.folder)
    if args.content_id:
        if any(v is not None for v in (args.title, args.summary, args.duration, args.group_users)) or args.category \
                or args.visibility:
            raise InvalidInput("--content-id adds a version: only --version, --description and --agree apply (edit "
                               "the asset itself from Python or the widgets).")
        asset = g.add_version(args.content_id, source, version=args.version, description=args.description or "",
                              agree=args.agree)
    else:
        if not args.title:
            raise InvalidInput("--title is required for a new asset (or give --content-id to add a version).")
        asset = g.publish(source, title=args.title, version=args.version or "1.0.0",
                          description=args.description or "", summary=args.summary or "",
                          visibility=args.visibility or "private",
                          group_users=tuple(args.group_users.split(",")) if args.group_users else (),
                          duration=_duration(args), categories=tuple(args.category or ()), agree=args.agree)
    latest = asset.versions[0] if asset.versions else None  # newest first
    version = latest.version if latest else "?"
    findings = len(latest.findings) if latest else 0
    return _emit(args, asset, f"published {asset.kind} {asset.title!r} {version} as {asset.content_id} "
                              f"({asset.visibility}; {findings} scan finding(s))")


def cmd_search(args) -> int:
    g = _open(args)
    page = g.search(kind=args.kind, query=args.query or "", tab=args.tab, categories=tuple(args.category or ()),
                    sort=args.sort, page=args.page, page_size=args.page_size)
    lines = [f"{page.total} {args.kind}(s); page {page.page}"]
    lines += [f"  {a.content_id}  {a.title}  by {a.publisher}  ({a.subscriptions} subscriptions)" for a in page.items]
    return _emit(args, page, "\n".join(lines))


def cmd_subscriptions(args) -> int:
    g = _open(args)
    subs = g.subscriptions(kind=args.kind, status=args.status, query=args.query)
    lines = [f"{len(subs)} subscription(s)"]
    lines += [f"  {s.content_id}  {s.kind}  {s.title}  by {s.publisher}  {s.status}"
              + (f", {s.remaining_days} day(s) left" if s.remaining_days is not None else "") for s in subs]
    return _emit(args, list(subs), "\n".join(lines))


def cmd_subscribe(args) -> int:
    g = _open(args)
    sub = g.subscribe(args.content_id, accept_constraints=args.accept_constraints,
                      accept_agreements=args.accept_agreements)
    return _emit(args, sub, f"subscribed to {sub.title!r} ({sub.content_id}): {sub.status}")


def cmd_import(args) -> int:
    """Fetch, verify and record an import without running anything: an algorithm or model
    lands in this machine's cache (and, with ``--to``, its files in a folder when its code is
    open); a workflow is added to a workspace."""
    g = _open(args)
    kind = g.asset(args.content_id).kind if args.kind == "auto" else args.kind
    if kind == "workflow":
        handle = g.import_workflow(args.content_id, args.version, name=args.name, workspace=args.workspace)
        data = {"content_id": handle.content_id, "kind": kind, "title": handle.title, "version": handle.version,
                "name": handle.name, "workspace": handle.workspace}
        return _emit(args, data, f"imported workflow {handle.title!r} {handle.version} as {handle.name!r} in "
                                 f"workspace {handle.workspace!r}")
    if args.name:
        raise InvalidInput("--name applies to a workflow only.")
    usable = g.usable_version(args.content_id, args.version, kind=kind)
    if args.to and not usable.code_visible:
        raise PermissionDenied(f"The code of {usable.title!r} is not open: the gallery hands out no source of it, so "
                               "--to cannot copy its files. Import it in a notebook to use it.")
    folder = g._artifact_folder(usable.digest)  # verified against its sha256 before unpacking (U7)
    g.record_import(usable.content_id, usable.version)
    data = {"content_id": usable.content_id, "kind": kind, "title": usable.title, "version": usable.version,
            "digest": usable.digest}
    if args.to:
        target = Path(args.to)
        if target.exists() and any(target.iterdir()):
            raise InvalidInput(f"--to {args.to} is not an empty folder; give a new or empty one.")
        shutil.copytree(folder, target, dirs_exist_ok=True)
        data["folder"] = str(target.resolve())
    return _emit(args, data, f"imported {kind} {usable.title!r} {usable.version} ({usable.digest[:12]}…)"
                             + (f" into {data['folder']}" if "folder" in data else ""))


# -- registration ------------------------------------------------------------------------------
def _common(parser) -> None:
    parser.add_argument("--url", default=None,
                        help="the gallery: http(s)://server (token from GALLERY_TOKEN), sqlite:///… or "
                             "postgresql://…; default GALLERY_URL, else the embedded gallery")
    parser.add_argument("--user", help="act as this user (a database URL only; on a server the token decides)")
    parser.add_argument("--artifacts", help="the artifact folder or fsspec URL (a database URL only)")
    parser.add_argument("--json", action="store_true", help="print one JSON document (errors too)")


def add_commands(sub) -> None:
    """Register the headless commands on ``gallery-widgets``' subparsers."""
    p = sub.add_parser("publish", help="publish an algorithm or model folder (or a new version with --content-id)")
    p.add_argument("folder", help="a folder with algorithm.yaml or model.yaml")
    p.add_argument("--title")
    p.add_argument("--summary")
    p.add_argument("--description", help="the version's description")
    p.add_argument("--version", help="x.y.z (default 1.0.0; for a new version: the patch number + 1)")
    p.add_argument("--visibility", choices=("private", "group", "public"))
    p.add_argument("--group-users", help="comma-separated whitelist for --visibility group")
    p.add_argument("--duration", type=int, metavar="DAYS", help="subscriptions last this many days")
    p.add_argument("--auto-renew", action="store_true")
    p.add_argument("--category", action="append", help="a taxonomy path; repeat for several")
    p.add_argument("--content-id", help="add a version to this asset of yours instead of creating one")
    p.add_argument("--agree", action="store_true", help="accept the publishing agreement (required)")
    _common(p)
    p.set_defaults(func=cmd_publish)

    s = sub.add_parser("search", help="search the market")
    s.add_argument("query", nargs="?", default="")
    s.add_argument("--kind", default="algorithm", choices=("algorithm", "model", "workflow"))
    s.add_argument("--tab", default="all", choices=("all", "featured", "official", "favorites"))
    s.add_argument("--category", action="append")
    s.add_argument("--sort", default="subscriptions")
    s.add_argument("--page", type=int, default=1)
    s.add_argument("--page-size", type=int, default=20)
    _common(s)
    s.set_defaults(func=cmd_search)

    m = sub.add_parser("subscriptions", help="list My Subscriptions")
    m.add_argument("--kind", choices=("algorithm", "model", "workflow"))
    m.add_argument("--status", choices=("active", "expired", "cancelled"))
    m.add_argument("--query")
    _common(m)
    m.set_defaults(func=cmd_subscriptions)

    b = sub.add_parser("subscribe", help="subscribe to an asset")
    b.add_argument("content_id")
    b.add_argument("--accept-constraints", action="store_true")
    b.add_argument("--accept-agreements", action="store_true",
                   help="accept the Data Security and Privacy Risk notice and the Service Agreement")
    _common(b)
    b.set_defaults(func=cmd_subscribe)

    i = sub.add_parser("import", help="fetch, verify and record an import (runs nothing)")
    i.add_argument("content_id")
    i.add_argument("--version")
    i.add_argument("--kind", default="auto", choices=("auto", "algorithm", "model", "workflow"))
    i.add_argument("--to", help="copy the files here (open code only; algorithm or model)")
    i.add_argument("--name", help="a workflow's name in the workspace")
    i.add_argument("--workspace", default="default")
    _common(i)
    i.set_defaults(func=cmd_import)


HEADLESS = ("publish", "search", "subscriptions", "subscribe", "import")


def run(args) -> int:
    """Run a headless command, mapping a gallery error to its exit code."""
    try:
        return args.func(args)
    except GalleryError as error:
        return _fail(args, error)
    except OSError as error:  # a folder that cannot be read or written locally (--to, the source)
        return _fail(args, StorageError(f"{error.strerror or error}: {getattr(error, 'filename', '') or ''}"))

