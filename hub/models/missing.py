"""Missing episodes and what hangs off them. The due dates and criteria (prevention check within
4 hours of return, return home interview within 72 hours, management meeting triggers, trigger
plan within a week of a strategy discussion) are computed by `hub.missing.rules`; the due times of
the duties not yet done are stored beside the episode (`hub.missing.deadlines` writes them, from
the rules, whenever the episode or its child's other episodes change) so that the menu's count of
what is overdue is one indexed query."""

from __future__ import annotations

import base64
import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from hub.crypto import EncryptedText, key_id_of, scoped
from hub.db import Base, UTCDateTime, utcnow
from hub.models.people import Child


class Classification(str, enum.Enum):
    missing = "missing"
    absent = "absent"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class RiskGrade(str, enum.Enum):
    """In rising order: `rank` compares them ("the risk grade rises")."""
    no_apparent_risk = "no_apparent_risk"
    low = "low"
    medium = "medium"
    high = "high"

    @property
    def rank(self) -> int:
        return list(RiskGrade).index(self)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class MissingFrom(str, enum.Enum):
    home = "home"
    care_placement = "care_placement"
    school = "school"
    other = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class EpisodeSource(str, enum.Enum):
    manual = "manual"
    police_download = "police_download"
    api = "api"


class MissingEpisode(Base):
    __tablename__ = "missing_episode"
    __table_args__ = (
        UniqueConstraint("police_org_id", "police_reference", name="uq_missing_episode_police_reference"),
        Index("ix_missing_episode_child_start", "child_id", "reported_start"),
        # The reports count a period's episodes: a range scan, not every episode ever recorded.
        Index("ix_missing_episode_reported_start", "reported_start"),
        # The menu's overdue count: episodes on the missing team's list (open, found_at NULL, or
        # found lately: a range) with a duty past due, without reading the rest.
        Index("ix_missing_episode_found_next_due", "found_at", "next_due_at"),
        # The missing team's list: open ones (found_at NULL), then lately found, newest first.
        Index("ix_missing_episode_found_start", "found_at", "reported_start"),
        # A social worker's reach (hub.permissions.children, "episode-authority") on every page:
        # the episodes their authority is home or receiving authority for, not every episode.
        Index("ix_missing_episode_home_authority", "home_authority_id", "child_id"),
        Index("ix_missing_episode_receiving_authority", "receiving_authority_id", "child_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"))
    #: The force that holds the report; with the reference, the key the daily download matches on.
    police_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    police_reference: Mapped[str] = mapped_column(String(40))
    #: From the police download when there is one: the authoritative start.
    reported_start: Mapped[datetime] = mapped_column(UTCDateTime)
    classification: Mapped[Classification] = mapped_column(Enum(Classification, native_enum=False, length=10))
    risk_grade: Mapped[RiskGrade] = mapped_column(Enum(RiskGrade, native_enum=False, length=20))
    missing_from: Mapped[MissingFrom] = mapped_column(Enum(MissingFrom, native_enum=False, length=20))
    missing_from_detail: Mapped[str | None] = mapped_column(EncryptedText)
    found_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    found_where: Mapped[str | None] = mapped_column(EncryptedText)
    prevention_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prevention_check_by: Mapped[str | None] = mapped_column(String(200))
    return_interview_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_interview_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_interview_by: Mapped[str | None] = mapped_column(String(200))
    return_interview_declined: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The interview's findings are recorded as a share (with its legal basis), not as free text here.
    return_interview_share_id: Mapped[int | None] = mapped_column(ForeignKey("share_record.id"))
    iro_informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Cross-border: the receiving authority (where found) leads, with the home authority.
    home_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    receiving_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    strategy_discussion_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger_plan_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    police_requested_meeting: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Codes from hub.missing.rules.RISK_FACTORS / PUSH_FACTORS / PULL_FACTORS, comma-separated.
    risk_factors: Mapped[str] = mapped_column(String(1000), default="")
    push_factors: Mapped[str] = mapped_column(String(1000), default="")
    pull_factors: Mapped[str] = mapped_column(String(1000), default="")
    source: Mapped[EpisodeSource] = mapped_column(Enum(EpisodeSource, native_enum=False, length=20))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The duties not yet done and when each falls due, as hub.missing.rules.deadlines computes them
    # (NULL: done, or not a duty of this episode); written only by hub.missing.deadlines.
    prevention_check_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_interview_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    iro_told_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trigger_plan_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The earliest of those, and what it is (`rules.Due.what`).
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_due: Mapped[str | None] = mapped_column(String(60))

    risk_history: Mapped[list[RiskGradeChange]] = relationship(
        back_populates="episode", order_by="RiskGradeChange.id", cascade="all")

    def codes(self, name: str) -> set[str]:
        return {c for c in (getattr(self, name) or "").split(",") if c}


class RiskGradeChange(Base):
    __tablename__ = "risk_grade_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("missing_episode.id"), index=True)
    grade: Mapped[RiskGrade] = mapped_column(Enum(RiskGrade, native_enum=False, length=20))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    source: Mapped[EpisodeSource] = mapped_column(Enum(EpisodeSource, native_enum=False, length=20))

    episode: Mapped[MissingEpisode] = relationship(back_populates="risk_history")


