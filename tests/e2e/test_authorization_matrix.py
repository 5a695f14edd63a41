"""The authorisation matrix: every endpoint x every role (and no token) x own agency / other agency.

The role dimension is read from the code itself (each route's permission and the one table in
shared/authz.py), so a new endpoint is covered the moment it lands: a role without the permission must
get 403, a role with it must get past authorisation (any answer but 401/403), no token must get 401, and
the public endpoints must answer without one. The agency dimension is data (``SCOPED``): real cases in
agency A, read and acted on by callers of agency A and of agency B. Add a row when an endpoint is scoped.
The dashboard's pages and fragments are covered in both: each one x every role x own / other agency on the
same case (``DASHBOARD``; a dashboard route without rows there fails the test).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import nats
import pytest
from fastapi.routing import APIRoute

from services.registry import SERVICES, create_app
from shared.authz import PERMISSIONS, ROLES, allowed
from shared.events import GENESIS_HASH, Envelope, nats_subject
from shared.events.envelope import utc_now_text
from shared.events.recommendation import RecommendationIssued
from shared.ids import new_id
from services.cli.settings import SystemSettings
from tests.e2e.reports import random_nip, report_body
from tests.harness.ports import eventually
from tests.harness.signing import producer_key

pytestmark = pytest.mark.e2e

OWN, OTHER = "PEMPROV-JABAR", "PEMKOT-BANDUNG"
CALLER_ROLES = [role for role in ROLES if role != "public"]


# -- the role dimension, read from the routes ----------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    service: str
    method: str
    path: str
    permission: str
    int_params: frozenset[str]


def _api_routes(routes):
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from _api_routes(original.routes)
        elif isinstance(route, APIRoute):
            yield route


def _permission(dependant) -> str | None:
    for dependency in dependant.dependencies:
        found = getattr(dependency.call, "permission", None) or _permission(dependency)
        if found:
            return found
    return None


def endpoints(tmp_path) -> list[Endpoint]:
    found = []
    for service in SERVICES:
        app = create_app(service, SystemSettings(env="test", data_dir=tmp_path))
        for route in _api_routes(app.routes):
            permission = _permission(route.dependant)
            if permission is None:  # health, metrics: open by design, checked by the contract test
                continue
            int_params = frozenset(p.name for p in route.dependant.path_params
                                   if getattr(p.field_info, "annotation", None) is int)
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                found.append(Endpoint(service, method, route.path, permission, int_params))
    return found


def _fill(endpoint: Endpoint, agency: str, nip: str) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name in endpoint.int_params:
            return "1"
        if name == "nip":
            return nip
        if name in ("code", "agency", "agency_code"):
            return agency
        return "01JMATRIX0000000000000000"

    return re.sub(r"\{([a-z_]+)(?::[a-z]+)?\}", value, endpoint.path)


@dataclass(frozen=True)
class Answer:
    status_code: int
    text: str


async def _call(system, endpoint: Endpoint, token: str | None, agency: str, nip: str) -> Answer:
    """Only the status and the start of the body: some answers stream (an export, live updates)."""
    async with system.client(endpoint.service, token) as client:
        body = {} if endpoint.method in ("POST", "PUT", "PATCH") else None
        async with client.stream(endpoint.method, _fill(endpoint, agency, nip), json=body) as response:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                return Answer(response.status_code, "")
            first = b""
            async for chunk in response.aiter_bytes():
                first += chunk
                if len(first) > 300:
                    break
            return Answer(response.status_code, first.decode(errors="replace"))


# -- the agency dimension, as data ---------------------------------------------------------------------

@dataclass(frozen=True)
class Scoped:
    """One cell of the agency dimension: ``role`` of ``agency`` calls ``method path``; expected status."""

    what: str
    service: str
    method: str
    path: str  # may use {case_id}, {nip}, {report_id}, {own}
    role: str
    agency: str
    expected: int | tuple[int, ...]
    body: dict | None = None
    # For status reads that answer 200 either way: how many of the case's rows the caller may see.
    visible_cases: int | None = None


FOLLOWUP = {"decree_number": "800/1/BKD/2024", "decree_date": "2024-11-20", "sanction_level": "moderate",
            "effective_from": "2024-11-21"}

WEBHOOK = {"url": "https://93.184.215.14/sbt", "event_types": ["sbt.subscription.disabled.v1"], "agency_codes": [OWN]}

SCOPED = [
    Scoped("a PPK reads its own civil servant's status", "status", "GET", "/v1/asn/{nip}/status", "ppk", OWN, 200,
           visible_cases=1),
    Scoped("a PPK of another agency sees nothing of it", "status", "GET", "/v1/asn/{nip}/status", "ppk", OTHER, 200,
           visible_cases=0),
    Scoped("a national observer sees it", "status", "GET", "/v1/asn/{nip}/status", "observer", OTHER, 200,
           visible_cases=1),
    Scoped("a PPK reads its own case's timeline", "status", "GET", "/v1/cases/{case_id}/timeline", "ppk", OWN, 200),
    Scoped("not another agency's", "status", "GET", "/v1/cases/{case_id}/timeline", "ppk", OTHER, 404),
    Scoped("a PPK reads its own worklist", "status", "GET", "/v1/agencies/{own}/cases", "ppk", OWN, 200),
    Scoped("not another agency's worklist", "status", "GET", "/v1/agencies/{own}/cases", "ppk", OTHER, 403),
    Scoped("a PPK reads its own follow-up obligation", "sanction", "GET", "/v1/followups/{case_id}", "ppk", OWN, 200),
    Scoped("not another agency's", "sanction", "GET", "/v1/followups/{case_id}", "ppk", OTHER, 403),
    Scoped("a PPK of another agency cannot record the follow-up", "sanction", "POST", "/v1/cases/{case_id}/followup",
           "ppk", OTHER, 403, body=FOLLOWUP),
    Scoped("nor list another agency's follow-ups", "sanction", "GET", f"/v1/followups?agency={OWN}", "ppk",
           OTHER, 403),
    Scoped("a reporter reads the report it filed", "intake", "GET", "/v1/reports/{report_id}", "reporter",
           "BAWASLU", 200),
    Scoped("not another agency's report", "intake", "GET", "/v1/reports/{report_id}", "reporter", "KPU", 404),
    # Webhooks cover the caller's scope only (a filter cannot widen it); the event type chosen never occurs
    # here, so nothing is sent anywhere.
    Scoped("a PPK subscribes a webhook to its own agency's events", "notify", "POST", "/v1/subscriptions", "ppk",
           OWN, 201, body=WEBHOOK),
    Scoped("not to another agency's", "notify", "POST", "/v1/subscriptions", "ppk", OTHER, 422, body=WEBHOOK),
    Scoped("a national observer may filter by any agency", "notify", "POST", "/v1/subscriptions", "observer",
           OTHER, 201, body=WEBHOOK),
    # Last: the rightful PPK acts, after every refusal above changed nothing.
    Scoped("the case's own PPK records the follow-up", "sanction", "POST", "/v1/cases/{case_id}/followup", "ppk",
           OWN, 201, body=FOLLOWUP),
]


def _office(role: str) -> str | None:
    """A regional office's token names its office, as identity makes it: Kanreg III (Jawa Barat) covers the
    case's agency here, so it reads like a national reader; tests/e2e/test_regional_office.py crosses regions."""
    return "III" if role == "bkn_regional" else None


