"""People sign in with their agency's own OpenID provider, through the identity service as through
``POST /v1/sessions``: a front end (the dashboard) asks ``POST /v1/sessions/oidc/start`` where to send the
browser, keeps the sealed transaction in the browser, and once the provider sends the person back hands
the code and state to ``POST /v1/sessions/oidc``, which answers the same kind of session token as a
password sign-in. Every sign-in, and every person turned away, is written to ``user_audit``.

Off (404) while SBT_OIDC_ISSUER and SBT_OIDC_CLIENT_ID are unset."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from services.identity import oidc, signing_in
from services.identity.oauth import _failure_limiter
from services.identity.oidc_claims import Refused
from services.identity.schemas import OidcSessionIn, OidcStartOut, SessionOut
from services.identity.sessions import _NO_STORE, SESSION_PERMISSION, failure_budget, issue
from shared.problems import Problem
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1/sessions/oidc", tags=["sessions"])

# Why a person the provider vouched for is not let in, as the status of the answer.
_REFUSAL_STATUS = {"no role": 403, "no agency": 403, "no regional office": 403, "second factor required": 403}


def _party(request: Request) -> oidc.RelyingParty:
    party = oidc.relying_party(request.app.state)
    if party is None:
        raise Problem(404, "not configured", "sign-in with an OpenID provider is not configured here "
                                             "(SBT_OIDC_ISSUER, SBT_OIDC_CLIENT_ID)")
    return party


def _unavailable(error: oidc.Unavailable) -> Problem:
    return Problem(503, "provider unavailable", str(error), headers={"Retry-After": "30"})


@router.post("/start", response_model=OidcStartOut, summary="Begin a sign-in at the agency's OpenID provider",
             responses={404: {"description": "no OpenID provider is configured"},
                        429: {"description": "too many failed sign-ins from this address; see Retry-After"},
                        503: {"description": "the provider cannot be reached; see Retry-After"}})
async def start(request: Request, address: Annotated[str, Depends(failure_budget)]) -> JSONResponse:
    party = _party(request)
    try:
        started = await party.start()
    except oidc.Unavailable as error:
        raise _unavailable(error) from None
    answer = OidcStartOut(authorization_url=started.authorization_url, transaction=started.transaction,
                          expires_in=started.expires_in)
    return JSONResponse(answer.model_dump(), headers=_NO_STORE)


@router.post("", response_model=SessionOut, summary="Finish a sign-in: the provider's code in, a session out",
             responses={401: {"description": "refused: a transaction, state or code that is not this sign-in's "
                                             "(a replayed code included), or an ID token that is not valid"},
                        403: {"description": "the provider vouched for the person, but their claims map to no "
                                             "SBT role or agency, or their role needs a second factor"},
                        404: {"description": "no OpenID provider is configured"},
                        429: {"description": "too many failed sign-ins from this address; see Retry-After"},
                        503: {"description": "the provider cannot be reached; see Retry-After"}})
async def finish(body: OidcSessionIn, request: Request, address: Annotated[str, Depends(failure_budget)],
                 runtime: RuntimeDep) -> JSONResponse:
    party = _party(request)
    try:
        person = await party.finish(code=body.code, state=body.state, transaction=body.transaction,
                                            iss=body.iss)
    except oidc.Unavailable as error:
        raise _unavailable(error) from None
    except Refused as refused:
        status = _REFUSAL_STATUS.get(refused.title, 401)
        if status == 401:  # a forged or replayed answer counts against the address, as a wrong password does
            _failure_limiter(request).check(SESSION_PERMISSION, address)
        else:  # a real person turned away: an administrator will want to see who, and why
            await signing_in.audit_oidc(runtime=runtime, action="oidc refused", subject=refused.subject or "oidc:unknown",
                         detail=f"{refused.title}: {refused.detail}")
        raise Problem(status, refused.title, refused.detail) from None
    await signing_in.audit_oidc(runtime=runtime, action="oidc sign-in", subject=person.subject,
                 detail=f"roles {' '.join(person.roles)}; agency {person.agency}"
                        + (f"; ppk_agency {person.ppk_agency}" if person.ppk_agency else "")
                        + (f"; bkn_office {person.bkn_office}" if person.bkn_office else ""))
    return issue(request, runtime.settings, subject=person.subject, agency=person.agency, roles=person.roles,
                 ppk_agency=person.ppk_agency, username=person.username, display_name=person.display_name,
                 bkn_office=person.bkn_office)
