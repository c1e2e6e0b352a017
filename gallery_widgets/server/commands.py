"""``gallery-widgets serve``, ``token …`` and ``set-role``: the team server host's commands
(SPEC T1, T2, T6). Run them on the host: they act on the database directly, with no
credential, so whoever runs them is the gallery's operator."""

from __future__ import annotations

import argparse
import sys


def _url(args) -> str:
    from ..cli import _url as default_url

    return default_url(args)


def _context(args):
    from ..core.sql_gallery import sql_context
    from ..gallery import artifact_folder

    url = _url(args)
    return sql_context(url, artifact_folder(url, getattr(args, "artifacts", None)))


def cmd_serve(args) -> int:
    import asyncio
    import signal

    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    from .standalone import make_app
    from .state import sql_state

    state = sql_state(_url(args), args.artifacts, max_body=args.max_body, max_upload=args.max_upload,
                      threads=args.threads, token_cache_seconds=args.token_cache)
    state.context  # noqa: B018  (open the database now: a bad URL or an old schema stops here, clearly)
    from .operations import configure_logging, drain

    configure_logging()
    hub_auth, base_url = None, args.base_url
    if args.jupyterhub:  # a JupyterHub managed service (SPEC T7): see server/hub.py
        from .hub import hub_auth as make_hub_auth

        hub_auth = make_hub_auth()
        base_url = base_url or hub_auth.base_url
    app = make_app(state, base_url=base_url or "/", hub_auth=hub_auth)

    async def run() -> None:
        sockets = bind_sockets(args.port, args.host)
        server = HTTPServer(app, max_body_size=args.max_upload + 1024 * 1024, xheaders=args.xheaders)
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        prefix = "/" + (base_url or "").strip("/") if (base_url or "").strip("/") else ""
        print(f"gallery-widgets serve: listening on http://{args.host}:{port}{prefix}/gallery/api/v1 "
              f"(gallery {state.context.db.url_for_humans})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        server.stop()  # no new connections; the requests in flight finish (up to --drain seconds)
        await drain(app, args.drain)
        await server.close_all_connections()

    try:
        asyncio.run(run())
    finally:
        state.close()
    return 0


def cmd_token_create(args) -> int:
    from ..core.tokens import create_token_for, ensure_account

    context = _context(args)
    identity = ensure_account(context, args.user, admin=args.admin)
    token = create_token_for(context, identity, args.name, args.expires)
    expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
    print(f"token {token.name!r} for {identity.username} ({expiry}{', admin' if args.admin else ''}); "
          "it is shown only now:", file=sys.stderr)
    print(token.secret)
    return 0


def cmd_token_list(args) -> int:
    from ..core.tokens import tokens_of

    rows = tokens_of(_context(args), args.user)
    for username, token in rows:
        state = (f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else
                 f"expires {token.expires_at:%Y-%m-%d}" if token.expires_at else "no expiry")
        print(f"{username}\t{token.name}\tcreated {token.created_at:%Y-%m-%d}\t{state}")
    if not rows:
        print("no tokens", file=sys.stderr)
    return 0


def cmd_token_revoke(args) -> int:
    from ..core.tokens import revoke_token_of

    token = revoke_token_of(_context(args), args.user, args.name)
    print(f"revoked {args.user}'s token {token.name!r}")
    return 0


def cmd_set_role(args) -> int:
    from ..core.tokens import set_role

    print(f"{args.user} is now {set_role(_context(args), args.user, args.role)}")
    return 0


def _bounded(number, what: str, low, high, outside: str):
    """An argparse type: ``number(value)`` within [low, high], or a message that says why not."""

    def parse(value: str):
        try:
            parsed = number(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not {what}") from None
        if not low <= parsed <= high:
            raise argparse.ArgumentTypeError(outside)
        return parsed

    return parse


_days = _bounded(int, "a whole number of days", 1, 3650, "a token expires after 1 to 3650 days")
_threads = _bounded(int, "a whole number of threads", 1, 256, "use 1 to 256 worker threads")
_seconds = _bounded(float, "a number of seconds", 0, 300, "the token cache keeps a token 0 to 300 seconds")


def _megabytes(value: str) -> int:
    try:
        size = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of MiB") from None
    if not size > 0:
        raise argparse.ArgumentTypeError("the limit must be positive")
    return int(size * 1024 * 1024)


def add_commands(sub) -> None:
    from .state import THREADS, TOKEN_CACHE_SECONDS

    def database_options(parser, artifacts: bool = True):
        parser.add_argument("--url", help="SQLAlchemy URL (postgresql://… for a team); default: the embedded "
                                          "gallery under GALLERY_HOME")
        if artifacts:
            parser.add_argument("--artifacts", help="the artifact folder or fsspec URL (s3://bucket/prefix); "
                                                    "default: as gw.open() finds it")

    serve = sub.add_parser("serve", help="serve the gallery's REST API to a team (tokens required)")
    database_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    serve.add_argument("--threads", type=_threads, default=THREADS,
                       help=f"worker threads for gallery calls (default {THREADS}); the PostgreSQL pool keeps one "
                            "connection per thread unless GALLERY_DB_POOL_SIZE says otherwise")
    serve.add_argument("--token-cache", type=_seconds, default=TOKEN_CACHE_SECONDS, metavar="SECONDS",
                       help=f"trust a checked token this long before asking the database again (default "
                            f"{TOKEN_CACHE_SECONDS:g}; 0: every request): a token revoked elsewhere is refused by this "
                            "process at most this long after")
    serve.add_argument("--max-body", type=_megabytes, default=8 * 1024 * 1024, metavar="MIB",
                       help="largest JSON request in MiB (default 8)")
    serve.add_argument("--max-upload", type=_megabytes, default=1024 * 1024 * 1024, metavar="MIB",
                       help="largest archive upload in MiB (default 1024)")
    serve.add_argument("--xheaders", action="store_true", help="trust X-Forwarded-For/-Proto (behind a proxy)")
    serve.add_argument("--base-url", help="serve under this path prefix (default /; under JupyterHub: the "
                                          "service's prefix)")
    serve.add_argument("--jupyterhub", action="store_true",
                       help="run as a JupyterHub managed service: accept Hub tokens and Hub OAuth sessions too")
    serve.add_argument("--drain", type=float, default=30.0, metavar="SECONDS",
                       help="on SIGTERM, wait this long for requests in flight to finish (default 30)")
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="personal access tokens: create, list, revoke")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token for USER (creating the account) and print it once")
    create.add_argument("user")
    create.add_argument("--name", default="cli", help="the token's name (default 'cli')")
    create.add_argument("--admin", action="store_true", help="make USER an admin")
    create.add_argument("--expires", type=_days, metavar="DAYS", help="days until it expires (default: never)")
    database_options(create)
    create.set_defaults(func=cmd_token_create)
    listing = token_sub.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--user", help="only this user's")
    database_options(listing)
    listing.set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke USER's token NAME")
    revoke.add_argument("user")
    revoke.add_argument("name")
    database_options(revoke)
    revoke.set_defaults(func=cmd_token_revoke)

    role = sub.add_parser("set-role", help="make USER an admin or a plain user (on the server host)")
    role.add_argument("user")
    role.add_argument("role", choices=("admin", "user"))
    database_options(role)
    role.set_defaults(func=cmd_set_role)
