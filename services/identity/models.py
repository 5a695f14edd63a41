"""Identity's own tables: the registered agency clients (and the access log of who did what here)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, String
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
    # A slow, salted hash of the secret (services/identity/credentials.py); the secret itself is shown once
    # when it is made and never stored.
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    secret_rotated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))


access_log = access_log_table(Base.metadata)
write_rate = write_rate_table(Base.metadata)
