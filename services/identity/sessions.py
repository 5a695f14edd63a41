"""People sign in: ``POST /v1/sessions`` takes a username and password (and a TOTP code for the accounts
that have one) and answers a short-lived signed token, in the same format and with the same keys as a
client's, saying it is a person's session. The dashboard signs people in through this endpoint, as any
other front end would.

Unknown username, wrong password, disabled or locked account: one answer, at the cost of one hash check.
Only once the password is right does the answer say that a TOTP code is needed, or that it was wrong."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from services.identity import passwords, signing_in, users
from services.identity.oauth import _failure_limiter
from services.identity.schemas import SessionIn, SessionOut
from shared.auth import KIND_CLAIM, PERSON, Actor, mint_token
from shared.authz import allowed
from shared.problems import Problem
from shared.service import RuntimeDep

router = APIRouter(tags=["sessions"])

SESSION_PERMISSION = "session:create"
if not allowed(SESSION_PERMISSION, {"public"}):
    raise RuntimeError(f"{SESSION_PERMISSION} must be granted to the public role: the endpoint takes no token")

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REFUSED = "wrong username or password, or the account is disabled or locked for a while"


async def failure_budget(request: Request) -> str:
    """The caller's address, refused with 429 while its failed sign-ins are over budget (a right password
    included, or the budget would not slow down guessing)."""
    address = request.client.host if request.client else "unknown"
    decision = _failure_limiter(request).peek(SESSION_PERMISSION, address)
    if not decision.allowed:
        raise Problem(429, "too many requests", f"too many failed sign-ins; try again in {decision.retry_after} s",
                      headers={"Retry-After": str(decision.retry_after)})
    return address


failure_budget.permission = SESSION_PERMISSION  # type: ignore[attr-defined] - read by the deny-by-default test


def lockout_of(settings) -> passwords.Lockout:  # noqa: ANN001
    return passwords.Lockout(max_failures=settings.login_max_failures, seconds=settings.login_lockout_seconds)


@router.post(
    "/v1/sessions", response_model=SessionOut, summary="Sign a person in: username, password (and TOTP code)",
    responses={401: {"description": "refused (one answer for unknown user, wrong password, disabled or locked "
                                    "account), or, after a right password, 'totp required' / 'totp invalid'"},
               429: {"description": "too many failed sign-ins from this address; see Retry-After"}},
)
async def create_session(body: SessionIn, request: Request, address: Annotated[str, Depends(failure_budget)],
                         runtime: RuntimeDep) -> JSONResponse:
    settings = runtime.settings
    outcome = await signing_in.sign_in(runtime=runtime, username=body.username, password=body.password,
                                       totp=body.totp, lockout=lockout_of(settings))
    if outcome.result is not users.SignIn.OK:
        if outcome.result is not users.SignIn.TOTP_REQUIRED:
            _failure_limiter(request).check(SESSION_PERMISSION, address)
        raise _refusal(outcome.result)
    user = outcome.user
    assert user is not None
    return issue(request, settings, subject=f"user:{user.username}", agency=user.agency_code, roles=user.roles,
                 ppk_agency=user.ppk_agency if "ppk" in user.roles else None, username=user.username,
                 bkn_office=user.bkn_office if "bkn_regional" in user.roles else None,
                 display_name=user.display_name)


def issue(request: Request, settings, *, subject: str, agency: str, roles: list[str],  # noqa: ANN001
          ppk_agency: str | None, username: str, display_name: str, bkn_office: str | None = None) -> JSONResponse:
    """A person's session, however they signed in (a password here, or their agency's OpenID provider):
    a signed token like a client's, marked as a person's, lasting SBT_USER_SESSION_TTL_SECONDS."""
    request.state.actor = Actor(client_id=subject, agency=agency, roles=frozenset(roles), ppk_agency=ppk_agency,
                                bkn_office=bkn_office)
    ttl = settings.user_session_ttl_seconds
    token = mint_token(settings, agency=agency, roles=roles, client_id=subject, ppk_agency=ppk_agency,
                       bkn_office=bkn_office,
                       ttl_seconds=ttl, extra_claims={KIND_CLAIM: PERSON, "name": display_name})
    answer = SessionOut(access_token=token, token_type="Bearer", expires_in=ttl, username=username,
                        display_name=display_name, roles=roles)
    return JSONResponse(answer.model_dump(), headers=_NO_STORE)


def _refusal(result: users.SignIn) -> Problem:
    if result is users.SignIn.TOTP_REQUIRED:
        return Problem(401, "totp required", "totp: enter the code from your authenticator app",
                       errors=[{"field": "totp", "reason": "required"}])
    if result is users.SignIn.TOTP_INVALID:
        return Problem(401, "totp invalid", "totp: the code is wrong or has expired",
                       errors=[{"field": "totp", "reason": "wrong or expired"}])
    return Problem(401, "sign-in refused", REFUSED)
