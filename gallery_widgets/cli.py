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


def cmd_upgrade(args) -> int:
    from .store.engine import Database, head_revision
    from .store.migrate import upgrade

    database = Database(_url(args))
    before = database.current_revision()
    upgrade(database)
    print(f"{database.url_for_humans}: schema {before or 'empty'} -> {head_revision()}")
    database.dispose()
    return 0


def cmd_info(args) -> int:
    from .store.engine import Database, head_revision

    database = Database(_url(args))
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
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except GalleryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