async def _publish_recommendation(system, case_id: str, nip: str) -> None:
    """As the recommendation service would (its own chain), so the sanction service opens a deadline."""
    data = RecommendationIssued(
        case_id=case_id, recommendation_number="REK-2024-000001", nip=nip, agency_code=OWN, category="discipline",
        sanction_level="moderate", legal_basis="PP 94/2021 pasal 5 huruf n", examining_authority="BKN",
        issued_at=dt.datetime(2024, 11, 18, 3, tzinfo=dt.UTC),
    )
    envelope = Envelope(id=new_id(), source="/sbt/recommendation", type=data.event_type, time=utc_now_text(),
                        subject=case_id, data=data.model_dump(mode="json")).chained(
                            1, GENESIS_HASH, producer_key(system, "recommendation"))
    connection = await nats.connect(system.nats.url)  # the test-only ops user
    try:
        await connection.jetstream().publish(nats_subject(RecommendationIssued),
                                             envelope.model_dump_json(exclude_none=True).encode(),
                                             headers={"Nats-Msg-Id": envelope.id})
    finally:
        await connection.close()


async def test_every_endpoint_by_every_role_and_agency(make_system, tmp_path):
    table = endpoints(tmp_path)
    assert len({(e.service, e.path) for e in table}) >= 20
    system = await make_system(*SERVICES, extra_env={"SBT_PUBLIC_BURST": "100000",
                                                      "SBT_CLOCK_FIXED": "2024-11-25T03:00:00+00:00"})
    nip = random_nip()

    wrong: list[str] = []
    cells = 0
    for endpoint in table:
        public = allowed(endpoint.permission, {"public"})
        if not public:
            response = await _call(system, endpoint, None, OWN, nip)
            cells += 1
            # 401, or for the browser dashboard a redirect to its sign-in page: either way, nothing served.
            if response.status_code not in (401, 303):
                wrong.append(f"{endpoint.method} {endpoint.service}{endpoint.path} without a token: "
                             f"{response.status_code}")
        for role in CALLER_ROLES:
            for agency in (OWN, OTHER):
                token = system.token(agency, role, ppk_agency=OWN if role == "ppk" else None, bkn_office=_office(role))
                response = await _call(system, endpoint, token, OWN, nip)
                cells += 1
                may = public or allowed(endpoint.permission, {role})
                got = response.status_code
                # A public sign-in form sent without its form token is refused by the CSRF check, not by a role.
                form_refused = public and got == 403 and "csrf_token" in response.text
                if (not may and got != 403) or (may and got in (401, 403) and not _scoped_refusal(role, agency)
                                                and not form_refused):
                    wrong.append(f"{endpoint.method} {endpoint.service}{endpoint.path} as {role} of {agency}: "
                                 f"expected {'allow' if may else '403'}, got {got} {response.text[:200]}")
    assert not wrong, f"{len(wrong)} of {cells} cells wrong:\n" + "\n".join(wrong)

    # The agency dimension, on a real case of agency OWN that awaits its PPK.
    async with system.client("intake", system.token("BAWASLU", "reporter")) as client:
        filed = (await client.post("/v1/reports", json=report_body(nip, agency_code=OWN))).json()
    case_id, report_id = filed["case_id"], filed["report_id"]
    await _publish_recommendation(system, case_id, nip)

    async def awaiting_ppk():
        async with system.client("sanction", system.token("BKN", "admin")) as client:
            return (await client.get(f"/v1/followups/{case_id}")).status_code == 200

    await eventually(awaiting_ppk, 20, "the follow-up obligation in the sanction service")
    async with system.client("status", system.token("BKN", "observer")) as client:
        await eventually(lambda: _has_case(client, nip), 20, "the case in the status")

    for row in SCOPED:
        path = row.path.format(case_id=case_id, nip=nip, report_id=report_id, own=OWN)
        token = system.token(row.agency, row.role, ppk_agency=row.agency if row.role == "ppk" else None,
                             bkn_office=_office(row.role))
        async with system.client(row.service, token) as client:
            response = await client.request(row.method, path, json=row.body)
        expected = row.expected if isinstance(row.expected, tuple) else (row.expected,)
        assert response.status_code in expected, f"{row.what}: {response.status_code} {response.text[:300]}"
        if row.visible_cases is not None:
            assert len(response.json()["cases"]) == row.visible_cases, row.what
            assert row.visible_cases or not response.json()["blocked"], row.what

    wrong = await _dashboard_cells(system, table, case_id, nip)
    assert not wrong, f"{len(wrong)} dashboard cells wrong:\n" + "\n".join(wrong)


