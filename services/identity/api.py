"""Managing agency clients (admin role): register one (its secret is answered once), list them, revoke
one, rotate a secret. Each route parses, authorises and calls its unit of work in admin.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from services.identity import admin, clients
from services.identity.models import Client
from services.identity.schemas import (
    ClientCreated,
    ClientIn,
    ClientList,
    ClientOut,
    ClientSecret,
)
from shared.auth import Actor, require
from shared.problems import Problem
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1/clients", tags=["clients"])

CanReadClients = Annotated[Actor, Depends(require("client:read"))]
CanWriteClients = Annotated[Actor, Depends(require("client:write"))]
ClientIdPath = Annotated[str, Path(max_length=64, description="The client's id")]


def _out(client: Client) -> ClientOut:
    return ClientOut.model_validate(client, from_attributes=True)


def _refusal(error: Exception, client_id: str) -> Problem:
    if isinstance(error, clients.ClientNotFound):
        return Problem(404, "not found", "no such client")
    return Problem(409, "client revoked", f"client {client_id} is revoked; register a new one")


@router.get("", response_model=ClientList, summary="Every registered client (never a secret)")
async def list_clients(
    actor: CanReadClients, runtime: RuntimeDep,
    include_revoked: Annotated[bool, Query(description="also the revoked clients")] = True,
) -> ClientList:
    found = await admin.list_clients(runtime=runtime, include_revoked=include_revoked)
    return ClientList(clients=[_out(client) for client in found])


@router.post("", response_model=ClientCreated, status_code=status.HTTP_201_CREATED,
             summary="Register an agency client; its secret is in this answer and nowhere else",
             responses={422: {"description": "a field is invalid (e.g. a PPK client without ppk_agency)"}})
async def register_client(body: ClientIn, actor: CanWriteClients, runtime: RuntimeDep) -> ClientCreated:
    client, secret = await admin.register_client(runtime=runtime, data=body, actor=actor)
    return ClientCreated(**_out(client).model_dump(), client_secret=secret)


@router.post("/{client_id}/revoke", response_model=ClientOut,
             summary="Revoke a client: no new tokens; those it holds expire within SBT_CLIENT_TOKEN_TTL_SECONDS",
             responses={404: {"description": "no such client"}, 409: {"description": "already revoked"}})
async def revoke_client(client_id: ClientIdPath, actor: CanWriteClients, runtime: RuntimeDep) -> ClientOut:
    try:
        client = await admin.revoke_client(runtime=runtime, client_id=client_id, actor=actor)
    except (clients.ClientNotFound, clients.ClientRevoked) as error:
        raise _refusal(error, client_id) from None
    return _out(client)


@router.post("/{client_id}/secret", response_model=ClientSecret,
             summary="Rotate a client's secret: the new one is in this answer; the old one stops working",
             responses={404: {"description": "no such client"}, 409: {"description": "the client is revoked"}})
async def rotate_secret(client_id: ClientIdPath, actor: CanWriteClients, runtime: RuntimeDep) -> ClientSecret:
    try:
        client, secret = await admin.rotate_client_secret(runtime=runtime, client_id=client_id)
    except (clients.ClientNotFound, clients.ClientRevoked) as error:
        raise _refusal(error, client_id) from None
    return ClientSecret(client_id=client.client_id, client_secret=secret, secret_rotated_at=client.secret_rotated_at)
