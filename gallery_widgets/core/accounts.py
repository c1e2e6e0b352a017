"""Users: My Information, roles and notifications (SPEC M3)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import desc, func, select, update

from ..entities import Notification, User
from ..errors import Conflict, GalleryError, InvalidInput, NotFound, StorageError
from ..store import convert
from ..store.schema import AssetRow, NotificationRow, SubscriptionRow, UserRow
from . import validate
from .base import UNSET, ServiceBase, refresh_search


EXPIRING_SOON_DAYS = 3  # N2: how long before its end a subscription is announced as expiring


class Accounts(ServiceBase):
    @property
    def me(self) -> User:
        """Your account (SPEC M3)."""
        with self._db.read() as s:
            return convert.user(self._me(s))

    def user(self, username: str) -> User:
        """Another user's public profile (email hidden)."""
        name = validate.username(username)
        with self._db.read() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == name))
            if row is None:
                raise NotFound(f"No user {name!r} has opened this gallery yet.")
            found = convert.user(row)
        return found if name == self.username else User(**{**found.__dict__, "email": ""})

    def update_profile(self, *, nickname=UNSET, description=UNSET, email=UNSET, avatar=UNSET, username=UNSET) -> User:
        """Change your nickname, description, email or avatar (PNG/JPEG ≤ 1 MiB); the account name cannot change.

        Raises:
            InvalidInput: a bad value, or an attempt to change the account name.
        """
        if username is not UNSET:
            raise InvalidInput("The account name cannot be changed; change your nickname instead.")
        changes = {}
        if nickname is not UNSET:
            changes["nickname"] = validate.text("nickname", nickname, max_len=64, one_line=True)
        if description is not UNSET:
            changes["description"] = validate.text("description", description, max_len=2_000)
        if email is not UNSET:
            changes["email"] = validate.email(email)
        created_avatar = None
        if avatar is not UNSET:
            if avatar is None:
                changes["avatar"] = None
            else:
                digest, created = self._ctx.artifacts.put(validate.image("avatar", avatar))
                changes["avatar"] = digest
                created_avatar = digest if created else None
        try:
            with self._db.write() as s:
                me = self._me(s)
                for key, value in changes.items():
                    setattr(me, key, value)
                if "nickname" in changes:
                    self._reindex_publisher(s, me)
                s.flush()
                return convert.user(me)
        except BaseException:
            if created_avatar:
                self._ctx.artifacts.delete(created_avatar)
            raise

    @staticmethod
    def _reindex_publisher(s, me: UserRow) -> None:
        """Keyword search reads the publisher's nickname too."""
        for asset in s.scalars(select(AssetRow).where(AssetRow.publisher_id == me.id)):
            refresh_search(asset, me)

    def avatar_image(self, username: str | None = None) -> bytes | None:
        name = validate.username(username or self.username)
        with self._db.read() as s:
            digest = s.scalar(select(UserRow.avatar).where(UserRow.username == name))
        return self._ctx.artifacts.get(digest) if digest else None

    def set_role(self, username: str, role: str) -> User:
        """Make a user an admin or a plain user (admins only); one admin always remains."""
        name = validate.username(username)
        validate.choice("role", role, ("admin", "user"))
        with self._db.write() as s:
            self._require_admin(self._me(s), "change roles")
            row = s.scalar(select(UserRow).where(UserRow.username == name))
            if row is None:
                raise NotFound(f"No user {name!r} has opened this gallery yet.")
            if row.role == "admin" and role == "user":
                admins = s.scalar(select(func.count()).where(UserRow.role == "admin"))
                if admins <= 1:
                    raise Conflict(f"{name!r} is the last admin; make someone else an admin first.")
            row.role = role
            s.flush()
            changed = convert.user(row)
        self._ctx.forget_users()  # committed: reads in this process see the new role at once
        return changed

    # -- notifications ---------------------------------------------------------------
    def notifications(self, *, unread_only: bool = False) -> tuple[Notification, ...]:
        """Your notifications, newest first: scan failures, new versions of what you subscribed to,
        whitelist changes of group assets, subscriptions about to expire (added here, once per
        expiry date; N1, N2, N4)."""
        validate.flag("unread_only", unread_only)
        self._notify_expiring_soon()
        with self._db.read() as s:
            statement = select(NotificationRow).where(NotificationRow.user_id == self._user_id)
            if unread_only:
                statement = statement.where(NotificationRow.read.is_(False))
            rows = s.scalars(statement.order_by(desc(NotificationRow.created_at), desc(NotificationRow.id)).limit(200))
            return tuple(convert.notification(r) for r in rows)

    def mark_notifications_read(self, ids=None) -> int:
        """Mark your notifications read: all of them, or those whose ids are listed; returns how many
        changed. Ids that are not yours change nothing.

        Raises:
            InvalidInput: ``ids`` is not a list of notification ids (integers).
        """
        statement = update(NotificationRow).where(NotificationRow.user_id == self._user_id,
                                                  NotificationRow.read.is_(False))
        if ids is not None:
            if not isinstance(ids, (list, tuple)) or not all(type(i) is int for i in ids):
                raise InvalidInput(f"ids must be a list of notification ids (integers), not {ids!r}.")
            statement = statement.where(NotificationRow.id.in_(list(ids)))
        with self._db.write() as s:
            return s.execute(statement.values(read=True)).rowcount

    def _notify_expiring_soon(self) -> None:
        """N2: one notification per subscription that expires within EXPIRING_SOON_DAYS and does not
        renew itself; the subject names the expiry date, so each expiry is announced once."""
        now = self._now()
        with self._db.read() as s:
            soon = s.scalars(select(SubscriptionRow).where(
                SubscriptionRow.user_id == self._user_id, SubscriptionRow.status == "active",
                SubscriptionRow.auto_renew.is_(False), SubscriptionRow.expires_at.is_not(None),
                SubscriptionRow.expires_at > now,
                SubscriptionRow.expires_at <= now + timedelta(days=EXPIRING_SOON_DAYS))).all()
            wanted = {}
            for sub in soon:
                subject = f"Your subscription to {sub.asset.title} expires on {sub.expires_at:%Y-%m-%d %H:%M} UTC"
                wanted[subject[:300]] = (
                    f"Your free subscription to {sub.asset.title} ({sub.asset.kind} {sub.asset.content_id}) ends on "
                    f"{sub.expires_at:%Y-%m-%d %H:%M} UTC; after that it can no longer be imported or run. "
                    "Subscribe again from its page to renew it."
                )
            if not wanted:
                return
            known = set(s.scalars(select(NotificationRow.subject).where(
                NotificationRow.user_id == self._user_id, NotificationRow.subject.in_(list(wanted)))))
        missing = {k: v for k, v in wanted.items() if k not in known}
        if not missing:
            return
        try:
            with self._db.write() as s:
                for subject, body in missing.items():
                    s.add(NotificationRow(user_id=self._user_id, subject=subject, body=body, created_at=now,
                                          read=False))
        except StorageError:  # a read-only gallery still lists what it has
            pass

    def _notify_new_version(self, s, asset: AssetRow, version: str, description: str, whitelist) -> None:
        """N1: tell the active subscribers of ``asset`` about its new ``version``, in the publish's own
        transaction; for a group asset only those the new version's whitelist holds (V1: nobody
        hears of a version they may not see)."""
        if asset.visibility == "private":  # nobody but the publisher sees it
            return
        statement = select(SubscriptionRow.user_id, UserRow.username).join(
            UserRow, UserRow.id == SubscriptionRow.user_id).where(
            SubscriptionRow.asset_id == asset.id, SubscriptionRow.status == "active")
        allowed = set(whitelist) if asset.visibility == "group" else None
        now = self._now()
        who = asset.publisher.nickname or asset.publisher.username
        note = f' Its notes: "{description.strip()}"' if description.strip() else ""
        body = (f"{who} published version {version} of {asset.title} ({asset.kind} {asset.content_id}), which you "
                f"subscribed to.{note} Import it from its page or from My Subscriptions.")
        for user_id, username in s.execute(statement):
            if allowed is None or username in allowed:
                s.add(NotificationRow(user_id=user_id, subject=f"New version {version} of {asset.title}"[:300],
                                      body=body, created_at=now, read=False))

    def _notify_whitelist_change(self, s, asset: AssetRow, version: str, usernames, *, added: bool) -> None:
        """N4: tell the users just added to (or removed from) a group asset's version whitelist,
        in the change's own transaction. Names without an account yet are skipped: nobody to tell."""
        if not usernames:
            return
        who = asset.publisher.nickname or asset.publisher.username
        if added:
            subject = f"You may now use {asset.title} {version}"
            body = (f"{who} whitelisted you on version {version} of {asset.title} ({asset.kind} "
                    f"{asset.content_id}). Find it in the market and subscribe to use it.")
        else:
            subject = f"{asset.title} {version} is no longer shared with you"
            body = (f"{who} removed you from the whitelist of version {version} of {asset.title} "
                    f"({asset.kind} {asset.content_id}); you can no longer import or run it.")
        now = self._now()
        for (user_id,) in s.execute(select(UserRow.id).where(UserRow.username.in_(usernames))):
            s.add(NotificationRow(user_id=user_id, subject=subject[:300], body=body, created_at=now, read=False))

    def _notify(self, user_id: int, subject: str, body: str) -> None:
        """Record a notification in its own transaction (it must outlive a failed publish)."""
        with self._db.write() as s:
            s.add(NotificationRow(user_id=user_id, subject=subject, body=body, created_at=self._now(), read=False))

    def _notify_scan_failure(self, source, failures) -> None:
        """Tell the publisher why a publish failed: in the gallery, and by email when SMTP is set up."""
        import logging
        import smtplib

        from ..notify import SmtpSettings, scan_report, send_email

        version = getattr(source, "version", "") or ""
        subject, body = scan_report(source.name, source.kind, version, failures)
        self._notify(self._user_id, subject, body)
        with self._db.read() as s:
            address = self._me(s).email
        try:
            settings = SmtpSettings.from_env()
            if settings is not None and address:
                send_email(settings, address, subject, body)
        except (OSError, smtplib.SMTPException, GalleryError) as exc:
            # The in-gallery notification is already there; a mail problem must not hide the scan result.
            logging.getLogger("gallery_widgets").warning("Could not email %s about a failed scan: %s", address, exc)
