"""Who serves: the unit tree, the fields and procedures, the counters, the unit's credentials."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime
from ._time import utcnow

counter_fields = Table(
    "counter_fields",
    Base.metadata,
    Column("counter_id", ForeignKey("counters.id", ondelete="CASCADE"), primary_key=True),
    Column("field_id", ForeignKey("fields.id", ondelete="CASCADE"), primary_key=True),
)


class Unit(Base):
    """A node of the administrative tree: province, district (historical), commune/ward,
    department, centre, hospital or school. Depth is not fixed; `path` holds the ids from
    the root ("/1/7/42/") so a subtree is one indexed prefix query."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), index=True, default="")
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])
    counters: Mapped[list[Counter]] = relationship(back_populates="unit")


class Field(Base):
    """A field of procedures (lĩnh vực), e.g. đất đai."""

    __tablename__ = "fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))


class Procedure(Base):
    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_vi: Mapped[str] = mapped_column(String(400))
    name_en: Mapped[str | None] = mapped_column(String(400))
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"), index=True)

    field: Mapped[Field] = relationship()


class Counter(Base):
    """A service point inside a unit. `public_code` is the unguessable part of its QR URL."""

    __tablename__ = "counters"
    __table_args__ = (UniqueConstraint("unit_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    questionnaire_key: Mapped[str] = mapped_column(String(48))
    public_code: Mapped[str] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    unit: Mapped[Unit] = relationship(back_populates="counters")
    fields: Mapped[list[Field]] = relationship(secondary=counter_fields, order_by="Field.code")


class UnitCredential(Base):
    """A unit's API key (stored hashed) and HMAC secret for offline per-dossier links, stored
    wrapped under the link key (survey.qr.credentials), never in clear."""

    __tablename__ = "unit_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    api_key_hash: Mapped[str] = mapped_column(String(128))
    secret_wrapped: Mapped[str] = mapped_column("hmac_secret_wrapped", String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def show_secret_once(self, secret: str) -> None:
        """Keep the clear secret on this object only, for the one time it is shown after issuing."""
        self._clear_secret = secret

    @property
    def hmac_secret(self) -> str | None:
        """The clear secret on the object `credentials.issue` returned, else None (never loaded)."""
        return getattr(self, "_clear_secret", None)
