"""Publishing, editing and retiring assets (SPEC P1-P4, P7-P10, V3-V6, M1)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import secrets

from sqlalchemy import delete, desc, func, select
from sqlalchemy.exc import IntegrityError

from ..entities import Asset, AssetSummary, Duration, WhitelistChange
from ..errors import AgreementRequired, Conflict, InvalidInput, NotFound, ScanFailed
from ..entities import PackedSource
from ..store import convert
from ..store.schema import (
    DIGEST_COLUMNS,
    NEWEST_FIRST,
    AcceptanceRow,
    AssetCategoryRow,
    AssetRow,
    AssetTextRow,
    DependencyRow,
    SubscriptionRow,
    VersionRow,
    WhitelistRow,
)
from . import agreements, validate
from .base import UNSET, refresh_search
from .packed import CheckedSource, check_packed, require_packed
from .taxonomy import validate_categories
from .workflow_access import WIDER, WorkflowAccess


def new_content_id() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


class Publishing(WorkflowAccess):
    # -- create ------------------------------------------------------------
    def publish(
        self,
        source: PackedSource,
        *,
        title: str | None = None,
        version: str = "1.0.0",
        description: str = "",
        summary: str = "",
        visibility: str = "private",
        group_users=(),
        duration: Duration | int | None = None,
        categories=(),
        agree: bool = False,
    ) -> Asset:
        """Create an asset from a packed source at its first version (SPEC P1); see
        ``GalleryService.publish``.

        Raises:
            AgreementRequired: ``agree`` is not True.
            InvalidInput: a bad source, title, version, visibility, whitelist, duration or category.
            Conflict: you already publish a {kind} with this title.
            ScanFailed: the security scan found high-severity problems.
        """
        source = require_packed(source)
        if source.kind == "workflow":
            self._require_publishing_agreement(agree)
            return self._release_packed_workflow(source, version=version, description=description, title=title,
                                         visibility=visibility, group_users=group_users, summary=summary,
                                         duration=duration, categories=categories)
        title = validate.title(source.name if title is None else title)
        number = validate.parse_version(version)
        description = validate.text("description", description, max_len=validate.MAX_VERSION_DESCRIPTION)
        summary = validate.text("summary", summary, max_len=validate.MAX_SUMMARY, one_line=True)
        visibility = validate.visibility(visibility)
        whitelist = validate.usernames(group_users)
        if visibility == "group" and not whitelist:
            raise InvalidInput("visibility 'group' needs at least one user in group_users (SPEC V4).")
        duration = validate.duration(duration)
        categories = validate_categories(categories)
        self._require_publishing_agreement(agree)
        return self._store_version(
            check_packed(source),
            number,
            description,
            whitelist,
            new_asset=dict(
                title=title,
                summary=summary,
                visibility=visibility,
                duration=duration,
                categories=categories,
            ),
        )

    def add_version(
        self,
        content_id: str,
        source: PackedSource,
        version: str | None = None,
        description: str = "",
        agree: bool = False,
    ) -> Asset:
        """Add a version to your asset (SPEC P2). Without ``version`` the patch number goes up by one.

        The new version starts with the whitelist of the version before it (V5).

        Raises:
            AgreementRequired: ``agree`` is not True.
            InvalidInput: a bad version, or a source of another kind than the asset.
            Conflict: the version is not greater than every existing one.
            ScanFailed: the security scan found high-severity problems.
            PermissionDenied / NotFound: the asset is not yours / not visible to you.
        """
        source = require_packed(source)
        if source.kind == "workflow":
            self._require_publishing_agreement(agree)
            return self._release_packed_workflow(source, content_id=content_id, version=version, description=description)
        number = validate.parse_version(version) if version is not None else None
        description = validate.text("description", description, max_len=validate.MAX_VERSION_DESCRIPTION)
        validate.content_id(content_id)
        self._require_publishing_agreement(agree)
        return self._store_version(check_packed(source), number, description, None, content_id=content_id)

    def _require_publishing_agreement(self, agree) -> None:
        if agree is not True:
            a = agreements.PUBLISHING_AGREEMENT
            raise AgreementRequired(
                f"Publishing needs the {a.title} (version {a.version}) accepted: pass agree=True after reading it "
                "(gw.agreement_text('publishing-agreement')).",
                missing=(a.id,),
            )

    @contextlib.contextmanager
    def _new_artifacts(self):
        """Yield ``put(data) -> digest``; on failure, remove the blobs it added that nothing uses."""
        created: list[str] = []

        def put(data: bytes) -> str:
            digest, new = self._ctx.artifacts.put(data)
            if new:
                created.append(digest)
            return digest

        try:
            yield put
        except BaseException:
            for digest in created:
                if not self._digest_in_use(digest):
                    self._ctx.artifacts.delete(digest)
            raise

    def _store_version(self, source: CheckedSource, number, description, whitelist, *, new_asset=None,
                       content_id=None):
        """Write the artifact, then the rows in one transaction; undo the artifact if that fails."""
        findings = self._scan(source)
        with self._new_artifacts() as put:
            digest = put(source.archive)
            with self._db.write() as s:
                me = self._me(s)
                asset, _ = self._write_version(
                    s, me, source, len(source.archive), digest, number, description, whitelist,
                    new_asset=new_asset, content_id=content_id, findings=findings,
                )
                return self._details(s, me, asset)

    def _write_version(self, s, me, source, size, digest, number, description, whitelist, *, new_asset=None,
                       content_id=None, findings=(), dependencies=()) -> tuple[AssetRow, VersionRow]:
        """Create the asset (``new_asset``) or find it (``content_id``), then add the version row."""
        validate.plain_data("manifest", source.manifest)
        now = self._now()
        if new_asset is not None:
            asset = self._new_asset_row(s, me, source.kind, now, **new_asset)
        else:
            asset = self._owned_asset(s, me, content_id, action="add versions")
            if asset.kind != source.kind:
                raise InvalidInput(
                    f"{asset.title!r} is a{'n' if asset.kind[0] in 'aeiou' else ''} {asset.kind}; "
                    f"a {source.kind} cannot be a version of it."
                )
            previous = self._latest_version(s, asset)
            if number is None:
                number = (previous.major, previous.minor, previous.patch + 1)
            elif number <= (previous.major, previous.minor, previous.patch):
                raise Conflict(
                    f"Version {validate.format_version(number)} is not greater than {previous.version}, the "
                    f"newest version of {asset.title!r}; use {previous.major}.{previous.minor}.{previous.patch + 1} "
                    "or higher."
                )
            whitelist = tuple(w.username for w in previous.whitelist)
            asset.updated_at = now
        constraints = source.constraints
        row = VersionRow(
            asset_id=asset.id,
            version=validate.format_version(number),
            major=number[0],
            minor=number[1],
            patch=number[2],
            description=description,
            status="normal",
            published_at=now,
            digest=digest,
            size=size,
            manifest=source.manifest,
            constraints={
                "python": constraints.python,
                "requirements": list(constraints.requirements),
                "resources": dict(constraints.resources),
            },
            findings=_scan_records(findings),
        )
        row.whitelist = [WhitelistRow(username=u) for u in whitelist]
        s.add(row)
        s.flush()
        recorded = set()
        for step, algorithm_version_id in dependencies:
            if algorithm_version_id not in recorded:  # several steps may run one algorithm version
                recorded.add(algorithm_version_id)
                s.add(DependencyRow(workflow_version_id=row.id, algorithm_version_id=algorithm_version_id, step=step))
        refresh_search(asset, asset.publisher)
        if new_asset is None:  # N1: subscribers hear of a new version of what they use
            self._notify_new_version(s, asset, row.version, description, whitelist)
        s.add(AcceptanceRow(
            user_id=me.id,
            agreement=agreements.PUBLISHING_AGREEMENT.id,
            agreement_version=agreements.PUBLISHING_AGREEMENT.version,
            accepted_at=now,
            content_id=asset.content_id,
        ))
        s.flush()
        return asset, row

    def _scan(self, source):
        """SPEC P5: scan the source; high findings fail the publish and notify the publisher.

        Returns the ``ScanReport`` that ``_write_version(findings=...)`` stores on the version.
        """
        from ..scan import scan_source

        report = scan_source(source.files)
        findings = report.findings
        failures = report.blocking
        if failures:
            self._notify_scan_failure(source, failures)
            listed = "\n".join(f"  {f}" for f in failures)
            raise ScanFailed(
                f"The security scan of {source.name!r} found {len(failures)} high-severity problem(s); nothing was "
                f"published. Fix them and publish again:\n{listed}",
                findings=findings,
            )
        return report

    def _new_asset_row(self, s, me, kind, now, *, title, summary, visibility, duration, categories) -> AssetRow:
        self._require_unique_title(s, me, kind, title)
        asset = AssetRow(
            content_id=new_content_id(),
            kind=kind,
            title=title,
            summary=summary,
            publisher_id=me.id,
            visibility=visibility,
            status="released",
            duration_days=duration.days if duration else None,
            auto_renew=duration.auto_renew if duration else False,
            published_at=now,
            updated_at=now,
            official=False,
            featured=False,
            code_open=False,
            license="Unknown",
            views=0,
            favorites=0,
            subscriptions=0,
        )
        asset.categories = [AssetCategoryRow(category=c, position=i) for i, c in enumerate(categories)]
        asset.texts = AssetTextRow(description="", description_html="")
        asset.publisher = me
        s.add(asset)
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"You already publish a {kind} titled {title!r}; pick another title.") from None
        return asset

    @staticmethod
    def _title_taken(s, publisher_id: int, kind: str, title: str, except_id: int | None = None) -> str | None:
        """The publisher's existing title of this kind that equals ``title`` ignoring case and
        Unicode compatibility forms ('Ｃhurn' and 'churn'), if any. The database's unique index
        on lower(title) backs up the exact case; this catches what SQL's lower() cannot."""
        key = validate.name_key(title)
        query = select(AssetRow.id, AssetRow.title).where(AssetRow.publisher_id == publisher_id, AssetRow.kind == kind)
        for asset_id, existing in s.execute(query):
            if asset_id != except_id and validate.name_key(existing) == key:
                return existing
        return None

    def _require_unique_title(self, s, me, kind, title) -> None:
        existing = self._title_taken(s, me.id, kind, title)
        if existing is not None:
            raise Conflict(_title_clash_message(kind, title, existing))

    @staticmethod
    def _latest_version(s, asset: AssetRow) -> VersionRow:
        return s.scalar(
            select(VersionRow)
            .where(VersionRow.asset_id == asset.id)
            .order_by(*NEWEST_FIRST)
            .limit(1)
        )

    def _digest_in_use(self, digest: str) -> bool:
        with self._db.read() as s:
            return any(s.scalar(select(select(column).where(column == digest).exists())) for column in DIGEST_COLUMNS)

    # -- edit (P7) ---------------------------------------------------------------
    def edit_asset(
        self,
        content_id: str,
        *,
        title=UNSET,
        summary=UNSET,
        description=UNSET,
        cover=UNSET,
        categories=UNSET,
        paper=UNSET,
        code_open=UNSET,
        license=UNSET,
    ) -> Asset:
        """Edit an asset's details; only what you pass changes (SPEC P7).

        ``description`` is Markdown (rendered to sanitized HTML); ``cover`` PNG/JPEG
        bytes or a path (≤ 1 MiB, 360×200 recommended) or None to remove it;
        ``categories`` from the taxonomy; ``paper`` ``gw.Paper(title, url)`` or None;
        ``license`` one of ``gw.LICENSES``.

        Raises:
            InvalidInput: any bad value (nothing is changed then).
            Conflict: you already publish an asset of this kind with the new title.
            PermissionDenied / NotFound: the asset is not yours / not visible to you.
        """
        changes: dict = {}
        if title is not UNSET:
            changes["title"] = validate.title(title)
        if summary is not UNSET:
            changes["summary"] = validate.text("summary", summary, max_len=validate.MAX_SUMMARY, one_line=True)
        new_description = None
        if description is not UNSET:
            new_description = validate.text("description", description, max_len=validate.MAX_DESCRIPTION)
        if categories is not UNSET:
            new_categories = validate_categories(categories)
        if paper is not UNSET:
            new_paper = validate.paper(paper)
            changes["paper_title"] = new_paper.title if new_paper else None
            changes["paper_url"] = new_paper.url if new_paper else None
        if code_open is not UNSET:
            changes["code_open"] = validate.flag("code_open", code_open)
        if license is not UNSET:
            changes["license"] = validate.license_name(license)
        new_cover = None
        if cover is not UNSET and cover is not None:
            new_cover = validate.image("cover", cover)
        cover_digest, cover_created = (None, False)
        if new_cover is not None:
            cover_digest, cover_created = self._ctx.artifacts.put(new_cover)
        try:
            with self._db.write() as s:
                me = self._me(s)
                asset = self._owned_asset(s, me, content_id, action="edit it")
                publisher = asset.publisher
                if "title" in changes:
                    self._require_unique_title_for(s, asset, changes["title"])
                for key, value in changes.items():
                    setattr(asset, key, value)
                if cover is not UNSET:
                    asset.cover = cover_digest
                if categories is not UNSET:
                    asset.categories = [AssetCategoryRow(category=c, position=i) for i, c in enumerate(new_categories)]
                if new_description is not None:
                    from .markdown import render_markdown  # markdown-it loads only when a description changes

                    asset.texts.description = new_description
                    asset.texts.description_html = render_markdown(new_description)
                asset.updated_at = self._now()
                try:
                    refresh_search(asset, publisher)
                except IntegrityError:
                    raise Conflict(f"You already publish a {asset.kind} titled {asset.title!r}; pick another title.") from None
                return self._details(s, me, asset)
        except BaseException:
            if cover_created and not self._digest_in_use(cover_digest):
                self._ctx.artifacts.delete(cover_digest)
            raise

    def _require_unique_title_for(self, s, asset: AssetRow, title: str) -> None:
        existing = self._title_taken(s, asset.publisher_id, asset.kind, title, except_id=asset.id)
        if existing is not None:
            raise Conflict(_title_clash_message(asset.kind, title, existing))

    # -- restrictions (V3-V5) ------------------------------------------------------
    def set_restrictions(self, content_id: str, *, visibility=UNSET, group_users=UNSET, duration=UNSET) -> Asset:
        """Change who may see the asset and its free-duration quota.

        Visibility only widens: private → group → public (V3); "group" needs at
        least one whitelisted user (V4). ``group_users`` replaces the whitelist of
        every version (V5). A new ``duration`` applies to new subscriptions only.

        Raises:
            InvalidInput: narrowing visibility, an empty whitelist for "group", bad values.
            PermissionDenied / NotFound: the asset is not yours / not visible to you; or, for
                a workflow, the new audience would reach users who may not use one of its
                steps (docs/rules.md, "Workflows and access").
        """
        new_visibility = validate.visibility(visibility) if visibility is not UNSET else None
        users = validate.usernames(group_users) if group_users is not UNSET else None
        new_duration = validate.duration(duration) if duration is not UNSET else UNSET
        with self._db.write() as s:
            me = self._me(s)
            asset = self._owned_asset(s, me, content_id, action="change its restrictions")
            if new_visibility is not None and new_visibility != asset.visibility:
                if asset.visibility == "public":
                    raise InvalidInput(f"{asset.title!r} is public; a public asset's visibility cannot change.")
                if WIDER[new_visibility] < WIDER[asset.visibility]:
                    raise InvalidInput(
                        f"Visibility can only be widened (private → group → public); {asset.title!r} is "
                        f"{asset.visibility} and cannot become {new_visibility}."
                    )
            versions = s.scalars(select(VersionRow).where(VersionRow.asset_id == asset.id)).all()
            if users is not None:
                for version in versions:
                    version.whitelist = [WhitelistRow(username=u) for u in users]
            target = new_visibility or asset.visibility
            if target == "group":
                has_users = bool(users) if users is not None else any(v.whitelist for v in versions)
                if not has_users:
                    raise InvalidInput("visibility 'group' needs at least one user in group_users (SPEC V4).")
            widened = (new_visibility is not None and new_visibility != asset.visibility) or (
                users is not None and target == "group")
            asset.visibility = target
            if asset.kind == "workflow" and widened:
                self._require_workflow_within_steps(s, asset, versions)
            refresh_search(asset, asset.publisher)
            if new_duration is not UNSET:
                asset.duration_days = new_duration.days if new_duration else None
                asset.auto_renew = new_duration.auto_renew if new_duration else False
            asset.updated_at = self._now()
            s.flush()
            return self._details(s, me, asset)

    def add_whitelist_users(self, content_id: str, version_num: str, user_groups) -> WhitelistChange:
        """Whitelist users on one version (V5); for a workflow, also on the algorithm
        versions it depends on that you publish (V6, the others are reported as skipped).

        Raises:
            InvalidInput: a bad version or user name, or no user.
            PermissionDenied / NotFound: the asset is not yours / not visible to you; or, for a
                group workflow, a user who may not use a skipped step's algorithm version
                (another publisher's: ask them to whitelist the user first).
        """
        return self._change_whitelist(content_id, version_num, user_groups, add=True)

    def delete_whitelist_users(self, content_id: str, version_num: str, user_groups) -> WhitelistChange:
        """Remove users from one version's whitelist (V5, V6); a group asset keeps at least one (V4)."""
        return self._change_whitelist(content_id, version_num, user_groups, add=False)

    def _change_whitelist(self, content_id, version_num, user_groups, *, add: bool) -> WhitelistChange:
        validate.parse_version(version_num)
        users = validate.usernames(user_groups, "user_groups")
        if not users:
            raise InvalidInput("user_groups must name at least one user.")
        with self._db.write() as s:
            me = self._me(s)
            asset = self._owned_asset(s, me, content_id, action="change its whitelist")
            version = self._version_row(s, asset, version_num)
            changed = _apply_whitelist(version, users, add)
            if not add and asset.visibility == "group":
                self._require_someone_whitelisted(s, asset)
            if asset.visibility == "group":
                self._notify_whitelist_change(s, asset, version.version, changed, added=add)
            refresh_search(asset, asset.publisher)
            propagated, skipped = [], []
            if asset.kind == "workflow":
                for algorithm_version, algorithm in self._workflow_dependencies(s, version):
                    ref = f"{algorithm.content_id}@{algorithm_version.version}"
                    if algorithm.publisher_id == asset.publisher_id:
                        _apply_whitelist(algorithm_version, users, add)
                        if not add and algorithm.visibility == "group":
                            self._require_someone_whitelisted(s, algorithm)
                        refresh_search(algorithm, algorithm.publisher)
                        propagated.append(ref)
                    else:
                        skipped.append(ref)
            if add and asset.kind == "workflow" and asset.visibility == "group":
                self._require_workflow_within_steps(s, asset, [version])
            s.flush()
            return WhitelistChange(asset.content_id, version.version, users, tuple(propagated), tuple(skipped))

    def _require_workflow_within_steps(self, s, asset: AssetRow, versions) -> None:
        """After a workflow's audience widened: each of ``versions`` still fits inside its
        steps (your own step algorithms are widened along; docs/rules.md)."""
        s.flush()
        steps_of: dict[int, list] = {}
        for version_id, step, algorithm, algorithm_version in self._step_rows(s, [v.id for v in versions]):
            steps_of.setdefault(version_id, []).append((step, algorithm, algorithm_version))
        for version in versions:
            self._fit_to_steps(
                s, title=asset.title, publisher_id=asset.publisher_id, visibility=asset.visibility,
                whitelist=[w.username for w in version.whitelist], steps=steps_of.get(version.id, []))

    @staticmethod
    def _workflow_dependencies(s, version: VersionRow):
        return s.execute(
            select(VersionRow, AssetRow)
            .join(DependencyRow, DependencyRow.algorithm_version_id == VersionRow.id)
            .join(AssetRow, AssetRow.id == VersionRow.asset_id)
            .where(DependencyRow.workflow_version_id == version.id)
        ).all()

    @staticmethod
    def _require_someone_whitelisted(s, asset: AssetRow) -> None:
        s.flush()
        count = s.scalar(
            select(func.count())
            .select_from(WhitelistRow)
            .join(VersionRow, VersionRow.id == WhitelistRow.version_id)
            .where(VersionRow.asset_id == asset.id)
        )
        if not count:
            raise InvalidInput(
                f"{asset.title!r} is visible to a group: at least one user must stay whitelisted (SPEC V4). "
                "Widen it to public instead, or whitelist someone else first."
            )

    @staticmethod
    def _version_row(s, asset: AssetRow, version_num: str) -> VersionRow:
        major, minor, patch = validate.parse_version(version_num)
        row = s.scalar(
            select(VersionRow).where(
                VersionRow.asset_id == asset.id,
                VersionRow.major == major,
                VersionRow.minor == minor,
                VersionRow.patch == patch,
            )
        )
        if row is None:
            raise NotFound(f"{asset.title!r} has no version {version_num}.")
        return row

    # -- versions (P8) ---------------------------------------------------------------
    def edit_version(self, content_id: str, version: str, *, description: str) -> Asset:
        """Change a version's description."""
        description = validate.text("description", description, max_len=validate.MAX_VERSION_DESCRIPTION)
        with self._db.write() as s:
            me = self._me(s)
            asset = self._owned_asset(s, me, content_id, action="edit its versions")
            self._version_row(s, asset, version).description = description
            s.flush()
            return self._details(s, me, asset)

    def discontinue_version(self, content_id: str, version: str) -> Asset:
        """Discontinue one version; allowed only while the asset has two or more normal versions (SPEC P8)."""
        with self._db.write() as s:
            me = self._me(s)
            asset = self._owned_asset(s, me, content_id, action="discontinue its versions")
            row = self._version_row(s, asset, version)
            if row.status == "discontinued":
                return self._details(s, me, asset)
            normal = s.scalar(
                select(func.count()).where(VersionRow.asset_id == asset.id, VersionRow.status == "normal")
            )
            if normal < 2:
                raise Conflict(
                    f"{asset.title!r} has only one normal version; a version can be discontinued only while "
                    "the asset has at least two. Add a version first, or discontinue the whole asset."
                )
            row.status = "discontinued"
            s.flush()
            return self._details(s, me, asset)

    # -- lifecycle (P9) --------------------------------------------------------------
    def discontinue(self, content_id: str) -> Asset:
        """Take the asset off the market; existing subscribers keep using it within quota (SPEC V2, P9)."""
        return self._set_status(content_id, "discontinued")

    def release(self, content_id: str) -> Asset:
        """Bring a discontinued asset back to the market (SPEC P9)."""
        return self._set_status(content_id, "released")

    def _set_status(self, content_id, status) -> Asset:
        with self._db.write() as s:
            me = self._me(s)
            asset = self._owned_asset(s, me, content_id, action="discontinue or release it")
            asset.status = status
            refresh_search(asset, asset.publisher)
            asset.updated_at = self._now()
            s.flush()
            return self._details(s, me, asset)

    def delete(self, content_id: str) -> None:
        """Delete an asset that has no subscribers, active or cancelled (SPEC P9).

        Raises:
            Conflict: it still has subscribers (the message says how many).
            PermissionDenied / NotFound: the asset is not yours / not visible to you.
        """
        with self._db.write() as s:
            me = self._me(s)
            asset = self._owned_asset(s, me, content_id, action="delete it")
            subscribers = s.scalar(select(func.count()).where(SubscriptionRow.asset_id == asset.id))
            if subscribers:
                raise Conflict(
                    f"{asset.title!r} has {subscribers} subscriber{'s' if subscribers != 1 else ''} (active or "
                    "cancelled) and cannot be deleted; discontinue it instead."
                )
            using = (
                select(DependencyRow.workflow_version_id)
                .join(VersionRow, VersionRow.id == DependencyRow.algorithm_version_id)
                .where(VersionRow.asset_id == asset.id)
            )
            if s.scalar(using.limit(1)) is not None:
                # Name only the workflows you may see: others' private ones are not yours to count (V1).
                shown = s.scalars(
                    select(AssetRow.title).join(VersionRow, VersionRow.asset_id == AssetRow.id)
                    .where(VersionRow.id.in_(using), self._visible_condition(me))
                    .distinct().order_by(AssetRow.title).limit(3)
                ).all()
                which = ", ".join(repr(t) for t in shown) if shown else "published by other users"
                raise Conflict(
                    f"{asset.title!r} is a step of published workflows ({which}) and cannot be deleted; "
                    "discontinue it instead."
                )
            digests = set(s.scalars(select(VersionRow.digest).where(VersionRow.asset_id == asset.id)))
            if asset.cover:
                digests.add(asset.cover)
            s.execute(delete(AssetRow).where(AssetRow.id == asset.id))
        for digest in digests:
            if not self._digest_in_use(digest):
                self._ctx.artifacts.delete(digest)

    def publishes(self, kind: str | None = None) -> tuple[AssetSummary, ...]:
        """My Publishes (SPEC M1): your assets of every status, newest first."""
        kind = validate.optional_kind(kind)
        with self._db.read() as s:
            me = self._me(s)
            statement = select(AssetRow).where(AssetRow.publisher_id == me.id)
            if kind:
                statement = statement.where(AssetRow.kind == kind)
            rows = s.scalars(statement.order_by(desc(AssetRow.published_at), desc(AssetRow.id))).all()
            return tuple(convert.summary(r) for r in rows)

    # -- admin ------------------------------------------------------------------------
    def set_official(self, content_id: str, official: bool) -> Asset:
        """Mark an asset official (admins only)."""
        return self._admin_flag(content_id, "official", validate.flag("official", official))

    def set_featured(self, content_id: str, featured: bool) -> Asset:
        """Mark an asset featured (admins only)."""
        return self._admin_flag(content_id, "featured", validate.flag("featured", featured))

    def _admin_flag(self, content_id, name, value) -> Asset:
        with self._db.write() as s:
            me = self._me(s)
            self._require_admin(me, f"mark assets {name}")
            asset = self._asset_row(s, content_id)
            if asset is None:
                raise NotFound(f"No asset {content_id!r} exists in this gallery.")
            setattr(asset, name, value)
            refresh_search(asset, asset.publisher)
            s.flush()
            return self._details(s, me, asset)


def _title_clash_message(kind: str, title: str, existing: str) -> str:
    same = "" if existing == title else f" ({existing!r} is the same title ignoring case and Unicode forms)"
    return f"You already publish a {kind} titled {title!r}{same}; pick another title."


def _apply_whitelist(version: VersionRow, users, add: bool) -> tuple[str, ...]:
    """Add or remove ``users``; returns those whose place on the whitelist really changed."""
    current = {w.username for w in version.whitelist}
    changed = tuple(u for u in users if (u not in current) == add)
    if add:
        version.whitelist.extend(WhitelistRow(username=u) for u in changed)
    else:
        version.whitelist = [w for w in version.whitelist if w.username not in set(users)]
    return changed


def _scan_records(scan) -> list[dict]:
    """What the versions table keeps of a scan (a ``ScanReport``, or bare findings): each low or
    medium finding, and one "info" record per pickled file and callable it imports, from which
    ``Version.pickle_imports`` is read back (store/convert.py)."""
    findings = getattr(scan, "findings", scan)
    records = [dataclasses.asdict(f) for f in findings]
    for file, imported in getattr(scan, "pickle_imports", ()):
        records.append({"file": file, "line": None, "rule": "pickle-import", "severity": "info", "message": imported})
    return records