class EncryptedBytes(EncryptedText):
    """A binary value (the profile's photo) stored as a Fernet token over its bytes (base64 first,
    as the keyring encrypts text): the database never holds the image."""

    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        text = base64.b64encode(value).decode("ascii")
        key_id = getattr(value, "key_id", None)
        return super().process_bind_param(scoped(text, key_id) if key_id else text, dialect)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        plain = base64.b64decode(super().process_result_value(value, dialect))
        key_id = key_id_of(value)
        return scoped(plain, key_id) if key_id else plain


class PhilomenaProfile(Base):
    """The Philomena protocol's form: part 1 kept ready by carers and the placing authority before
    any episode, part 2 filled when the child goes missing. Keyed to the child, not to an authority:
    whoever is the child's placing (or home) authority now keeps it (`held_by_org_id` is computed),
    so it moves with the child. Released to the police as a share record."""

    __tablename__ = "philomena_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("child.id"), unique=True)
    # Part 1, kept ahead.
    #: Description: height, build, hair, marks, how they present.
    physical_description: Mapped[str | None] = mapped_column(EncryptedText)
    #: A recent photo, re-encoded as JPEG without metadata (hub.missing.profiles.photos), encrypted.
    photo: Mapped[bytes | None] = mapped_column(EncryptedBytes)
    photo_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    friends_and_associates: Mapped[str | None] = mapped_column(EncryptedText)
    #: Places frequented (addresses, areas, hangouts).
    addresses_and_places: Mapped[str | None] = mapped_column(EncryptedText)
    phone_numbers: Mapped[str | None] = mapped_column(EncryptedText)
    medical_needs: Mapped[str | None] = mapped_column(EncryptedText)
    money: Mapped[str | None] = mapped_column(EncryptedText)
    social_media: Mapped[str | None] = mapped_column(EncryptedText)
    transport: Mapped[str | None] = mapped_column(EncryptedText)
    # Part 2, when the child goes missing.
    clothing: Mapped[str | None] = mapped_column(EncryptedText)
    last_seen: Mapped[str | None] = mapped_column(EncryptedText)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


#: The authority that keeps the profile: the child's placing authority now, else their home
#: authority. Computed from the child, never stored, so a change of placing authority moves it.
PhilomenaProfile.held_by_org_id = column_property(
    select(func.coalesce(Child.placing_authority_id, Child.responsible_authority_id))
    .where(Child.id == PhilomenaProfile.child_id).correlate_except(Child).scalar_subquery())


class ProfileRelease(Base):
    __tablename__ = "philomena_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("philomena_profile.id"), index=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("missing_episode.id"), index=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("share_record.id"))
    released_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- the police daily download ------------------------------------------------------------------

class ImportStatus(str, enum.Enum):
    """queued (the file stored, waiting for a worker) -> running (claimed) -> done or failed."""
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class ImportBatch(Base):
    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    police_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[ImportStatus] = mapped_column(Enum(ImportStatus, native_enum=False, length=10),
                                                 default=ImportStatus.running, index=True)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    #: Counts: created, updated, unchanged, review, errors (no personal data).
    summary: Mapped[str] = mapped_column(Text, default="{}")
    #: [{"row": n, "reason": "..."}]: reasons name the column and the problem, never the value.
    row_errors: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The worker importing a queued batch, and until when its claim keeps other workers off.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportFile(Base):
    """An uploaded download waiting for (or being imported by) a worker: encrypted, and deleted
    when its import finishes, so only the batch's SHA-256 outlives it."""

    __tablename__ = "import_file"

    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), primary_key=True)
    #: The file's bytes, base64, encrypted (names and dates of birth are in it).
    data: Mapped[str] = mapped_column(EncryptedText)


class ReviewStatus(str, enum.Enum):
    waiting = "waiting"
    matched = "matched"
    created = "created"
    dismissed = "dismissed"


class ImportReviewItem(Base):
    """A downloaded row that matched no child: a person matches it or creates the child."""

    __tablename__ = "import_review_item"
    __table_args__ = (UniqueConstraint("police_org_id", "police_reference", name="uq_import_review_reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    police_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    police_reference: Mapped[str] = mapped_column(String(40))
    #: The row's values as JSON, encrypted: names and dates of birth.
    row_data: Mapped[str] = mapped_column(EncryptedText)
    status: Mapped[ReviewStatus] = mapped_column(Enum(ReviewStatus, native_enum=False, length=10),
                                                 default=ReviewStatus.waiting)
    child_id: Mapped[int | None] = mapped_column(ForeignKey("child.id"))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("missing_episode.id"))
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ColumnMapping(Base):
    """A force's own column headings for the download (JSON: field -> heading); none means the
    hub's template headings."""

    __tablename__ = "import_column_mapping"

    id: Mapped[int] = mapped_column(primary_key=True)
    police_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), unique=True)
    mapping: Mapped[str] = mapped_column(Text)
    updated_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
