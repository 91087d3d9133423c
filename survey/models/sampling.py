"""Sampling and fieldwork: the frame of completed dossiers (with personal data), the saved
column mappings of each one-stop software export, sample designs, draws and their members."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, BigId, UTCDateTime
from ._time import utcnow
from .registry import Field, Unit


class FrameSource(Base):
    """A column mapping saved per unit and source ("iGate", "Một cửa điện tử"), so next
    quarter's export of the same software imports in one click. `mapping` is JSON: target → header."""

    __tablename__ = "frame_sources"
    __table_args__ = (UniqueConstraint("unit_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    name: Mapped[str] = mapped_column(String(80))
    mapping: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class FrameImport(Base):
    """One imported file and its validation report (`rejections`: JSON [[line, reason, fix], ...])."""

    __tablename__ = "frame_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    source: Mapped[str] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    actor_login: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    rejections: Mapped[str] = mapped_column(Text, default="[]")
    notes: Mapped[str] = mapped_column(Text, default="[]")  # repairs made and said: [[line, note], ...]


class FrameDossier(Base):
    """A completed dossier in the sampling frame. Name, address and phone are personal data
    (decree 13/2023/NĐ-CP): shown and exported only to coordinators of the unit's subtree, audited."""

    __tablename__ = "frame_dossiers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(64), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id"))
    completed_on: Mapped[date] = mapped_column(Date, index=True)
    procedure: Mapped[str | None] = mapped_column(String(400))
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(400))
    phone: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(60))
    import_id: Mapped[int] = mapped_column(ForeignKey("frame_imports.id"), index=True)

    unit: Mapped[Unit] = relationship()
    field: Mapped[Field] = relationship()


class SampleDesign(Base):
    """What a draw follows: the period and subtree, the strata, the size formula and its
    parameters, the allocation. Kept unchanged once drawn from."""

    __tablename__ = "sample_designs"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    strata: Mapped[str] = mapped_column(String(20))  # unit_field | unit | field
    formula: Mapped[str] = mapped_column(String(10))  # cochran | yamane
    confidence: Mapped[float] = mapped_column(Float)
    margin: Mapped[float] = mapped_column(Float)
    proportion: Mapped[float] = mapped_column(Float)
    response_rate: Mapped[float] = mapped_column(Float)
    design_effect: Mapped[float] = mapped_column(Float)
    allocation: Mapped[str] = mapped_column(String(20))  # proportional | equal | quota | neyman
    minimum: Mapped[int] = mapped_column(Integer, default=0)
    quota: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)  # a size set by hand instead of the formula
    # Neyman: JSON {stratum: [p, answers, fallback]} frozen at save, so a verify re-derives the same n_h
    neyman_basis: Mapped[str | None] = mapped_column(Text)
    actor_login: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()


class SampleDraw(Base):
    """One draw of a design: never edited, only replaced by a new draw (both kept). The seed,
    the frame's checksum and the algorithm let anyone re-derive it (`sample verify`)."""

    __tablename__ = "sample_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    design_id: Mapped[int] = mapped_column(ForeignKey("sample_designs.id"), index=True)
    seed: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(20))
    frame_sha256: Mapped[str] = mapped_column(String(64))
    frame_size: Mapped[int] = mapped_column(Integer)
    selected: Mapped[int] = mapped_column(Integer)
    actor_login: Mapped[str | None] = mapped_column(String(64))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    design: Mapped[SampleDesign] = relationship()


class SampleMember(Base):
    """A drawn dossier: selected (rank ≤ n_h) or on the stratum's ordered reserve list."""

    __tablename__ = "sample_members"
    __table_args__ = (UniqueConstraint("draw_id", "dossier_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draws.id"), index=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("frame_dossiers.id"))
    respondent_code: Mapped[str] = mapped_column(String(24), unique=True)
    stratum: Mapped[str] = mapped_column(String(120))  # "unit_code|field_code" (either may be "*")
    rank: Mapped[int] = mapped_column(Integer)
    selected: Mapped[bool] = mapped_column()
    reserve_rank: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="drawn")

    dossier: Mapped[FrameDossier] = relationship()
