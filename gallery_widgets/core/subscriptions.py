"""Subscriptions with free-duration quotas (SPEC SUB1-SUB6, U4)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Integer, bindparam, desc, or_, select, update

from ..entities import Constraints, Subscription, SubscriptionList
from ..errors import AgreementRequired, Conflict, NotFound, SubscriptionRequired
from ..store import convert
from ..store.schema import NEWEST_FIRST, AcceptanceRow, AssetRow, SubscriptionRow, UserRow, VersionRow
from ..store.search import insert_ignore
from . import agreements, validate
from .base import ServiceBase

SUBSCRIPTION_FILTERS = ("active", "expired", "cancelled")


# Built once (every subscribe, import and use check reads it): the asset is a bound parameter.
_VERSIONS_OF = select(VersionRow).where(VersionRow.asset_id == bindparam("asset_id", type_=Integer)) \
    .order_by(*NEWEST_FIRST)


class Subscriptions(ServiceBase):
    # -- versions a user may use ----------------------------------------------
    def _usable_versions(self, s, me: UserRow, asset: AssetRow) -> list[VersionRow]:
        """Versions newest first that this user may subscribe to or import (V5)."""
        versions = s.scalars(_VERSIONS_OF, {"asset_id": asset.id}).all()
        if asset.publisher_id == me.id or self._is_admin(me):
            return list(versions)
        return [v for v in versions if v.status == "normal" and self._version_open_to(me, asset, v)]

    def _pick_version(self, s, me, asset, version) -> VersionRow:
        usable = self._usable_versions(s, me, asset)
        if version is None:
            normal = [v for v in usable if v.status == "normal"]
            if not (normal or usable):
                raise NotFound(f"{asset.title!r} has no version you may use; ask its publisher to whitelist you.")
            return (normal or usable)[0]
        validate.parse_version(version)
        for row in usable:
            if row.version == version.strip():
                return row
        available = ", ".join(v.version for v in usable) or "none"
        raise NotFound(f"{asset.title!r} has no version {version!r} that you may use (available: {available}).")

    def constraints(self, content_id: str, version: str | None = None) -> Constraints:
        """What a version needs (Python, packages, resources); the latest usable by default.

        Raises:
            NotFound: no such asset or version is visible to you.
        """
        with self._db.read() as s:
            me = self._me(s)
            asset = self._visible_asset(s, me, content_id)
            return convert.constraints(self._pick_version(s, me, asset, version).constraints)

    # -- subscribe / cancel / retrieve ---------------------------------------------
    def subscribe(
        self, content_id: str, accept_constraints: bool = False, accept_agreements: bool = False
    ) -> Subscription:
        """Subscribe to an asset (SPEC SUB1-SUB3, SUB5).

        The version constraints must be accepted (``accept_constraints=True``) when the
        latest usable version has any; for an asset that is not official the Data
        Security and Privacy Risk notice and the Service Agreement too
        (``accept_agreements=True``). Subscribing again returns the existing
        subscription; subscribing again after it expired renews it for one period.

        Raises:
            NotFound: no such asset is visible to you.
            AgreementRequired: something above was not accepted; ``.missing`` lists it.
            Conflict: you publish this asset, it is discontinued, or you cancelled your
                subscription (retrieve it instead).
        """
        validate.flag("accept_constraints", accept_constraints)
        validate.flag("accept_agreements", accept_agreements)
        with self._db.write() as s:
            now = self._now()
            me = self._me(s)
            asset = self._visible_asset(s, me, content_id, for_update=True)
            existing = self._subscription_row(s, me, asset)
            state = convert.subscription_state(existing, now)
            if state == "active":
                return convert.subscription(existing, now)
            if state == "cancelled":
                raise Conflict(
                    f"You cancelled your subscription to {asset.title!r}. Call "
                    f"g.retrieve_subscription({asset.content_id!r}) to use it again under its original quota."
                )
            if asset.publisher_id == me.id:
                raise Conflict(f"You publish {asset.title!r}: you can use it without subscribing.")
            if asset.status != "released":
                raise Conflict(f"{asset.title!r} is discontinued: new subscriptions are not accepted.")
            version = self._pick_version(s, me, asset, None)
            self._require_acceptance(s, me, asset, version, accept_constraints, accept_agreements, now)
            period = asset.duration_days
            expires_at = now + timedelta(days=period) if period else None
            if existing is not None:  # expired: a renewal starts a new period from now
                existing.subscribed_at, existing.expires_at = now, expires_at
                existing.period_days, existing.auto_renew = period, asset.auto_renew
                s.flush()
                return convert.subscription(existing, now)
            inserted = insert_ignore(
                s,
                SubscriptionRow.__table__,
                {
                    "user_id": me.id,
                    "asset_id": asset.id,
                    "subscribed_at": now,
                    "expires_at": expires_at,
                    "period_days": period,
                    "auto_renew": asset.auto_renew if period else False,
                    "status": "active",
                },
            )
            if inserted:
                self._count_subscriptions(s, asset, +1)
            return convert.subscription(self._subscription_row(s, me, asset), now)

    def _require_acceptance(self, s, me, asset, version, accept_constraints, accept_agreements, now) -> None:
        constraints = convert.constraints(version.constraints)
        missing: list[str] = []
        needs: list[str] = []
        if not constraints.empty and not accept_constraints:
            missing.append(agreements.CONSTRAINTS_ID)
            needs.append(f"the constraints of version {version.version} ({_describe(constraints)})")
        if not asset.official and not accept_agreements:
            missing.extend(a.id for a in agreements.SUBSCRIBE_AGREEMENTS)
            needs.append(" and ".join(f"the {a.title}" for a in agreements.SUBSCRIBE_AGREEMENTS))
        if missing:
            flags = []
            if agreements.CONSTRAINTS_ID in missing:
                flags.append("accept_constraints=True")
            if len(missing) > (agreements.CONSTRAINTS_ID in missing):
                flags.append("accept_agreements=True")
            raise AgreementRequired(
                f"Subscribing to {asset.title!r} needs you to accept {'; and '.join(needs)}. Read them, then call "
                f"g.subscribe({asset.content_id!r}, {', '.join(flags)}).",
                missing=tuple(missing),
            )
        accepted = []
        if not constraints.empty:
            accepted.append((agreements.CONSTRAINTS_ID, version.version))
        if not asset.official:
            accepted.extend((a.id, a.version) for a in agreements.SUBSCRIBE_AGREEMENTS)
        for agreement_id, agreement_version in accepted:
            s.add(
                AcceptanceRow(
                    user_id=me.id,
                    agreement=agreement_id,
                    agreement_version=agreement_version,
                    accepted_at=now,
                    content_id=asset.content_id,
                )
            )

    @staticmethod
    def _count_subscriptions(s, asset: AssetRow, delta: int) -> None:
        s.execute(
            update(AssetRow).where(AssetRow.id == asset.id).values(subscriptions=AssetRow.subscriptions + delta)
        )

    def _own_subscription(self, s, me, content_id) -> SubscriptionRow:
        asset = self._visible_asset(s, me, content_id, for_update=True)
        row = self._subscription_row(s, me, asset)
        if row is None:
            raise NotFound(f"You have no subscription to {asset.title!r}; subscribe with g.subscribe({content_id!r}).")
        return row

    def cancel_subscription(self, content_id: str) -> Subscription:
        """Cancel: the asset can no longer be imported or run until retrieved (SPEC SUB4).

        Cancelling a cancelled subscription changes nothing.

        Raises:
            NotFound: no such asset is visible to you, or you have no subscription to it.
        """
        with self._db.write() as s:
            me = self._me(s)
            row = self._own_subscription(s, me, content_id)
            if row.status == "active":
                row.status = "cancelled"
                self._count_subscriptions(s, row.asset, -1)
                s.flush()
            return convert.subscription(row, self._now())

    def retrieve_subscription(self, content_id: str) -> Subscription:
        """Retrieve a cancelled subscription under its original quota: the expiry does not move (SPEC SUB4).

        Raises:
            NotFound: no such asset is visible to you, or you have no subscription to it.
        """
        with self._db.write() as s:
            me = self._me(s)
            row = self._own_subscription(s, me, content_id)
            if row.status == "cancelled":
                row.status = "active"
                self._count_subscriptions(s, row.asset, +1)
                s.flush()
            return convert.subscription(row, self._now())

    def subscriptions(self, kind: str | None = None, status: str | None = None, query: str | None = None):
        """My Subscriptions (SPEC M2), newest first, as a list with ``.to_dataframe()``.

        ``status`` is None (all), "active" (usable now), "expired" or "cancelled";
        ``query`` keeps those whose title or publisher contains it. Only assets you may
        still see are listed (a group asset whose whitelist no longer holds you is not).
        """
        kind = validate.optional_kind(kind)
        if status is not None:
            validate.choice("status", status, SUBSCRIPTION_FILTERS)
        query = validate.text("query", query, max_len=validate.MAX_QUERY, one_line=True)
        with self._db.read() as s:
            now = self._now()
            me = self._me(s)
            statement = (
                select(
                    SubscriptionRow.status, SubscriptionRow.subscribed_at, SubscriptionRow.expires_at,
                    SubscriptionRow.auto_renew, SubscriptionRow.period_days, AssetRow.content_id, AssetRow.kind,
                    AssetRow.title, AssetRow.status.label("asset_status"), UserRow.username.label("publisher"),
                )
                .select_from(SubscriptionRow)
                .join(AssetRow, AssetRow.id == SubscriptionRow.asset_id)
                .join(UserRow, UserRow.id == AssetRow.publisher_id)
                # V1: an asset that was hidden from you since (taken off its whitelist) leaves
                # your list too; the row stays, and shows again if you are whitelisted again.
                .where(SubscriptionRow.user_id == me.id, self._visible_condition(me))
                .order_by(desc(SubscriptionRow.subscribed_at), desc(SubscriptionRow.id))
            )
            if kind:
                statement = statement.where(AssetRow.kind == kind)
            if query:
                pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                statement = statement.where(
                    or_(
                        AssetRow.title.ilike(pattern, escape="\\"),
                        UserRow.username.ilike(pattern, escape="\\"),
                        UserRow.nickname.ilike(pattern, escape="\\"),
                    )
                )
            # Plain columns, not ORM rows: a long list costs no asset objects or category reads.
            rows = s.execute(statement).all()
            items = [(convert.subscription_state(r, now), convert.subscription_from_columns(r, now)) for r in rows]
        return SubscriptionList(sub for state, sub in items if status is None or state == status)

    def _require_usable(self, s, me: UserRow, asset: AssetRow) -> None:
        """SPEC U4: the publisher, or an active unexpired subscription; else say what to do."""
        if asset.publisher_id == me.id or self._is_admin(me):
            return
        row = self._subscription_row(s, me, asset)
        state = convert.subscription_state(row, self._now())
        cid = asset.content_id
        if state is None:
            raise SubscriptionRequired(f"Subscribe to {asset.title!r} first: g.subscribe({cid!r}).")
        if state == "cancelled":
            raise SubscriptionRequired(
                f"Your subscription to {asset.title!r} is cancelled; retrieve it with g.retrieve_subscription({cid!r})."
            )
        if state == "expired":
            raise SubscriptionRequired(
                f"Your subscription to {asset.title!r} expired; renew it with g.subscribe({cid!r}, ...)."
            )


def _describe(constraints: Constraints) -> str:
    parts = []
    if constraints.python:
        parts.append(f"Python {constraints.python}")
    if constraints.requirements:
        parts.append("packages " + ", ".join(constraints.requirements))
    if constraints.resources:
        parts.append("resources " + ", ".join(f"{k}={v}" for k, v in constraints.resources.items()))
    return "; ".join(parts)
