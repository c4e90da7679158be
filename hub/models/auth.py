"""Organisations, users, their roles, sign-in sessions and single sign-on settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.crypto import EncryptedText
from hub.db import Base, utcnow
from hub.models.roles import OrgKind, Role


class Organisation(Base):
    __tablename__ = "organisation"
    __table_args__ = (UniqueConstraint("kind", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short code used in URLs and on the command line, e.g. WYP or SCH-HILLSIDE.
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrgKind] = mapped_column(Enum(OrgKind, native_enum=False, length=40))
    #: The organisation's real identifier: school URN, NHS ODS code, police force code, LA code.
    identifier: Mapped[str] = mapped_column(String(20))
    #: The local authority area the organisation sits in (for schools: where the school is).
    local_authority_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    #: School day start, local time, HH:MM; used for notification deadlines.
    school_day_start: Mapped[str | None] = mapped_column(String(5))
    #: Working hours, London time, HH:MM, Monday to Friday: a child's record read outside them
    #: by one of the organisation's users is flagged to the DPO.
    working_hours_start: Mapped[str] = mapped_column(String(5), default="08:00", server_default="08:00")
    working_hours_end: Mapped[str] = mapped_column(String(5), default="18:00", server_default="18:00")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    local_authority: Mapped[Organisation | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Organisation {self.code}>"


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased e-mail address; unique across the hub.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    #: Argon2id hash; NULL for accounts that only sign in through their organisation's SSO.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: TOTP shared secret (base32), encrypted at rest; NULL until the user has enrolled.
    #: Set while the password is an initial one the hub generated (hub/auth/initial_passwords.py):
    #: it signs in only to choose their own, and is refused from this moment. NULL: their own.
    initial_password_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Last accepted TOTP time step: a code is refused if its step is not newer (no replay).
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="user"
    )

    # Set for the current request by the session loader: which sign-in this is.
    current_session = None

    @property
    def roles(self) -> set[Role]:
        return {r.role for r in self.role_rows}

    # flask-login protocol. get_id() is the server-side session token, not the user id, so a
    # cookie only ever names one sign-in, which the hub can end.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.current_session.token if self.current_session else None


class UserRole(Base):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=40))

    user: Mapped[User] = relationship(back_populates="role_rows")


class UserSession(Base):
    """One sign-in. The cookie carries a random token; the table holds only its hash."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    #: How the user proved who they are: password+totp, recovery-code or sso.
    method: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Why it ended: sign-out, sign-out-everywhere, idle, expired, deactivated, roles-changed.
    end_reason: Mapped[str | None] = mapped_column(String(30))

    user: Mapped[User] = relationship(lazy="joined")
    token = None  # str: the clear token, known only in the request that created or loaded it


class RecoveryCode(Base):
    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInAttempt(Base):
    """Failed sign-ins by client address, for throttling guessing across many accounts, and by
    (account, address), for the per-account lock that a stranger elsewhere cannot trip."""

    __tablename__ = "sign_in_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_address: Mapped[str] = mapped_column(String(64), index=True)
    #: Keyed hash of the e-mail address tried (known or not): never the address itself.
    account_key: Mapped[str | None] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class SsoProvider(Base):
    """An organisation's OpenID Connect provider. One per organisation, so each has its own
    redirect URI and a response can never be mistaken for another provider's (IdP mix-up)."""

    __tablename__ = "sso_provider"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), unique=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret: Mapped[str] = mapped_column(EncryptedText)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class SsoIdentity(Base):
    """A user's link to an identity at their organisation's provider, keyed on (issuer, subject):
    once linked, a changed e-mail at the provider cannot move the sign-in to another account."""

    __tablename__ = "sso_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject"), CheckConstraint("length(subject) > 0", name="subject"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