# -- the dashboard: every page and fragment x every role x own / other agency, on the same real case ------

@dataclass(frozen=True)
class Page:
    path: str  # may use {case_id}, {nip}
    route: str  # the route it is served by
    # What a caller who may see the case gets when it may not: 404 (as if there were none), or the page
    # without the case in it (200, as the API answers a NIP's status).
    hidden: int
    # What shows the case on the page: its id, or on a case page (whose 404 names the id asked for) the NIP.
    marker: str = "case_id"
    method: str = "GET"
    # What a caller who may see the case gets: the page (200), or for a decision's form posted empty (with
    # a bearer token, so without a form token) the deciding service's refusal on the case page (422).
    seen: int = 200


DASHBOARD = [
    Page("/dashboard", "/dashboard", 200),
    Page("/dashboard?part=live", "/dashboard", 200),
    Page(f"/dashboard?agency={OWN}", "/dashboard", 200),
    Page("/dashboard/cases/{case_id}", "/dashboard/cases/{case_id}", 404, marker="nip"),
    Page("/dashboard/cases/{case_id}?part=live", "/dashboard/cases/{case_id}", 404, marker="nip"),
    Page("/dashboard/nip?nip={nip}", "/dashboard/nip", 200),
    Page("/dashboard/stream", "/dashboard/stream", 200),
    Page("/dashboard/export/cases", "/dashboard/export/{listing}", 200),
    Page("/dashboard/export/overdue?format=xlsx", "/dashboard/export/{listing}", 200),
    Page("/dashboard/export/funnel", "/dashboard/export/{listing}", 200),
    # A PPK's landing page: its own agency's obligations; another agency's asked for by name is refused.
    Page("/dashboard/obligations", "/dashboard/obligations", 200),
    Page(f"/dashboard/obligations?agency={OWN}", "/dashboard/obligations", 403),
    Page("/dashboard/obligations?format=csv", "/dashboard/obligations", 200),
    # The other work queues, and the decisions' forms (posted empty: refused by the deciding service).
    Page("/dashboard/verification", "/dashboard/verification", 200),
    Page("/dashboard/examination?format=xlsx", "/dashboard/examination", 200),
    Page("/dashboard/blocking?overdue=1", "/dashboard/blocking", 200),
    *[Page(f"/dashboard/cases/{{case_id}}/{name}", f"/dashboard/cases/{{case_id}}/{name}", 404, marker="nip",
           method="POST", seen=422) for name in ("verification", "clarification", "examination", "followup", "reminder",
                                             "block", "unblock")],
    # The public figures: open to everyone, token or not, and never showing a case or a NIP.
    Page("/dashboard/public", "/dashboard/public", 200, marker="nip"),
]


