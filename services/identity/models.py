"""Identity's own tables: the registered agency clients, people's accounts and the audit of who changed
which account (and the access log of who did what here)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.access_log import access_log_table
from shared.db import UtcDateTime
from shared.write_limit import write_rate_table


class Base(DeclarativeBase):
    pass


class Client(Base):
    """An agency system that obtains tokens with its own id and secret (OAuth2 client credentials)."""

    __tablename__ = "clients"

    # Public and random: it names the client in every token it gets (``sub``) and in every access log row.
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_code: Mapped[str] = mapped_column(String(40))
    roles: Mapped[list[str]] = mapped_column(JSON)
    # The agency a PPK client acts for; set exactly when the client holds the ppk role.
    ppk_agency: Mapped[str | None] = mapped_column(String(40))
    # The BKN regional office (Kantor Regional: "I".."XIV") a bkn_regional client reads for; set exactly
    # when it holds that role.
    bkn_office: Mapped[str | None] = mapped_column(String(8))
    # A slow, salted hash of the secret (services/identity/credentials.py); the secret itself is shown once
    # when it is made and never stored.
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    secret_rotated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class User(Base):
    """A person who signs in with a username and password (and a TOTP code for some roles)."""

    __tablename__ = "users"

    # The username as typed, lower-cased: usernames are unique whatever their case.
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    agency_code: Mapped[str] = mapped_column(String(40))
    roles: Mapped[list[str]] = mapped_column(JSON)
    # As for clients: the agency a PPK acts for, set exactly when the person holds the ppk role.
    ppk_agency: Mapped[str | None] = mapped_column(String(40))
    # As for clients: the regional office a bkn_regional person reads for.
    bkn_office: Mapped[str | None] = mapped_column(String(8))
    # Argon2id (services/identity/passwords.py); the password itself is never stored.
    password_hash: Mapped[str] = mapped_column(String(200))
    # Base32; set when a role requires a second factor. Needed in the clear to check a code.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    password_reset_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    disabled_by: Mapped[str | None] = mapped_column(String(100))


class UserAudit(Base):
    """Who made, disabled or reset which account, and when; rows are only ever added."""

    __tablename__ = "user_audit"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    username: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str | None] = mapped_column(String(200))


access_log = access_log_table(Base.metadata)
write_rate = write_rate_table(Base.metadata)
