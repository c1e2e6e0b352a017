"""The gallery's tables (SQLAlchemy 2 ORM).

Migrations in ``store/migrations`` create exactly these; change both together
(``alembic revision --autogenerate`` from the package folder drafts the step).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    desc,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Stores UTC, always returns an aware UTC datetime (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the gallery store; use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    nickname: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[str] = mapped_column(String(16), default="user")
    avatar: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssetRow(Base):
    __tablename__ = "assets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(String(200), default="")
    cover: Mapped[str | None] = mapped_column(String(64), nullable=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    official: Mapped[bool] = mapped_column(Boolean, default=False)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    status: Mapped[str] = mapped_column(String(16), default="released")
    duration_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    paper_title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    paper_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    code_open: Mapped[bool] = mapped_column(Boolean, default=False)
    license: Mapped[str] = mapped_column(String(32), default="Unknown")
    views: Mapped[int] = mapped_column(Integer, default=0)
    favorites: Mapped[int] = mapped_column(Integer, default=0)
    subscriptions: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    publisher: Mapped[UserRow] = relationship(lazy="joined", innerjoin=True)
    texts: Mapped["AssetTextRow"] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="select", uselist=False
    )
    categories: Mapped[list["AssetCategoryRow"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin", order_by="AssetCategoryRow.position"
    )
    versions: Mapped[list["VersionRow"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, back_populates="asset", lazy="raise_on_sql"
    )

    __table_args__ = (
        # Titles are unique per publisher and kind ignoring case, enforced by the database too.
        Index("uq_assets_publisher_kind_title", "publisher_id", "kind", func.lower(text("title")), unique=True),
        # One index per market sort, so a page is read in order instead of sorted.
        Index("ix_assets_market_subscriptions", "kind", "status", "subscriptions", "id"),
        Index("ix_assets_market_favorites", "kind", "status", "favorites", "id"),
        Index("ix_assets_market_views", "kind", "status", "views", "id"),
        Index("ix_assets_market_latest", "kind", "status", "published_at", "id"),
        Index("ix_assets_publisher", "publisher_id", "kind"),
        # The Featured and Official tabs: a few percent of a kind, read without walking it all.
        Index("ix_assets_market_featured", "kind", "status", "subscriptions", "id",
              postgresql_where=text("featured IS TRUE"), sqlite_where=text("featured = 1")),
        Index("ix_assets_market_official", "kind", "status", "subscriptions", "id",
              postgresql_where=text("official IS TRUE"), sqlite_where=text("official = 1")),
    )


class AssetTextRow(Base):
    """An asset's long texts, kept out of ``assets`` so market scans read narrow rows.

    ``search_doc`` (title, summary, description, publisher) and ``facets`` (tokens for
    kind, status, visibility, flags and categories, see ``store.search.facets``) are
    what the full-text index reads.
    """

    __tablename__ = "asset_texts"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    search_doc: Mapped[str] = mapped_column(Text, default="")
    facets: Mapped[str] = mapped_column(Text, default="")


class AssetCategoryRow(Base):
    __tablename__ = "asset_categories"
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(120), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (Index("ix_asset_categories_category", "category", "asset_id"),)


class VersionRow(Base):
    __tablename__ = "versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(32))
    major: Mapped[int] = mapped_column(Integer)
    minor: Mapped[int] = mapped_column(Integer)
    patch: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="normal")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    manifest: Mapped[dict] = mapped_column(JSON, default=dict)
    constraints: Mapped[dict] = mapped_column(JSON, default=dict)
    # The publish scan's low and medium findings (as scan.Finding dicts), plus one record of
    # severity "info" and rule "pickle-import" per pickled file and callable it imports.
    findings: Mapped[list] = mapped_column(JSON, default=list)

    asset: Mapped[AssetRow] = relationship(back_populates="versions", lazy="raise_on_sql")
    whitelist: Mapped[list["WhitelistRow"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin", order_by="WhitelistRow.username"
    )

    __table_args__ = (
        UniqueConstraint("asset_id", "major", "minor", "patch", name="uq_versions_asset_number"),
        Index("ix_versions_asset", "asset_id", "major", "minor", "patch"),
        Index("ix_versions_digest", "digest"),
    )


# An asset's versions, newest first (by number, not by date).
NEWEST_FIRST = (desc(VersionRow.major), desc(VersionRow.minor), desc(VersionRow.patch))


class WhitelistRow(Base):
    __tablename__ = "version_whitelist"
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    __table_args__ = (Index("ix_version_whitelist_username", "username", "version_id"),)


class DependencyRow(Base):
    """A workflow version's exact algorithm versions."""

    __tablename__ = "version_dependencies"
    workflow_version_id: Mapped[int] = mapped_column(
        ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True
    )
    algorithm_version_id: Mapped[int] = mapped_column(
        ForeignKey("versions.id", ondelete="RESTRICT"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(100), default="")


class FavoriteRow(Base):
    __tablename__ = "favorites"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_favorites_asset", "asset_id"),)


class CommentRow(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[UserRow] = relationship(lazy="joined", innerjoin=True)
    __table_args__ = (Index("ix_comments_asset", "asset_id", "created_at", "id"),)


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="RESTRICT"))
    subscribed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    period_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="active")
    asset: Mapped[AssetRow] = relationship(lazy="joined", innerjoin=True)
    __table_args__ = (
        UniqueConstraint("user_id", "asset_id", name="uq_subscriptions_user_asset"),
        Index("ix_subscriptions_asset", "asset_id", "status"),
    )


class AcceptanceRow(Base):
    __tablename__ = "acceptances"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    agreement: Mapped[str] = mapped_column(String(64))
    agreement_version: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (Index("ix_acceptances_user", "user_id", "agreement"),)


class NotificationRow(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_notifications_user", "user_id", "created_at"),)


class ImportRow(Base):
    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"))
    workspace: Mapped[str] = mapped_column(String(100), default="default")
    local_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_imports_user", "user_id", "workspace"),)



class TokenRow(Base):
    """A personal access token of a team server (SPEC T1): only its sha256 is kept."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_tokens_user_name"),)

# Every column that names an artifact digest. ``gallery-widgets gc`` keeps the blobs these
# name, and deleting an asset keeps a blob another row still names: add new ones here.
DIGEST_COLUMNS = (VersionRow.digest, AssetRow.cover, UserRow.avatar)
