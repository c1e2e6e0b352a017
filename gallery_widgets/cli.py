"""``gallery-widgets`` (or ``python -m gallery_widgets``): operator commands."""

from __future__ import annotations

import argparse
import sys

from .errors import GalleryError


def _url(args) -> str:
    if args.url:
        return args.url
    from .paths import default_home

    return f"sqlite:///{default_home() / 'gallery.db'}"


def _existing_database(url: str):
    """The database at ``url``; a SQLite file must already exist (these commands never create one)."""
    from .errors import InvalidInput
    from .store.engine import Database, normalise_url, sqlite_path

    path = sqlite_path(normalise_url(url))
    if path is not None and not path.is_file():
        raise InvalidInput(
            f"There is no gallery database at {path}: check --url (or GALLERY_HOME). gw.open() or "
            "`gallery-widgets demo` creates a new gallery."
        )
    return Database(url)


def cmd_upgrade(args) -> int:
    from .store.engine import head_revision
    from .store.migrate import upgrade

    database = _existing_database(_url(args))
    before = database.current_revision()
    upgrade(database)
    print(f"{database.url_for_humans}: schema {before or 'empty'} -> {head_revision()}")
    database.dispose()
    return 0


def cmd_info(args) -> int:
    from .store.engine import head_revision

    database = _existing_database(_url(args))
    print(f"database: {database.url_for_humans}")
    print(f"schema:   {database.current_revision() or 'empty'} (this gallery_widgets needs {head_revision()})")
    database.dispose()
    return 0


def cmd_demo(args) -> int:
    from .demo import load_demo

    result = load_demo(args.url)
    created, existing = len(result["created"]), len(result["existing"])
    print(f"{result['url']}: demo catalogue of {created + existing} assets by {len(result['users'])} users "
          f"({created} added, {existing} already there)")
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Open it as the demo's data scientist: GALLERY_USER={result['demo_user']} (bash .ci/lab does).")
    return 0


def _size(count: int) -> str:
    size = float(count)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            return f"{count:,} bytes" if count < 1024 else f"{size:,.1f} {unit}"
    return f"{count:,} bytes"


def cmd_gc(args) -> int:
    from datetime import datetime, timezone

    from .artifacts import open_store
    from .gallery import artifact_folder
    from .store.gc import collect_garbage

    url = _url(args)
    database = _existing_database(url)
    try:
        database.ensure_schema()
        store = open_store(artifact_folder(url, args.artifacts))
        result = collect_garbage(database, store, apply=args.apply, older_than_s=args.older_than * 3600)
    finally:
        database.dispose()
    verb = "removed" if args.apply else "would remove"
    print(f"gallery {database.url_for_humans}, artifacts {store.location}")
    for digest in result.restored:
        print(f"restored blob {digest[:12]}… that an interrupted gc had moved aside")
    for item in result.blobs + result.temp_files:
        when = datetime.fromtimestamp(item.mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        what = "blob" if item.digest else "temp"
        print(f"  {what}  {store.relative(item)}  {_size(item.size)}  last written {when}")
    print(f"{verb} {len(result.blobs)} unreferenced blob(s) and {len(result.temp_files)} stale temp file(s): "
          f"{_size(result.bytes)} ({result.bytes:,} bytes)")
    if result.young_blobs:
        print(f"kept {len(result.young_blobs)} unreferenced blob(s) written in the last {args.older_than:g} h: a "
              "publish may still be using them")
    if not args.apply and (result.blobs or result.temp_files):
        print("This was a dry run; run again with --apply to delete them.")
    return 0


def _hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of hours") from None
    if not hours >= 0:
        raise argparse.ArgumentTypeError("the grace period cannot be negative")
    return hours


def _add_gc_command(sub) -> None:
    gc = sub.add_parser("gc", help="list (or with --apply delete) artifact blobs no row refers to and upload temp "
                                   "files left by crashes; a dry run by default")
    gc.add_argument("--url", help="SQLAlchemy URL; default: the embedded gallery under GALLERY_HOME")
    gc.add_argument("--artifacts", help="the artifact folder or fsspec URL (s3://bucket/prefix); default: as "
                                        "gw.open() finds it")
    gc.add_argument("--apply", action="store_true", help="delete what is listed (default: only list it)")
    gc.add_argument("--older-than", type=_hours, default=1.0, metavar="HOURS",
                    help="only what was last written longer ago than this (default 1): a publish in flight "
                         "keeps its blob")
    gc.set_defaults(func=cmd_gc)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gallery-widgets", description="Operate a gallery_widgets gallery.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("upgrade", cmd_upgrade, "bring the gallery database to this version's schema (back it up first)"),
        ("info", cmd_info, "show the database and its schema revision"),
        ("demo", cmd_demo, "fill the gallery with the demo catalogue: users, assets, activity (safe to repeat)"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--url", help="SQLAlchemy URL; default: the embedded gallery under GALLERY_HOME")
        command.set_defaults(func=func)
    _add_gc_command(sub)
    from .server.commands import add_commands

    add_commands(sub)
    from . import cli_headless  # publish, search, subscriptions, subscribe, import (pipelines and CI)

    cli_headless.add_commands(sub)
    args = parser.parse_args(argv)
    if args.command in cli_headless.HEADLESS:
        return cli_headless.run(args)
    try:
        return args.func(args)
    except GalleryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
