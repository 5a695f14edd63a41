"""People's accounts: add, list, disable, reset a password, and sign in. The caller owns the transaction;
the slow hashing runs in a worker thread so the event loop keeps serving. Every change is audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import passwords
from services.identity.models import User, UserAudit
from services.identity.schemas import UserCreated, UserIn, UserOut


class UserNotFound(LookupError):
    pass


class UserExists(ValueError):
    pass


class UserDisabled(RuntimeError):
    pass


def out(user: User) -> UserOut:
    return UserOut(
        username=user.username, display_name=user.display_name, agency_code=user.agency_code, roles=user.roles,
        ppk_agency=user.ppk_agency, bkn_office=user.bkn_office, totp_enrolled=user.totp_secret is not None, locked_until=user.locked_until,
        last_login_at=user.last_login_at, created_at=user.created_at, created_by=user.created_by,
        password_reset_at=user.password_reset_at, disabled_at=user.disabled_at, disabled_by=user.disabled_by,
    )


def audit(session: AsyncSession, *, actor: str, action: str, username: str, now: dt.datetime,
           detail: str | None = None) -> None:
    session.add(UserAudit(at=now, actor=actor[:100], action=action, username=username, detail=detail))


async def add(session: AsyncSession, *, data: UserIn, created_by: str, now: dt.datetime) -> UserCreated:
    """A new account; the password made (when none was given) and the TOTP enrolment URI (when a role
    requires one) are in the answer, and nowhere else."""
    if await session.get(User, data.username) is not None:
        raise UserExists(data.username)
    made = data.password is None
    password = passwords.new_password() if made else data.password
    secret = passwords.new_totp_secret() if passwords.totp_required(data.roles) else None
    user = User(
        username=data.username, display_name=data.display_name or data.username, agency_code=data.agency_code,
        roles=data.roles, ppk_agency=data.ppk_agency, bkn_office=data.bkn_office,
        password_hash=await asyncio.to_thread(passwords.hash_password, password), totp_secret=secret,
        failed_logins=0, created_at=now, created_by=created_by[:100],
    )
    session.add(user)
    audit(session, actor=created_by, action="created", username=user.username, now=now,
           detail=f"roles {' '.join(user.roles)} agency {user.agency_code}")
    await session.flush()
    return UserCreated(**out(user).model_dump(), password=password if made else None,
                       totp_uri=passwords.enrolment_uri(secret, user.username) if secret else None)


async def list_all(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.username))).all())


async def get(session: AsyncSession, username: str, *, for_update: bool = False) -> User | None:
    key = username.strip().lower()
    if not key or len(key) > 64:
        return None
    return await session.get(User, key, with_for_update=for_update)


async def _existing(session: AsyncSession, username: str, *, for_update: bool = False) -> User:
    user = await get(session, username, for_update=for_update)
    if user is None:
        raise UserNotFound(username)
    return user


async def disable(session: AsyncSession, *, username: str, disabled_by: str, now: dt.datetime) -> User:
    """The person can no longer sign in; a session already open runs out on its own
    (SBT_USER_SESSION_TTL_SECONDS)."""
    user = await _existing(session, username, for_update=True)
    if user.disabled_at is not None:
        raise UserDisabled(username)
    user.disabled_at, user.disabled_by = now, disabled_by[:100]
    audit(session, actor=disabled_by, action="disabled", username=user.username, now=now)
    await session.flush()
    return user


async def reset_password(session: AsyncSession, *, username: str, password: str | None, reset_totp: bool,
                         reset_by: str, now: dt.datetime) -> tuple[User, str | None, str | None]:
    """A new password (made when none is given), the lock lifted; with ``reset_totp`` (or when a role
    requires a second factor the account lacks) a new TOTP secret. Answers the user, the password made
    and the enrolment URI, the last two only when new."""
    user = await _existing(session, username, for_update=True)
    if user.disabled_at is not None:
        raise UserDisabled(username)
    made = password is None
    password = passwords.new_password() if made else password
    user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
    user.failed_logins, user.locked_until, user.password_reset_at = 0, None, now
    uri = None
    if passwords.totp_required(user.roles) and (reset_totp or user.totp_secret is None):
        user.totp_secret = passwords.new_totp_secret()
        uri = passwords.enrolment_uri(user.totp_secret, user.username)
    audit(session, actor=reset_by, action="password reset", username=user.username, now=now,
           detail="and TOTP" if uri else None)
    await session.flush()
    return user, password if made else None, uri


class SignIn(enum.Enum):
    OK = "ok"
    REFUSED = "refused"  # unknown, wrong password, disabled or locked: all answered alike
    TOTP_REQUIRED = "totp required"
    TOTP_INVALID = "totp invalid"


@dataclass(frozen=True)
class Outcome:
    result: SignIn
    user: User | None = None


async def sign_in(session: AsyncSession, *, username: str, password: str, totp: str | None, now: dt.datetime,
                  lockout: passwords.Lockout) -> Outcome:
    """Checks a person's password (and TOTP code), counting failures towards the lockout. Every refusal
    before the password is known to be right costs the same hash check and gives the same answer, so
    nobody learns which usernames exist, which are disabled or which are locked."""
    # Locked for this transaction, so that failures counted side by side are all counted.
    user = await get(session, username, for_update=True)
    stored = user.password_hash if user is not None else None
    matches = await asyncio.to_thread(passwords.verify_password, password, stored)
    if user is None or user.disabled_at is not None:
        return Outcome(SignIn.REFUSED)
    if lockout.locked(user.locked_until, now):
        return Outcome(SignIn.REFUSED)
    if not matches:
        _failed(user, now, lockout)
        return Outcome(SignIn.REFUSED)
    if user.totp_secret is not None or passwords.totp_required(user.roles):
        if not totp:
            return Outcome(SignIn.TOTP_REQUIRED, user)
        # A role that requires a second factor without one enrolled cannot sign in until it is reset.
        if user.totp_secret is None or not passwords.verify_totp(user.totp_secret, totp, now):
            _failed(user, now, lockout)
            return Outcome(SignIn.TOTP_INVALID, user)
    if passwords.needs_rehash(user.password_hash):  # the parameters were raised since it was hashed
        user.password_hash = await asyncio.to_thread(passwords.hash_password, password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return Outcome(SignIn.OK, user)


def _failed(user: User, now: dt.datetime, lockout: passwords.Lockout) -> None:
    user.failed_logins, locked_until = lockout.after_failure(user.failed_logins, now)
    if locked_until is not None:
        user.locked_until = locked_until
