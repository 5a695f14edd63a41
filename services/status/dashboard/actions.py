"""The decisions people take in the dashboard, each sent to the service that decides it, over its REST API,
with the signed-in person's own token: the same door, the same rules and the same events as an agency
system's request. The dashboard decides nothing and writes no database; it shows a form where the case's
stage calls for one, and the service's answer.

Each action names the permission its form needs (only shown to those who hold it, and required again by
the dashboard's route before anything is sent), the service and path it posts to, the form fields it
forwards (a field left empty is left out, so the service's own default or "required" applies), and the
stage at which its form is offered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from shared.i18n import N_
from services.status.settings import StatusSettings
from shared.status_model import CaseStatus, Stage


@dataclass(frozen=True)
class Action:
    name: str
    permission: str
    service: str
    fields: tuple[str, ...]
    path: Callable[[CaseStatus], str]
    # Whether the case page offers the form for the case as it stands (the service judges it regardless).
    offered: Callable[[CaseStatus], bool]
    done: str  # the flash message after success (a msgid)
    # Fields taken from the case rather than the form.
    from_case: Callable[[CaseStatus], dict] = lambda _case: {}


ACTIONS: dict[str, Action] = {action.name: action for action in (
    Action("verification", "case:verify", "recommendation", ("outcome", "reason"),
           lambda case: f"/v1/cases/{case.case_id}/verification",
           lambda case: case.stage == Stage.AWAITING_VERIFICATION,
           N_("The verification is recorded.")),
    Action("clarification", "case:examine", "recommendation", ("outcome", "clarified_on", "summary"),
           lambda case: f"/v1/cases/{case.case_id}/clarification",
           lambda case: case.stage == Stage.AWAITING_EXAMINATION and case.clarification is None,
           N_("The civil servant's clarification is recorded.")),
    Action("examination", "case:examine", "recommendation",
           ("outcome", "category", "sanction_level", "legal_basis", "reason"),
           lambda case: f"/v1/cases/{case.case_id}/examination",
           lambda case: case.stage == Stage.AWAITING_EXAMINATION,
           N_("The finding is recorded; a proven case goes to its PPK with the recommendation.")),
    Action("followup", "followup:record", "sanction",
           ("decree_number", "decree_date", "sanction_level", "effective_from", "effective_until", "reason"),
           lambda case: f"/v1/cases/{case.case_id}/followup",
           lambda case: case.stage == Stage.AWAITING_PPK,
           N_("The decree is recorded.")),
    # BKN (a regional office for its region) reminds the PPK of a sanction still owed, while the deadline runs.
    Action("reminder", "followup:remind", "sanction", ("message",),
           lambda case: f"/v1/cases/{case.case_id}/reminders",
           lambda case: case.stage == Stage.AWAITING_PPK and not case.deadline_suspended,
           N_("The reminder is sent to the PPK.")),
    Action("block", "block:write", "blocking", ("reason",),
           lambda case: f"/v1/personnel/{case.nip}/block",
           lambda case: case.stage == Stage.AWAITING_PPK and not case.blocked,
           N_("The personnel data is blocked."),
           from_case=lambda case: {"case_id": case.case_id, "agency_code": case.agency_code}),
    Action("unblock", "block:write", "blocking", ("reason", "block_id"),
           lambda case: f"/v1/personnel/{case.nip}/unblock",
           lambda case: case.blocked,
           N_("The block is lifted.")),
)}

# The values the forms offer (the services' own vocabularies), in the order people choose from.
VERIFICATION_OUTCOMES = (("accepted", N_("accepted: go on to examination")), ("rejected", N_("rejected")),
                         ("cancelled", N_("cancelled")), ("out_of_service", N_("already out of service")))
CLARIFICATION_OUTCOMES = (("given", N_("given")), ("declined", N_("declined to clarify")))
EXAMINATION_OUTCOMES = (("proven", N_("proven")), ("not_proven", N_("not proven")))
CATEGORIES = ("ethics", "discipline")
SANCTION_LEVELS = ("moral_closed", "moral_open", "light", "moderate", "severe", "dishonourable_dismissal")


def body_of(action: Action, case: CaseStatus, form: dict[str, str]) -> dict:
    body = {name: form[name].strip() for name in action.fields if form.get(name, "").strip()}
    body.update({name: value for name, value in action.from_case(case).items() if value is not None})
    return body


@dataclass(frozen=True)
class Answer:
    """The service's answer: ``status`` None when it could not be reached."""

    status: int | None
    problem: dict | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def send(settings: StatusSettings, action: Action, case: CaseStatus, body: dict, *, token: str,
               client_address: str | None = None) -> Answer:
    headers = {"Authorization": f"Bearer {token}"}
    if client_address:  # for the service's per-client limits and its log, when it trusts this service as a proxy
        headers["X-Forwarded-For"] = client_address
    try:
        async with httpx.AsyncClient(base_url=settings.base_url_of(action.service), timeout=15) as client:
            answer = await client.post(action.path(case), json=body, headers=headers)
    except httpx.HTTPError:
        return Answer(None)
    if 200 <= answer.status_code < 300:
        return Answer(answer.status_code)
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    return Answer(answer.status_code, problem if isinstance(problem, dict) else None)
