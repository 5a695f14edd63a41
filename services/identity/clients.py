"""The registered clients: register, list, revoke, rotate a secret, authenticate. The caller owns the
transaction; the slow hashing runs in a worker thread so the event loop keeps serving."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity import credentials
from services.identity.models import Client
from services.identity.schemas import ClientIn

# The shape of the ids this service makes (and a little more); anything else cannot name a client.
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")


class ClientNotFound(LookupError):
    pass


class ClientRevoked(RuntimeError):
    pass


async def register(session: AsyncSession, *, data: ClientIn, created_by: str, now: dt.datetime) -> tuple[Client, str]:
    """A new client and its secret (the only time the secret exists outside the caller)."""
    secret = credentials.new_secret()
    client = Client(
        client_id=credentials.new_client_id(), name=data.name, agency_code=data.agency_code, roles=data.roles,
        ppk_agency=data.ppk_agency, bkn_office=data.bkn_office, secret_hash=await asyncio.to_thread(credentials.hash_secret, secret),
        created_at=now, created_by=created_by[:100],
    )
    session.add(client)
    await session.flush()
    return client, secret


async def list_all(session: AsyncSession, *, include_revoked: bool = True) -> list[Client]:
    query = select(Client).order_by(Client.created_at, Client.client_id)
    if not include_revoked:
        query = query.where(Client.revoked_at.is_(None))
    return list((await session.scalars(query)).all())


async def get(session: AsyncSession, *, client_id: str) -> Client | None:
    if not _CLIENT_ID.match(client_id):
        return None
    return await session.get(Client, client_id)


async def revoke(session: AsyncSession, *, client_id: str, revoked_by: str, now: dt.datetime) -> Client:
    """Refuses new tokens to the client from now on; tokens it already holds run out on their own
    (SBT_CLIENT_TOKEN_TTL_SECONDS)."""
    _known_shape(client_id)
    changed = await session.execute(
        update(Client).where(Client.client_id == client_id, Client.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=revoked_by[:100])
    )
    return await _changed_or_refused(session, client_id, changed.rowcount)


async def rotate_secret(session: AsyncSession, *, client_id: str, now: dt.datetime) -> tuple[Client, str]:
    """A new secret; the previous one stops working when this transaction commits."""
    _known_shape(client_id)
    secret = credentials.new_secret()
    secret_hash = await asyncio.to_thread(credentials.hash_secret, secret)
    changed = await session.execute(
        update(Client).where(Client.client_id == client_id, Client.revoked_at.is_(None))
        .values(secret_hash=secret_hash, secret_rotated_at=now)
    )
    return await _changed_or_refused(session, client_id, changed.rowcount), secret


def _known_shape(client_id: str) -> None:
    if not _CLIENT_ID.match(client_id):
        raise ClientNotFound(client_id)


async def _changed_or_refused(session: AsyncSession, client_id: str, rowcount: int) -> Client:
    client = await get(session, client_id=client_id)
    if client is None:
        raise ClientNotFound(client_id)
    if rowcount == 0:
        raise ClientRevoked(client_id)
    await session.refresh(client)
    return client


async def authenticate(session: AsyncSession, *, client_id: str, secret: str) -> Client | None:
    """The client, when the id names an active client and the secret is its own; None otherwise. An
    unknown, revoked or wrongly-keyed client costs the same hash check, so none can be told apart."""
    client = await get(session, client_id=client_id)
    stored = client.secret_hash if client is not None else None
    matches = await asyncio.to_thread(credentials.verify_secret, secret, stored)
    if not matches or client is None or client.revoked_at is not None:
        return None
    return client
