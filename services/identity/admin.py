"""The identity service's units of work for its administrators (``/v1/clients``, ``/v1/users``): each
function begins its own transaction (or read) here, so that the routes only parse, authorise and call.
``sbt user`` and ``sbt client`` work on the database directly through clients.py and users.py, which leave
the transaction to their caller."""

from __future__ import annotations

from services.identity import clients, users
from services.identity.models import Client, User
from services.identity.schemas import ClientIn, UserCreated, UserIn
from shared.auth import Actor
from shared.service import Runtime


async def list_clients(*, runtime: Runtime, include_revoked: bool) -> list[Client]:
    async with runtime.sessions() as session:
        return await clients.list_all(session, include_revoked=include_revoked)


async def register_client(*, runtime: Runtime, data: ClientIn, actor: Actor) -> tuple[Client, str]:
    async with runtime.transaction() as session:
        return await clients.register(session, data=data, created_by=actor.client_id, now=runtime.clock.now())


async def revoke_client(*, runtime: Runtime, client_id: str, actor: Actor) -> Client:
    async with runtime.transaction() as session:
        return await clients.revoke(session, client_id=client_id, revoked_by=actor.client_id, now=runtime.clock.now())


async def rotate_client_secret(*, runtime: Runtime, client_id: str) -> tuple[Client, str]:
    async with runtime.transaction() as session:
        return await clients.rotate_secret(session, client_id=client_id, now=runtime.clock.now())


async def list_users(*, runtime: Runtime) -> list[User]:
    async with runtime.sessions() as session:
        return await users.list_all(session)


async def add_user(*, runtime: Runtime, data: UserIn, actor: Actor) -> UserCreated:
    async with runtime.transaction() as session:
        return await users.add(session, data=data, created_by=actor.client_id, now=runtime.clock.now())


async def disable_user(*, runtime: Runtime, username: str, actor: Actor) -> User:
    async with runtime.transaction() as session:
        return await users.disable(session, username=username, disabled_by=actor.client_id, now=runtime.clock.now())


async def reset_password(*, runtime: Runtime, username: str, password: str | None, reset_totp: bool,
                         actor: Actor) -> tuple[User, str | None, str | None]:
    async with runtime.transaction() as session:
        return await users.reset_password(session, username=username, password=password, reset_totp=reset_totp,
                                          reset_by=actor.client_id, now=runtime.clock.now())
