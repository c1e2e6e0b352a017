"""Personal access tokens of a team server (SPEC T1, T2).

A token is 32 random bytes from ``secrets`` (prefixed ``gw_`` so it is recognisable in a
leak scanner); the gallery keeps only its sha256, so it is shown once, when created.
Tokens are named per user, may expire, and are revoked rather than deleted, so that a
revoked token is told apart from an unknown one (the server's 401 says which).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..entities import AccessToken
from ..errors import Conflict, InvalidInput, NotFound, Unauthenticated
from ..store.schema import TokenRow, UserRow
from ..store.search import insert_ignore
from . import validate
from .base import Clock, Context, ServiceBase, utc_now

TOKEN_PREFIX = "gw_"
MAX_EXPIRES_DAYS = 3650
MAX_TOKENS_PER_USER = 100


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token_name(value) -> str:
    return validate.text("token name", value, max_len=64, required=True, one_line=True)


def _expires_days(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPIRES_DAYS:
        raise InvalidInput(f"expires_days must be None (never) or a whole number of days from 1 to "
                           f"{MAX_EXPIRES_DAYS}, not {value!r}.")
    return value


def _info(row: TokenRow, secret: str | None = None) -> AccessToken:
    return AccessToken(name=row.name, created_at=row.created_at, expires_at=row.expires_at,
                       revoked_at=row.revoked_at, secret=secret)


def _create(session, user_id: int, name: str, expires_days: int | None, now) -> AccessToken:
    name, expires_days = _token_name(name), _expires_days(expires_days)
    existing = session.scalar(select(TokenRow).where(TokenRow.user_id == user_id, TokenRow.name == name))
    if existing is not None:
        state = "revoked" if existing.revoked_at else "in use"
        raise Conflict(f"You already have a token named {name!r} ({state}); choose another name.")
    count = session.scalar(select(func.count()).select_from(TokenRow).where(TokenRow.user_id == user_id))
    if count >= MAX_TOKENS_PER_USER:
        raise Conflict(f"You have {count} tokens, the most one user may hold; revoke and forget old ones first.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TokenRow(user_id=user_id, name=name, token_hash=hash_token(secret), created_at=now,
                   expires_at=now + timedelta(days=expires_days) if expires_days else None)
    session.add(row)
    session.flush()
    return _info(row, secret)


class Tokens(ServiceBase):
    """The signed-in user's own tokens (SPEC T1)."""

    def create_token(self, name: str, expires_days: int | None = None) -> AccessToken:
        """Create a personal access token for yourself.

        Args:
            name: 1-64 characters, unique among your tokens.
            expires_days: None (never expires) or 1 to 3650 days.

        Returns:
            ``AccessToken`` whose ``secret`` is the token: it is shown this once.

        Raises:
            InvalidInput: a bad name or expiry.
            Conflict: you already have a token of that name.
        """
        with self._db.write() as s:
            self._me(s)
            return _create(s, self._user_id, name, expires_days, self._now())

    def tokens(self) -> tuple[AccessToken, ...]:
        """Your tokens, newest first, without their secrets (revoked ones too)."""
        with self._db.read() as s:
            rows = s.scalars(select(TokenRow).where(TokenRow.user_id == self._user_id)
                             .order_by(TokenRow.created_at.desc(), TokenRow.id.desc()))
            return tuple(_info(r) for r in rows)

    def revoke_token(self, name: str) -> AccessToken:
        """Revoke one of your tokens: it stops working at once. Idempotent.

        Raises:
            InvalidInput: a bad name.
            NotFound: you have no token of that name.
        """
        name = _token_name(name)
        with self._db.write() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.user_id == self._user_id, TokenRow.name == name))
            if row is None:
                raise NotFound(f"You have no token named {name!r}; g.tokens() lists yours.")
            if row.revoked_at is None:
                row.revoked_at = self._now()
            s.flush()
            return _info(row)


# -- the server host's side (the CLI) and the server's authentication ---------------------------

@dataclass(frozen=True)
class Identity:
    """Who a request acts as."""

    user_id: int
    username: str


