"""The gallery service interface: the one contract every gallery implementation honours (SPEC §4, §6).

Two implementations answer it: the SQL gallery (``gallery_widgets.core``, embedded
SQLite or PostgreSQL) and the REST client of a team server. Arguments and results are
wire-shaped: plain values and the frozen dataclasses of ``gallery_widgets.entities``
(a source to publish is a ``PackedSource``: kind + manifest + archive + sha256, never
an in-process object). Nothing here runs code: what runs in the notebook kernel
(packing local sources, verifying and unpacking artifacts, checking constraints
against the live environment, loading models, jobs and workflow runs) is the
kernel-side layer, which builds on these calls only.

Every call acts as the user the gallery was opened as (``username``), validates its
arguments, and raises a ``GalleryError`` subclass whose message says what was wrong and
what to do; a failed call changes nothing. An asset the user may not see is always
``NotFound``, exactly as one that does not exist (SPEC V1, T3).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import BinaryIO

from .entities import (
    UNSET,
    AccessToken,
    Agreement,
    Asset,
    AssetSummary,
    Comment,
    Constraints,
    Duration,
    Notification,
    PackedSource,
    Page,
    Subscription,
    SubscriptionList,
    UsableVersion,
    User,
    WhitelistChange,
    WorkspaceWorkflow,
)

__all__ = ["GalleryService", "PackedSource", "UsableVersion", "WorkspaceWorkflow", "Agreement", "UNSET"]


class GalleryService(ABC):
    """A gallery opened by one user (SPEC §4): the market, subscriptions, publishing,
    My Gallery, administration, the reference data widgets show, and the wire-level
    calls the kernel-side layer uses to import and run what the user may use."""

    #: The account every call acts as.
    username: str

    # -- the connection ---------------------------------------------------------------
    @property
    @abstractmethod
    def url(self) -> str:
        """Where this gallery lives, fit to show a person (no password, no token)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connections this gallery holds. Calls after ``close`` may reopen them."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- market (S1-S3) -------------------------------------------------------------------
    @abstractmethod
    def search(self, kind: str = "algorithm", query: str = "", tab: str = "all", categories=(),
               sort: str = "subscriptions", page: int = 1, page_size: int = 20) -> Page[AssetSummary]:
        """One page of the market for ``kind`` (SPEC S1, S2).

        Args:
            kind: "algorithm", "model" or "workflow".
            query: keywords; every word matches as a prefix in title, summary,
                description or publisher. At most 200 characters.
            tab: "all", "featured", "official" or "favorites" (My Favorites).
            categories: taxonomy paths ("Dimension/Leaf"); an asset matches when it has
                every one of them.
            sort: "subscriptions" (default), "favorites", "views", "latest", or
                "relevance" (with a keyword; without one the default order is used).
            page: 1-based page number.
            page_size: 1 to 100.

        Returns:
            ``Page`` of ``AssetSummary``; ``total`` counts only released assets the user
            may see (V1, V2).

        Raises:
            InvalidInput: an unknown kind, tab, sort or category, a bad page or page size,
                or a query that is too long.
        """

    @abstractmethod
    def asset(self, content_id: str, *, count_view: bool = True) -> Asset:
        """An asset's details with the versions the user may see (SPEC S3).

        Args:
            content_id: the asset.
            count_view: count one view (never for the publisher's own views); widgets
                refreshing what is already open pass False.

        Returns:
            ``Asset``; whitelists and discontinued versions only for its publisher and admins.

        Raises:
            InvalidInput: ``content_id`` is not a content id.
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def cover_image(self, content_id: str) -> bytes | None:
        """The asset's cover image (PNG or JPEG bytes), or None when it has none.

        Raises:
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def favorite(self, content_id: str) -> Asset:
        """Add the asset to My Favorites; idempotent (SPEC F1).

        Returns:
            The asset's details with the new favorites count.

        Raises:
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def unfavorite(self, content_id: str) -> Asset:
        """Remove the asset from My Favorites; idempotent (SPEC F1).

        Returns:
            The asset's details with the new favorites count.

        Raises:
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def comment(self, content_id: str, text: str) -> Comment:
        """Comment on an asset the user can see (SPEC F2).

        Args:
            text: plain text, 1 to 2,000 characters.

        Returns:
            The new ``Comment``.

        Raises:
            InvalidInput: empty or too long text.
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def comments(self, content_id: str, *, page: int = 1, page_size: int = 50) -> Page[Comment]:
        """Comments on an asset, newest first (SPEC F2).

        Raises:
            InvalidInput: a bad page or page size.
            NotFound: no such asset is visible to the user.
        """

    # -- subscriptions (SUB1-SUB6, M2) -----------------------------------------------------
    @abstractmethod
    def constraints(self, content_id: str, version: str | None = None) -> Constraints:
        """What a version needs from the kernel that imports it (SPEC SUB1, U5).

        Args:
            version: "x.y.z"; default: the latest version the user may use.

        Raises:
            InvalidInput: a malformed version.
            NotFound: no such asset, or no such version the user may use.
        """

    @abstractmethod
    def subscribe(self, content_id: str, accept_constraints: bool = False,
                  accept_agreements: bool = False) -> Subscription:
        """Subscribe to an asset (SPEC SUB1-SUB3, SUB5); subscribing again returns the
        existing subscription, and renews an expired one for one period.

        Args:
            accept_constraints: the latest usable version's constraints were shown and
                accepted (needed when it has any).
            accept_agreements: the Data Security and Privacy Risk notice and the Service
                Agreement were accepted (needed unless the asset is official).

        Returns:
            The ``Subscription``.

        Raises:
            NotFound: no such asset is visible to the user.
            AgreementRequired: something was not accepted; ``.missing`` lists the ids.
            Conflict: the user publishes it, it is discontinued, or the subscription was
                cancelled (retrieve it instead).
        """

    @abstractmethod
    def cancel_subscription(self, content_id: str) -> Subscription:
        """Cancel: no more imports or runs until retrieved (SPEC SUB4); idempotent.

        Raises:
            NotFound: no such asset is visible, or the user has no subscription to it.
        """

    @abstractmethod
    def retrieve_subscription(self, content_id: str) -> Subscription:
        """Make a cancelled subscription active again under its original expiry (SPEC SUB4).

        Raises:
            NotFound: no such asset is visible, or the user has no subscription to it.
        """

    @abstractmethod
    def subscriptions(self, kind: str | None = None, status: str | None = None,
                      query: str | None = None) -> SubscriptionList:
        """My Subscriptions, newest first (SPEC M2).

        Args:
            kind: None (all) or an asset kind.
            status: None (all), "active" (usable now), "expired" or "cancelled".
            query: keeps those whose title or publisher contains it.

        Returns:
            ``SubscriptionList`` (a tuple of ``Subscription`` with ``.to_dataframe()``).

        Raises:
            InvalidInput: an unknown kind or status, or a query that is too long.
        """

    # -- publishing (P1-P10, V3-V6, M1) ------------------------------------------------------
    @abstractmethod
    def publish(self, source: PackedSource, *, title: str | None = None, version: str = "1.0.0",
                description: str = "", summary: str = "", visibility: str = "private", group_users=(),
                duration: Duration | int | None = None, categories=(), agree: bool = False) -> Asset:
        """Create an asset from a packed source at its first version (SPEC P1, P5, P6).

        The gallery recomputes the archive's sha256, checks the manifest and the file
        names (P4) and scans the files (P5); it never runs them. A packed workflow
        publishes its local algorithms as new algorithm assets at 1.0.0 in the same
        transaction (P6).

        Args:
            source: the packed algorithm, model or workflow.
            title: default: the source's name; unique per publisher and kind.
            version: "x.y.z" (P3).
            description: the version's description.
            summary: one line.
            visibility: "private", "group" (needs ``group_users``, V4) or "public".
            group_users: the whitelist for "group".
            duration: None (unlimited), a number of days, or ``Duration(days, auto_renew)``.
            categories: taxonomy paths.
            agree: the publishing agreement is accepted (must be True).

        Returns:
            The new ``Asset``.

        Raises:
            AgreementRequired: ``agree`` is not True.
            InvalidInput: a bad source (digest mismatch, manifest, names), title, version,
                visibility, whitelist, duration or category; a workflow step that does
                not exist, that the user may not use, or that is wired wrongly.
            Conflict: the user already publishes an asset of this kind with this title.
            ScanFailed: high-severity findings (``.findings``); the publisher is notified.
        """

    @abstractmethod
    def add_version(self, content_id: str, source: PackedSource, version: str | None = None,
                    description: str = "", agree: bool = False) -> Asset:
        """Add a version to the user's asset (SPEC P2); it starts with the previous
        version's whitelist (V5). For a workflow, each of the user's algorithms a step
        used whose code changed gets its next version, in the same transaction (P6).

        Args:
            version: default: the patch number of the newest version plus one.
            agree: the publishing agreement is accepted (must be True).

        Returns:
            The ``Asset`` with the new version.

        Raises:
            AgreementRequired: ``agree`` is not True.
            InvalidInput: a bad source or version, or a source of another kind.
            Conflict: the version is not greater than every existing one.
            ScanFailed: high-severity findings.
            PermissionDenied: the asset is not the user's (P10).
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def edit_asset(self, content_id: str, *, title=UNSET, summary=UNSET, description=UNSET, cover=UNSET,
                   categories=UNSET, paper=UNSET, code_open=UNSET, license=UNSET) -> Asset:
        """Edit an asset's details; only what is passed changes (SPEC P7).

        Args:
            description: Markdown, rendered to sanitized HTML.
            cover: PNG or JPEG bytes (≤ 1 MiB), or None to remove it.
            categories: taxonomy paths.
            paper: ``Paper(title, url)`` with an http(s) URL, or None to remove it.
            code_open: whether subscribers may read the code.
            license: one of ``licenses()``.

        Returns:
            The edited ``Asset``.

        Raises:
            InvalidInput: any bad value (nothing changes then).
            Conflict: the user already publishes an asset of this kind with the new title.
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def set_restrictions(self, content_id: str, *, visibility=UNSET, group_users=UNSET,
                         duration=UNSET) -> Asset:
        """Change who may see the asset and its free-duration quota (SPEC V3-V5).

        Args:
            visibility: only widens: private → group → public.
            group_users: replaces the whitelist of every version.
            duration: applies to new subscriptions.

        Raises:
            InvalidInput: narrowing, "group" without users, bad values.
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def add_whitelist_users(self, content_id: str, version_num: str, user_groups) -> WhitelistChange:
        """Whitelist users on one version (SPEC V5); for a workflow also on the algorithm
        versions it depends on that the same publisher owns (V6).

        Returns:
            ``WhitelistChange`` listing what was propagated and what was skipped.

        Raises:
            InvalidInput: no users, a bad user name or version.
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset or version.
        """

    @abstractmethod
    def delete_whitelist_users(self, content_id: str, version_num: str, user_groups) -> WhitelistChange:
        """Remove users from one version's whitelist (SPEC V5, V6); a group asset keeps at least one (V4).

        Raises:
            InvalidInput: no users, a bad name or version, or the last whitelisted user of a group asset.
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset or version.
        """

    @abstractmethod
    def edit_version(self, content_id: str, version: str, *, description: str) -> Asset:
        """Change a version's description (SPEC P7).

        Raises:
            InvalidInput: a bad version or description.
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset or version.
        """

    @abstractmethod
    def discontinue_version(self, content_id: str, version: str) -> Asset:
        """Discontinue one version (SPEC P8).

        Raises:
            Conflict: the asset would have fewer than one normal version left.
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset or version.
        """

    @abstractmethod
    def discontinue(self, content_id: str) -> Asset:
        """Take the asset off the market; existing subscribers keep using it (SPEC V2, P9).

        Raises:
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def release(self, content_id: str) -> Asset:
        """Bring a discontinued asset back to the market (SPEC P9).

        Raises:
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def delete(self, content_id: str) -> None:
        """Delete an asset without subscribers, active or cancelled (SPEC P9).

        Raises:
            Conflict: it has subscribers (the message says how many), or a published
                workflow uses it.
            PermissionDenied: the asset is not the user's.
            NotFound: no such asset is visible to the user.
        """

    @abstractmethod
    def publishes(self, kind: str | None = None) -> tuple[AssetSummary, ...]:
        """My Publishes (SPEC M1): the user's assets of every status, newest first.

        Raises:
            InvalidInput: an unknown kind.
        """

    # -- accounts (M3) and administration -----------------------------------------------------
    @property
    @abstractmethod
    def me(self) -> User:
        """The user's own account (SPEC M3).

        Raises:
            NotFound: the account was removed since the gallery was opened.
        """

    @abstractmethod
    def user(self, username: str) -> User:
        """Another user's public profile (email hidden unless it is the user's own).

        Raises:
            InvalidInput: a malformed user name.
            NotFound: no such user.
        """

    @abstractmethod
    def avatar_image(self, username: str | None = None) -> bytes | None:
        """A user's avatar (PNG or JPEG bytes; default: the user's own), or None.

        Raises:
            InvalidInput: a malformed user name.
        """

    @abstractmethod
    def update_profile(self, *, nickname=UNSET, description=UNSET, email=UNSET, avatar=UNSET,
                       username=UNSET) -> User:
        """Change nickname, description, email or avatar (PNG/JPEG bytes ≤ 1 MiB, or None) (SPEC M3).

        Raises:
            InvalidInput: a bad value, or ``username`` (the account name never changes).
        """

    @abstractmethod
    def notifications(self, *, unread_only: bool = False) -> tuple[Notification, ...]:
        """The user's notifications, newest first: scan failures, new versions of assets they
        subscribed to (N1), subscriptions about to expire (N2, added when the list is read).

        Raises:
            InvalidInput: ``unread_only`` is not a bool.
        """

    @abstractmethod
    def mark_notifications_read(self, ids=None) -> int:
        """Mark the user's notifications read: all, or those whose ids (integers) are listed.
        Ids of other users' notifications change nothing.

        Returns:
            How many changed.

        Raises:
            InvalidInput: ``ids`` is not a list of integers.
        """

    @abstractmethod
    def set_role(self, username: str, role: str) -> User:
        """Make a user "admin" or "user" (admins only); one admin always remains.

        Raises:
            PermissionDenied: the caller is not an admin.
            InvalidInput: a bad name or role.
            NotFound: no such user.
            Conflict: it would remove the last admin.
        """

    @abstractmethod
    def set_official(self, content_id: str, official: bool) -> Asset:
        """Mark an asset official, or not (admins only).

        Raises:
            PermissionDenied: the caller is not an admin.
            NotFound: no such asset.
        """

    @abstractmethod
    def set_featured(self, content_id: str, featured: bool) -> Asset:
        """Mark an asset featured, or not (admins only).

        Raises:
            PermissionDenied: the caller is not an admin.
            NotFound: no such asset.
        """

    # -- personal access tokens (SPEC T1) -----------------------------------------------------
    @abstractmethod
    def create_token(self, name: str, expires_days: int | None = None) -> AccessToken:
        """Create a personal access token for the user (a team server's credential).

        Args:
            name: 1-64 characters, unique among the user's tokens.
            expires_days: None (never expires) or 1 to 3650 days.

        Returns:
            ``AccessToken`` whose ``secret`` is the token, shown this once (only a hash is kept).

        Raises:
            InvalidInput: a bad name or expiry.
            Conflict: the user already has a token of that name.
        """

    @abstractmethod
    def tokens(self) -> tuple[AccessToken, ...]:
        """The user's tokens, newest first, without secrets (revoked ones too).

        Raises:
            NotFound: the account was removed since the gallery was opened.
            StorageError: the gallery's storage cannot be read.
        """

    @abstractmethod
    def revoke_token(self, name: str) -> AccessToken:
        """Revoke one of the user's tokens; it stops working at once. Idempotent.

        Raises:
            InvalidInput: a bad name.
            NotFound: the user has no token of that name.
        """

    # -- reference data the widgets show (SPEC §6: over REST they are the server's) ----------------
    @abstractmethod
    def taxonomy(self) -> dict[str, tuple[str, ...]]:
        """The category taxonomy: each dimension with its leaves, in display order."""

    @abstractmethod
    def categories(self) -> tuple[str, ...]:
        """Every category path ("Dimension/Leaf") an asset may have."""

    @abstractmethod
    def agreements(self) -> tuple[Agreement, ...]:
        """The agreements users accept (SPEC SUB1, P1), with id, version, title and text."""

    @abstractmethod
    def licenses(self) -> tuple[str, ...]:
        """The licenses an asset's open code may carry ("Unknown" first)."""

    @abstractmethod
    def regions(self) -> tuple[str, ...]:
        """Where an imported workflow may run (SPEC U3; "local" is this machine)."""

    # -- what the kernel-side layer needs to import and run (U1-U7) --------------------------------
    @abstractmethod
    def usable_version(self, content_id: str, version: str | None = None, *, kind: str) -> UsableVersion:
        """Resolve the version of an asset the user may import now (SPEC U1, U3, U4, V5).

        Args:
            content_id: the asset.
            version: "x.y.z"; default: the latest normal version the user may use.
            kind: the kind the caller expects ("algorithm", "model" or "workflow").

        Returns:
            ``UsableVersion`` with the digest, manifest, constraints and, for a
            workflow, its steps' algorithm versions.

        Raises:
            InvalidInput: the asset is of another kind (the message names the right
                import call), or a malformed version.
            NotFound: no such asset visible to the user, or no such version they may use.
            SubscriptionRequired: no active, unexpired subscription and not the
                publisher (the message says whether to subscribe, retrieve or renew).
        """

    @abstractmethod
    def check_usable(self, content_id: str) -> None:
        """SPEC U4 at run time: the user publishes the asset (or is an admin) or holds an
        active, unexpired subscription to it. Called before every job or run of an
        imported asset, so a subscription cancelled after the import stops new runs.

        Raises:
            NotFound: no such asset is visible to the user.
            SubscriptionRequired: subscribe, retrieve or renew (the message says which).
        """

    @abstractmethod
    def check_step_usable(self, content_id: str, version: str, reference: str, step: str | None = None) -> None:
        """Before each step of an imported workflow runs (docs/rules.md, "Workflows and access"):
        U4 for the workflow, then the step's own rule — the workflow's publisher may still use
        the step's algorithm version, and so may the user (its audience, V1/V2/V5).

        Args:
            content_id, version: the imported workflow version.
            reference: the step's "content_id@x.y.z", as its manifest names it.
            step: the step's name, for the message.

        Raises:
            NotFound: the workflow or its version is not visible, or the step is not available
                to the user (one message, whatever the reason; the algorithm is never named).
            SubscriptionRequired: the subscription to the workflow is not active (or, for the
                workflow's publisher, the one to the step's algorithm); the message says which.
        """

    @abstractmethod
    def open_artifact(self, digest: str) -> BinaryIO:
        """The archive stored under ``digest``, as a readable binary stream (the caller
        closes it and verifies it against the digest before unpacking, SPEC U7).

        Only artifacts the user may use are served: versions of assets they may use now
        (U4, V5), and the algorithm versions those workflows depend on where the step
        passes ``check_step_usable``'s rule.

        Raises:
            InvalidInput: ``digest`` is not a sha256 hex digest.
            NotFound: no such artifact, or one the user may not use (the same error).
        """

    @abstractmethod
    def record_import(self, content_id: str, version: str) -> None:
        """Record that the user imported this algorithm or model version into a kernel
        (the Import record of SPEC §2; workflows are recorded by ``add_workspace_workflow``).

        Raises:
            NotFound: no such asset or version the user may use.
            SubscriptionRequired: as for ``usable_version``.
        """

    @abstractmethod
    def add_workspace_workflow(self, content_id: str, version: str, name: str, *,
                               workspace: str = "default", region: str = "local") -> WorkspaceWorkflow:
        """Keep an imported workflow version in a workspace under a local name (SPEC U3).

        Args:
            version: the version ``usable_version`` resolved.
            name: 1-64 letters, digits, '_' or '-', starting with a letter or '_'.
            workspace: the same form as ``name``.
            region: one of ``regions()``.

        Returns:
            The ``WorkspaceWorkflow``.

        Raises:
            InvalidInput: a bad name, workspace or region; an asset that is not a workflow.
            Conflict: the workspace already has a workflow of that name.
            NotFound / SubscriptionRequired: as for ``usable_version``.
        """

    @abstractmethod
    def workspace_workflows(self, workspace: str = "default") -> tuple[WorkspaceWorkflow, ...]:
        """The workflows the user imported into ``workspace``, newest first (SPEC U3).

        Raises:
            InvalidInput: a bad workspace name.
        """

    @abstractmethod
    def workspace_workflow(self, name: str, workspace: str = "default") -> WorkspaceWorkflow:
        """One imported workflow by its local name (SPEC U3).

        Raises:
            InvalidInput: a bad name or workspace.
            NotFound: the workspace has no workflow of that name.
        """
