"""Managing people's accounts (admin role): list them, make one (the password made and the TOTP
enrolment URI are answered once), disable one, reset a password. ``sbt user`` does the same on the
identity database directly. Each route parses, authorises and calls its unit of work in admin.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from services.identity import admin, users
from services.identity.schemas import PasswordResetIn, UserCreated, UserIn, UserList, UserOut, UserSecrets
from shared.auth import Actor, require
from shared.problems import Problem
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1/users", tags=["users"])

CanReadUsers = Annotated[Actor, Depends(require("user:read"))]
CanWriteUsers = Annotated[Actor, Depends(require("user:write"))]
UsernamePath = Annotated[str, Path(max_length=64, description="The username (any case)")]


def _refusal(error: Exception, username: str) -> Problem:
    if isinstance(error, users.UserNotFound):
        return Problem(404, "not found", f"no user {username}")
    if isinstance(error, users.UserExists):
        return Problem.field("username", f"{username} is taken", status=409)
    return Problem(409, "user disabled", f"user {username} is disabled")


@router.get("", response_model=UserList, summary="Every account (never a password or TOTP secret)")
async def list_users(actor: CanReadUsers, runtime: RuntimeDep) -> UserList:
    return UserList(users=[users.out(user) for user in await admin.list_users(runtime=runtime)])


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED,
             summary="Make an account; a password made and the TOTP enrolment URI are in this answer only",
             responses={409: {"description": "the username is taken"},
                        422: {"description": "a field is invalid (e.g. a PPK without ppk_agency)"}})
async def add_user(body: UserIn, actor: CanWriteUsers, runtime: RuntimeDep) -> UserCreated:
    try:
        return await admin.add_user(runtime=runtime, data=body, actor=actor)
    except users.UserExists as error:
        raise _refusal(error, body.username) from None


@router.post("/{username}/disable", response_model=UserOut,
             summary="Disable an account: no new sign-in; an open session ends within SBT_USER_SESSION_TTL_SECONDS",
             responses={404: {"description": "no such user"}, 409: {"description": "already disabled"}})
async def disable_user(username: UsernamePath, actor: CanWriteUsers, runtime: RuntimeDep) -> UserOut:
    try:
        return users.out(await admin.disable_user(runtime=runtime, username=username, actor=actor))
    except (users.UserNotFound, users.UserDisabled) as error:
        raise _refusal(error, username) from None


@router.post("/{username}/password", response_model=UserSecrets,
             summary="Reset a password (and with reset_totp, the TOTP secret); the lock is lifted",
             responses={404: {"description": "no such user"}, 409: {"description": "the user is disabled"}})
async def reset_password(username: UsernamePath, body: PasswordResetIn, actor: CanWriteUsers,
                         runtime: RuntimeDep) -> UserSecrets:
    try:
        user, password, uri = await admin.reset_password(runtime=runtime, username=username, password=body.password,
                                                         reset_totp=body.reset_totp, actor=actor)
    except (users.UserNotFound, users.UserDisabled) as error:
        raise _refusal(error, username) from None
    return UserSecrets(username=user.username, password=password, totp_uri=uri)
