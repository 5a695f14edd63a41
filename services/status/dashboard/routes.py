"""The dashboard's pages: the national overview (funnel, breakdowns, overdue and blocked lists, the latest
cases), a case page with its timeline, a NIP check, the login form, and a server-sent event stream that
tells open pages when the read model has moved so they refresh their live part without reloading.

The pages are HTML, not API: they are left out of the OpenAPI contract, but each one still names its
permission (``viewer(...)``), like every API route."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import parse_qs, urlencode

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.status.dashboard import charts, queries
from services.status.dashboard.auth import COOKIE, safe_next, viewer
from services.status.dashboard.present import Presenter, Reference, reference
from shared import nip as nip_rules
from shared.auth import Actor, TokenVerifier
from shared.authz import AgencyScope, allowed, may_see_case, scope_of
from shared.i18n import LANGUAGES, choose, translations
from shared.problems import Problem

HERE = FilePath(__file__).parent
STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
# How often the one watcher per process looks at the consumer's position while a page is open.
WATCH_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0

# The reader's language, chosen with ?lang= and kept in this cookie (not a secret: script may read it).
LANG_COOKIE = "sbt_lang"
LANG_SECONDS = 365 * 24 * 3600


def _environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), enable_async=False,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)
    env.globals.update(funnel_steps=queries.FUNNEL_STEPS, side_figures=queries.SIDE_FIGURES, charts=charts,
                       urlencode=urlencode, stage_words=queries.STAGE_WORDS, lang=lang)
    return env


ENVIRONMENTS = {lang: _environment(lang) for lang in LANGUAGES}

router = APIRouter(prefix="/dashboard", include_in_schema=False)

FIGURES, CASE, NIP = "stats:read", "timeline:read", "status:read"
CanSeeFigures = Annotated[Actor, Depends(viewer(FIGURES))]
CanSeeCase = Annotated[Actor, Depends(viewer(CASE))]
CanCheckNip = Annotated[Actor, Depends(viewer(NIP))]
Filter = Annotated[str | None, Query(max_length=100)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def _runtime(request: Request):  # noqa: ANN202
    return request.app.state.runtime


def _language(request: Request) -> str:
    return choose(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def _switch_url(request: Request, lang: str) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "part")]
    return request.url.path + "?" + urlencode([*query, ("lang", lang)])


def _page(request: Request, name: str, status: int = 200, names: Reference | None = None, **context) -> HTMLResponse:
    """A page in the reader's language; a ``?lang=`` choice is kept in a cookie for the next pages."""
    lang = _language(request)
    show = Presenter(lang, names or Reference())
    links = {code: _switch_url(request, code) for code in LANGUAGES}
    html = ENVIRONMENTS[lang].get_template(name).render(show=show, lang_links=links, **context)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    wished = request.query_params.get("lang")
    if wished and wished.lower() in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_SECONDS, samesite="lax", path="/dashboard",
                            secure=request.app.state.settings.env == "production")
    return response


def say(request: Request, message: str, **values: object) -> str:
    """A message of this module in the reader's language."""
    text = translations(_language(request)).gettext(message)
    return text % values if values else text


def _filters(election: str | None, province: str | None, agency: str | None, scope: AgencyScope,
             stage: str | None = None) -> queries.Filters:
    """The filters asked for, within the agencies the caller may see: a caller limited to one agency sees
    only its figures, and asking for another agency's is refused, as the PPK worklist refuses it."""
    if not scope.every_agency:
        if scope.agency is None or (agency and not scope.admits(agency)):
            raise Problem(403, "forbidden", f"the figures of {agency or 'every agency'} are not this caller's")
        agency = scope.agency
    return queries.Filters(election or None, province or None, agency or None, stage or None)


class PositionWatch:
    """One poll of the consumer's committed position per process, shared by every open page: a page waits
    on it instead of querying the database itself. It polls only while someone is watching."""

    def __init__(self, runtime) -> None:  # noqa: ANN001
        self.runtime = runtime
        self.position = -1
        self.changed = asyncio.Condition()
        self.watchers = 0
        self.task: asyncio.Task | None = None

    async def _poll(self) -> None:
        while self.watchers > 0:
            with contextlib.suppress(Exception):  # a database hiccup: try again at the next tick
                async with self.runtime.sessions() as session:
                    position = await queries.stream_position(session, self.runtime.tables, self.runtime.name)
                if position != self.position:
                    self.position = position
                    async with self.changed:
                        self.changed.notify_all()
            await asyncio.sleep(WATCH_SECONDS)
        self.task = None

    @contextlib.asynccontextmanager
    async def watching(self):  # noqa: ANN201
        self.watchers += 1
        if self.task is None:
            self.task = asyncio.create_task(self._poll(), name="dashboard-position-watch")
        try:
            yield self
        finally:
            self.watchers -= 1

    async def wait_beyond(self, position: int, timeout: float) -> int:
        async with self.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait_for(lambda: self.position != position), timeout)
        return self.position


def _watch(request: Request) -> PositionWatch:
    watch = getattr(request.app.state, "dashboard_watch", None)
    if watch is None:
        watch = request.app.state.dashboard_watch = PositionWatch(request.app.state.runtime)
    return watch


