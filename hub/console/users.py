"""People who sign in to the console, their roles, and their passwords (argon2id).

Roles are reviewed code: each says who may hold it and what it opens. A role never grants
more than the sharing rules would grant the same person through their agency's system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from hub.agencies.models import Agency
from hub.db.base import Base, UTCDateTime, utcnow

MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12


class ConsoleRole(StrEnum):
    """Who may hold each role: IG officers are named in the data sharing agreement;
    lead professionals and front-door practitioners are practitioners at a partner agency;
    administrators manage console accounts and never see case or log data."""

    IG_OFFICER = "ig-officer"
    LEAD_PROFESSIONAL = "lead-professional"
    FRONT_DOOR = "front-door"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        return {
            ConsoleRole.IG_OFFICER: "Information governance officer",
            ConsoleRole.LEAD_PROFESSIONAL: "Lead professional",
            ConsoleRole.FRONT_DOOR: "Front-door practitioner",
            ConsoleRole.ADMINISTRATOR: "Administrator",
        }[self]

    @property
    def practitioner(self) -> bool:
        """Roles that ask about children, and so act for an agency as a practitioner."""
        return self in (ConsoleRole.LEAD_PROFESSIONAL, ConsoleRole.FRONT_DOOR)


class ConsoleUser(Base):
    __tablename__ = "console_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(24))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"), default=None)
    practitioner_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    agency: Mapped[Agency | None] = relationship(lazy="joined")

    @property
    def console_role(self) -> ConsoleRole:
        return ConsoleRole(self.role)


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong username costs as long as a
# wrong password and the response time does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing-only")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"A password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    return _hasher.hash(password)


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: ConsoleRole,
    password: str,
    agency: Agency | None = None,
    practitioner_ref: str | None = None,
) -> ConsoleUser:
    username = username.strip().lower()
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise UserError("A username is 1 to 64 characters, without spaces.")
    if session.execute(select(ConsoleUser.id).where(ConsoleUser.username == username)).first():
        raise UserError(f"There is already a user called '{username}'.")
    if role.practitioner and (agency is None or not practitioner_ref):
        raise UserError(
            f"A {role.label.lower()} acts for an agency: give the agency and their "
            "practitioner reference there."
        )
    user = ConsoleUser(
        username=username,
        display_name=display_name.strip() or username,
        role=str(role),
        agency_id=agency.id if agency else None,
        practitioner_ref=practitioner_ref,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class SignIn:
    user: ConsoleUser | None
    locked: bool = False


def authenticate(session: Session, username: str, password: str) -> SignIn:
    """Check a username and password; count failures and lock the account for a while."""
    now = utcnow()
    user = session.execute(
        select(ConsoleUser).where(ConsoleUser.username == username.strip().lower())
    ).scalar_one_or_none()
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        return SignIn(user=None)
    if user.locked_until is not None and user.locked_until > now:
        _verify(_DUMMY_HASH, password)
        return SignIn(user=None, locked=True)
    if not _verify(user.password_hash, password):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            user.locked_until = now + LOCKOUT
            user.failed_sign_ins = 0
        return SignIn(user=None)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_signed_in_at = now
    return SignIn(user=user)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