def _sees_own_agency_only(role: str) -> bool:
    """Written out here rather than read from shared/authz.py: only a PPK is limited to its own agency."""
    return role == "ppk"


async def _dashboard_cells(system, table: list[Endpoint], case_id: str, nip: str) -> list[str]:
    # The sign-in flow's own routes are public steps of a browser's sign-in (tests/e2e/test_oidc_sign_in.py).
    pages = {e.path: e.permission for e in table if e.service == "status" and e.path.startswith("/dashboard")
             and not e.path.startswith("/dashboard/login")}
    assert set(pages) == {page.route for page in DASHBOARD}, "a dashboard route without rows in DASHBOARD"
    wrong = []
    for page in DASHBOARD:
        path = page.path.format(case_id=case_id, nip=nip)
        for role in CALLER_ROLES:
            for agency in (OWN, OTHER):
                token = system.token(agency, role, ppk_agency=agency if role == "ppk" else None, bkn_office=_office(role))
                answer = await _get_page(system, token, path, page.method)
                sees = agency == OWN or not _sees_own_agency_only(role)
                if allowed(pages[page.route], {"public"}):
                    expected, shown = 200, False
                elif not allowed(pages[page.route], {role}):
                    expected, shown = 403, False
                else:
                    expected, shown = (page.seen, True) if sees else (page.hidden, False)
                shows_case = {"case_id": case_id, "nip": nip}[page.marker] in answer.text
                if answer.status_code != expected or (shows_case and not shown):
                    wrong.append(f"GET {path} as {role} of {agency}: expected {expected}"
                                 f"{'' if shown else ' without the case'}, got {answer.status_code}"
                                 f"{' showing the case' if shows_case else ''}")
                elif shown and page.route == "/dashboard/cases/{case_id}" and not shows_case:
                    wrong.append(f"GET {path} as {role} of {agency}: the case page lacks the case")
    return wrong


async def _get_page(system, token: str, path: str, method: str = "GET") -> Answer:
    async with system.client("status", token) as client:
        async with client.stream(method, path) as response:
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                return Answer(response.status_code, "")
            return Answer(response.status_code, (await response.aread()).decode(errors="replace"))


def _scoped_refusal(role: str, agency: str) -> bool:
    """A PPK token acting for OWN is refused on OTHER's data by the scope, not by the role: that is the
    agency dimension, asserted row by row in SCOPED on real data."""
    return role == "ppk" and agency == OTHER


async def _has_case(client, nip: str) -> bool:  # noqa: ANN001
    response = await client.get(f"/v1/asn/{nip}/status")
    return response.status_code == 200 and bool(response.json()["cases"])


def test_every_permission_in_the_table_is_granted_to_known_roles_only():
    for permission, roles in PERMISSIONS.items():
        assert roles <= set(ROLES), permission
