"""MACE locality groups, the agencies in them, and the children on their agendas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.auth.models import Organisation
from hub.db import Base, utcnow


class MaceGroup(Base):
    __tablename__ = "mace_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The organisation that hosts and chairs the group.
    host_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))

    host_organisation: Mapped[Organisation] = relationship()
    members: Mapped[list[MaceMembership]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class MaceMembership(Base):
    """An agency sits on a MACE group; its users with a MACE role take part."""

    __tablename__ = "mace_membership"
    __table_args__ = (UniqueConstraint("group_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class MaceAgendaChild(Base):
    """A child the group holds on its agenda (until removed_at)."""

    __tablename__ = "mace_agenda_child"
    __table_args__ = (UniqueConstraint("group_id", "child_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("mace_group.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
