"""ORM models: the catalog, customers, the append-only interaction log, and published models."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.enums import EVENT_TYPES, Role

BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Naive UTC now; every stored timestamp is naive UTC (imports keep the shop's local time)."""
    return datetime.now(UTC).replace(tzinfo=None)


INTERACTION_TYPE_CHECK = "type IN ({})".format(", ".join(f"'{t.name}'" for t in EVENT_TYPES))


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_category", "category"),
        Index("ix_products_price", "price"),
        Index("ix_products_name", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(120))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    image_url: Mapped[str | None] = mapped_column(String(1000))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    """None for visitors, like `email` and `password_hash`."""
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.CUSTOMER.value)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_users_merged_into")
    )
    """For a visitor whose visit moved to an account: that account; its token is then refused."""


class Interaction(Base):
    """One customer or visitor event; rows are only inserted, except that a visit's events move
    to the account the visitor registers or signs in with. `event_key` makes imports idempotent,
    `client_event_id` a client's retries."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_user_occurred", "user_id", "occurred_at"),
        Index("ix_interactions_user_id", "user_id", "id"),
        Index("ix_interactions_product_occurred", "product_id", "occurred_at"),
        Index("ix_interactions_type", "type"),
        Index("ux_interactions_user_client_event", "user_id", "client_event_id", unique=True),
        CheckConstraint("quantity >= 1", name="ck_interactions_quantity_positive"),
        CheckConstraint(INTERACTION_TYPE_CHECK, name="ck_interactions_type"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    event_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_event_id: Mapped[str | None] = mapped_column(String(64))
    """The client's idempotency key, unique per user: a retried event is stored once."""


class Impression(Base):
    """One product of a list served to a customer under an experiment; rows are only inserted."""

    __tablename__ = "impressions"
    __table_args__ = (
        Index("ix_impressions_experiment_variant", "experiment_id", "variant"),
        Index("ix_impressions_user_product_served", "user_id", "product_id", "served_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    experiment_id: Mapped[str] = mapped_column(String(64))
    variant: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    served_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Evaluation(Base):
    """One `recommender evaluate` run: `result` is the JSON line it printed."""

    __tablename__ = "evaluations"
    __table_args__ = (Index("ix_evaluations_ran_at", "ran_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class ModelVersion(Base):
    """The announcement of a published model: the newest `version` of a `config` is current.

    A row is inserted only once every file of `artifact` is complete in the artifact store, so a
    reader never sees a half-published version. `summary` is the manifest's metadata (JSON).
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("config", "version", name="uq_model_versions_config"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    artifact: Mapped[str] = mapped_column(String(128))
    watermark: Mapped[int] = mapped_column(BigInteger)
    trained_at: Mapped[datetime] = mapped_column(DateTime)
    published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class ModelFile(Base):
    """One file of a published artifact, for `MODEL_STORE=database` (replicas on other hosts)."""

    __tablename__ = "model_files"

    artifact: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TrainerLock(Base):
    """A lease: `holder` may publish models until `expires_at` (naive UTC) unless it renews."""

    __tablename__ = "trainer_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