@router.get("", response_class=HTMLResponse)
async def overview(
    request: Request,
    actor: CanSeeFigures,
    election: Filter = None,
    province: Filter = None,
    agency: Filter = None,
    stage: Filter = None,
    overdue_page: PageNumber = 1,
    blocked_page: PageNumber = 1,
    recent_page: PageNumber = 1,
    part: Annotated[str | None, Query(pattern="^live$")] = None,
) -> HTMLResponse:
    runtime = _runtime(request)
    scope = scope_of(actor, FIGURES)
    filters = _filters(election, province, agency, scope, stage)
    pages = queries.Pages(overdue_page, blocked_page, recent_page)
    today = runtime.clock.today()
    async with runtime.sessions() as session:
        data = await queries.overview(session, filters, today=today, calendar=runtime.calendar,
                                      tables=runtime.tables, consumer=runtime.name, scoped=not scope.every_agency,
                                      pages=pages)
        names = await reference(session)
    context = {"data": data, "filters": filters, "pages": pages, "today": data.as_of, "actor": actor}
    return _page(request, "_overview_live.html" if part else "overview.html", names=names, **context)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(
    request: Request,
    case_id: Annotated[str, Path(max_length=40)],
    actor: CanSeeCase,
    part: Annotated[str | None, Query(pattern="^live$")] = None,
) -> HTMLResponse:
    runtime = _runtime(request)
    today = runtime.clock.today()
    async with runtime.sessions() as session:
        found = await queries.case_with_timeline(session, case_id)
        position = await queries.stream_position(session, runtime.tables, runtime.name)
        as_of = await queries.as_of_day(session, today)
        names = await reference(session)
    # Another agency's case is answered as if there were none, as GET /v1/cases/{id}/timeline answers it.
    if found is None or not may_see_case(actor, CASE, found[0].agency_code):
        return _page(request, "message.html", 404, actor=actor, title=say(request, "No such case"),
                     message=say(request, "There is no case %(case)s in the shared status (yet).", case=case_id))
    state, timeline = found
    due = dt.date.fromisoformat(state.due_date) if state.due_date else None
    late = queries.days_late(due, as_of, runtime.calendar)
    context = {"state": state, "timeline": timeline, "late": late, "today": as_of, "actor": actor,
               "position": position}
    return _page(request, "_case_live.html" if part else "case.html", names=names, **context)


@router.get("/nip", response_class=HTMLResponse)
async def check_nip(
    request: Request, actor: CanCheckNip, nip: Annotated[str, Query(max_length=40)] = ""
) -> HTMLResponse:
    runtime = _runtime(request)
    try:
        value = nip_rules.parse(nip.replace(" ", "")).value
    except nip_rules.InvalidNip as error:
        # The rule's own reason stays as it is (it names the part of the NIP that is wrong).
        return _page(request, "nip.html", 422, actor=actor, nip=nip, cases=[], blocks=[],
                     error=say(request, "This is not a valid NIP: %(reason)s", reason=error.reason))
    async with runtime.sessions() as session:
        cases, blocks = await queries.cases_of_nip(session, value)
        names = await reference(session)
    # What GET /v1/asn/{nip}/status shows this caller: a PPK only its own agency's cases and their blocks.
    cases, blocks = scope_of(actor, NIP).civil_servant(cases, blocks)
    return _page(request, "nip.html", names=names, actor=actor, nip=value, error=None, cases=cases, blocks=blocks)


@router.get("/stream")
async def stream(request: Request, actor: CanSeeFigures) -> StreamingResponse:
    """Server-sent events: ``position`` whenever the read model has applied new events."""
    watch = _watch(request)

    async def events():  # noqa: ANN202
        async with watch.watching():
            yield "retry: 2000\n\n"
            seen = -2  # the watcher starts at -1 (not read yet), so the first real position is always sent
            while not await request.is_disconnected():
                position = await watch.wait_beyond(seen, KEEPALIVE_SECONDS)
                if position == seen:
                    yield f": keep-alive {int(time.time())}\n\n"
                    continue
                seen = position
                if position >= 0:
                    yield f"event: position\ndata: {orjson.dumps({'position': position}).decode()}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/static/{name}")
async def static(name: Annotated[str, Path(max_length=40)]) -> Response:
    # Public like the login form: the script and the style hold no data.
    if name not in STATIC:
        raise Problem(404, "not found", f"no static file {name}")
    return Response((HERE / "static" / name).read_bytes(), media_type=STATIC[name],
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: Annotated[str | None, Query(max_length=400)] = None) -> HTMLResponse:  # noqa: A002
    return _page(request, "login.html", next=safe_next(next), error=None, actor=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Takes a bearer token (from ``sbt token`` or the agency's identity provider) and keeps it in an
    HttpOnly session cookie that expires with the token."""
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    token = (form.get("token") or [""])[0].strip()
    target = safe_next((form.get("next") or [None])[0])
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        if not token:
            raise Problem(422, "token required", "token: paste a bearer token")
        actor = verifier.verify(token)
    except Problem:
        reason = say(request, "The token was not accepted (expired, or not issued by SBT).") if token else \
            say(request, "Paste a token.")
        return _page(request, "login.html", 401 if token else 422, next=target, error=reason, actor=None)
    if not allowed(FIGURES, actor.roles):
        return _page(request, "login.html", 403, next=target, actor=None,
                     error=say(request, "Roles %(roles)s may not see the dashboard (observer needed).",
                             roles=", ".join(sorted(actor.roles))))
    response = RedirectResponse(target, status_code=303)
    lifetime = max(int(actor.claims.get("exp", 0) - time.time()), 0)
    settings = request.app.state.settings
    response.set_cookie(COOKIE, token, max_age=lifetime, httponly=True, samesite="strict", path="/dashboard",
                        secure=settings.env == "production")
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response