def ensure_account(context: Context, username: str, *, admin: bool = False, clock: Clock = utc_now) -> Identity:
    """The account ``username``, created as a plain user when missing (on a server the first
    account does not become admin, SPEC T2); ``admin=True`` makes it an admin."""
    username = validate.username(username, "user")
    with context.db.write() as s:
        other = s.scalar(select(UserRow).where(func.lower(UserRow.username) == username.lower()))
        if other is not None and other.username != username:
            raise Conflict(f"This gallery already has the account {other.username!r}; user names ignore letter case.")
        if other is None:
            insert_ignore(s, UserRow.__table__, {"username": username, "nickname": username, "email": "",
                                                 "description": "", "role": "user", "created_at": clock()})
        row = s.scalar(select(UserRow).where(UserRow.username == username))
        if admin and row.role != "admin":
            row.role = "admin"
        return Identity(row.id, row.username)


def set_role(context: Context, username: str, role: str) -> str:
    """The host's ``gallery-widgets set-role``: no admin needed (T2); one admin always remains."""
    username = validate.username(username, "user")
    validate.choice("role", role, ("admin", "user"))
    with context.db.write() as s:
        row = s.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise NotFound(f"No user {username!r} in this gallery; `gallery-widgets token create {username}` "
                           "creates the account.")
        if row.role == "admin" and role == "user":
            if s.scalar(select(func.count()).select_from(UserRow).where(UserRow.role == "admin")) <= 1:
                raise Conflict(f"{username!r} is the last admin; make someone else an admin first.")
        row.role = role
        return row.role


def create_token_for(context: Context, identity: Identity, name: str, expires_days: int | None = None,
                     clock: Clock = utc_now) -> AccessToken:
    with context.db.write() as s:
        return _create(s, identity.user_id, name, expires_days, clock())


def tokens_of(context: Context, username: str | None = None) -> list[tuple[str, AccessToken]]:
    """Every token (or one user's), as (username, token) without secrets."""
    with context.db.read() as s:
        statement = select(UserRow.username, TokenRow).join(UserRow, UserRow.id == TokenRow.user_id)
        if username is not None:
            statement = statement.where(UserRow.username == validate.username(username, "user"))
        rows = s.execute(statement.order_by(UserRow.username, TokenRow.created_at))
        return [(user, _info(row)) for user, row in rows]


def revoke_token_of(context: Context, username: str, name: str, clock: Clock = utc_now) -> AccessToken:
    username, name = validate.username(username, "user"), _token_name(name)
    with context.db.write() as s:
        row = s.scalar(select(TokenRow).join(UserRow, UserRow.id == TokenRow.user_id)
                       .where(UserRow.username == username, TokenRow.name == name))
        if row is None:
            raise NotFound(f"{username!r} has no token named {name!r}; `gallery-widgets token list` shows them.")
        if row.revoked_at is None:
            row.revoked_at = clock()
        return _info(row)


def resolve_token(context: Context, token: str, clock: Clock = utc_now) -> Identity:
    """The user a bearer token stands for.

    Raises:
        Unauthenticated: unknown, expired or revoked (the message says which and what to do).
    """
    return check_token(context, token, clock)[0]


def check_token(context: Context, token: str, clock: Clock = utc_now) -> tuple[Identity, datetime | None]:
    """``resolve_token`` plus the token's expiry (None: never), for a server that keeps checked
    tokens for a few seconds and must still refuse one the moment it expires.

    Raises:
        Unauthenticated: unknown, expired or revoked (the message says which and what to do).
    """
    if not isinstance(token, str) or not token or len(token) > 200:
        raise Unauthenticated("The token is malformed; send 'Authorization: Bearer <token>' with a gallery token.")
    with context.db.read() as s:
        found = s.execute(select(TokenRow.name, TokenRow.expires_at, TokenRow.revoked_at, UserRow.id, UserRow.username)
                          .join(UserRow, UserRow.id == TokenRow.user_id)
                          .where(TokenRow.token_hash == hash_token(token))).first()
    if found is None:
        raise Unauthenticated("This token is not known to the gallery; create one with `gallery-widgets token create "
                              "USER` on the server host or g.create_token(name).")
    name, expires_at, revoked_at, user_id, username = found
    if revoked_at is not None:
        raise Unauthenticated(f"The token {name!r} was revoked on {revoked_at:%Y-%m-%d %H:%M} UTC; create a new one.")
    if expires_at is not None and expires_at <= clock():
        raise Unauthenticated(f"The token {name!r} expired on {expires_at:%Y-%m-%d %H:%M} UTC; create a new one.")
    return Identity(user_id, username), expires_at
