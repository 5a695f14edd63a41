"""The dashboard's pages: the national overview (funnel, breakdowns, overdue and blocked lists, the latest
cases), an agency's follow-up obligations (a PPK's landing page), a case page with its timeline, a NIP
check, the sign-in form, and a server-sent event stream that tells open pages when the read model has
moved so they refresh their live part without reloading.

The pages are HTML, not API: they are left out of the OpenAPI contract, but each one still names its
permission (``viewer(...)``), like every API route."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.status import worklists
from services.status.dashboard import actions, charts, forms, queries, refusals, sorting
from services.status.dashboard.auth import COOKIE, home_of, login_required, safe_next, session_token, viewer
from services.status.dashboard.flash import clear_flash, set_flash, take_flash
from services.status.dashboard.present import Presenter, Reference, reference
from shared import nip as nip_rules
from shared.auth import Actor, TokenVerifier
from shared.authz import AgencyScope, allowed, may_see_case, scope_of
from shared.i18n import LANGUAGES, N_, choose, translations
from shared.problems import Problem
from shared.ratelimit import RateLimiter
from shared.security_headers import page_policy_with_form_target
from shared.status_model import Stage

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
                       urlencode=urlencode, stage_words=queries.STAGE_WORDS, lang=lang, csrf_field=forms.csrf_field,
                       home_of=home_of, allowed=allowed, queues=QUEUES, actions=actions)
    return env


router = APIRouter(prefix="/dashboard", include_in_schema=False)

FIGURES, CASE, NIP, OBLIGATIONS = "stats:read", "timeline:read", "status:read", worklists.PERMISSION
CanSeeFigures = Annotated[Actor, Depends(viewer(FIGURES))]
CanSeeObligations = Annotated[Actor, Depends(viewer(OBLIGATIONS))]
CanSeeCase = Annotated[Actor, Depends(viewer(CASE))]
CanCheckNip = Annotated[Actor, Depends(viewer(NIP))]
Filter = Annotated[str | None, Query(max_length=100)]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
SortKey = Annotated[str | None, Query(max_length=21, pattern=sorting.SORT_PATTERN)]
Flag = Annotated[str | None, Query(max_length=5, pattern="^(1|0|on|true|false)?$")]


def _flag(value: str | None) -> bool:
    return value in ("1", "on", "true")


def _runtime(request: Request):  # noqa: ANN202
    return request.app.state.runtime


def _language(request: Request) -> str:
    return choose(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def _switch_url(request: Request, lang: str) -> str:
    if request.method != "GET":  # a page answering a form: the language link opens the page the form is on
        return _here(request) + "?" + urlencode([("lang", lang)])
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "part")]
    return request.url.path + "?" + urlencode([*query, ("lang", lang)])


def _here(request: Request) -> str:
    """The page a decision's form was posted from: its case page."""
    return request.url.path.rsplit("/", 1)[0]


def _page(request: Request, name: str, status: int = 200, names: Reference | None = None,
          headers: dict | None = None, switch_to: str | None = None, **context) -> HTMLResponse:
    """A page in the reader's language, with the form token its forms carry (the sign-out button's
    included); a ``?lang=`` choice is kept in a cookie for the next pages. ``switch_to``: the page the
    language links open, for a page whose own URL must not be opened twice (a provider's callback)."""
    lang = _language(request)
    show = Presenter(lang, names or Reference())
    links = {code: f"{switch_to}?lang={code}" if switch_to else _switch_url(request, code) for code in LANGUAGES}
    context["csrf_token"] = forms.token_for(request)
    flash = take_flash(request, FLASHES) if not name.startswith("_") else None  # not into a live fragment
    context.setdefault("flash", translations(lang).gettext(flash) if flash else None)
    html = ENVIRONMENTS[lang].get_template(name).render(show=show, lang_links=links, **context)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})})
    forms.set_cookie(request, response)
    if flash:
        clear_flash(request, response)
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
             stage: str | None = None, overdue: bool = False) -> queries.Filters:
    """The filters asked for, within the agencies the caller may see: a caller limited to some agencies (a
    PPK's own, a regional office's region) sees only their figures, and asking for another agency's is
    refused, as the PPK worklist refuses it."""
    within = None
    if not scope.every_agency:
        if scope.nobody or (agency and not scope.admits(agency)):
            raise Problem(403, "forbidden", f"the figures of {agency or 'every agency'} are not this caller's")
        within = scope.agencies
        agency = agency or scope.agency  # one agency's (a PPK's): its page is that agency's, titled so
    return queries.Filters(election or None, province or None, agency or None, stage or None, overdue, within)


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
    overdue: Flag = None,
    overdue_page: PageNumber = 1,
    blocked_page: PageNumber = 1,
    recent_page: PageNumber = 1,
    overdue_sort: SortKey = None,
    blocked_sort: SortKey = None,
    recent_sort: SortKey = None,
    part: Annotated[str | None, Query(pattern="^live$")] = None,
) -> HTMLResponse:
    runtime = _runtime(request)
    scope = scope_of(actor, FIGURES)
    filters = _filters(election, province, agency, scope, stage, _flag(overdue))
    pages = queries.Pages(overdue_page, blocked_page, recent_page, overdue_sort or "", blocked_sort or "",
                          recent_sort or "")
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
    return await _case_response(request, actor, case_id, template="_case_live.html" if part else "case.html")


async def _case_response(request: Request, actor: Actor, case_id: str, *, template: str = "case.html",
                         status: int = 200, refused: dict[str, str] | None = None,
                         entered: dict[str, str] | None = None) -> HTMLResponse:
    """The case page, with the forms of the decisions this person may take on the case as it stands;
    ``refused``: a form's refusal (by action), shown above it with what the person had entered."""
    runtime = _runtime(request)
    today = runtime.clock.today()
    async with runtime.sessions() as session:
        found = await queries.case_with_timeline(session, case_id)
        position = await queries.stream_position(session, runtime.tables, runtime.name)
        as_of = await queries.as_of_day(session, today)
        names = await reference(session)
        blocks = await queries.active_blocks_of_case(session, case_id) if found else []
    # Another agency's case is answered as if there were none, as GET /v1/cases/{id}/timeline answers it.
    if found is None or not may_see_case(actor, CASE, found[0].agency_code):
        return _page(request, "message.html", 404, actor=actor, title=say(request, "No such case"),
                     message=say(request, "There is no case %(case)s in the shared status (yet).", case=case_id))
    state, timeline = found
    due = dt.date.fromisoformat(state.due_date) if state.due_date else None
    # Late is counted to the page's as-of day only once the case was declared overdue: a case still within
    # its deadline today is not late by the day a drill's sweep ran for.
    late = queries.days_late(due, as_of if state.overdue else today, runtime.calendar)
    offered = [action for action in actions.ACTIONS.values()
               if action.offered(state) and may_see_case(actor, action.permission, state.agency_code)]
    context = {"state": state, "timeline": timeline, "late": late, "today": as_of, "actor": actor,
               "position": position, "offered": {action.name for action in offered}, "blocks": blocks,
               "refused": refused or {}, "entered": entered or {}, "calendar_today": today}
    return _page(request, template, status, names=names, **context)


# -- decisions: each form posts here, and the dashboard sends it on to the service that decides --------

FLASHES = {action.name: action.done for action in actions.ACTIONS.values()}
# How long the answer waits for the shared status to show the decision, so the page it redirects to shows
# it; past that the page still opens and its live part catches up.
SETTLE_SECONDS = 5.0


async def _settled(request: Request, case_id: str, before: int) -> None:
    runtime = _runtime(request)
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        async with runtime.sessions() as session:
            if await queries.case_version(session, case_id) > before:
                return
        await asyncio.sleep(0.1)


def _decision_route(action: actions.Action):  # noqa: ANN202
    # The permission as a default value, not an annotation: annotations are resolved in the module's
    # namespace, where this function's own alias would not be found.
    may_decide = Depends(viewer(action.permission))

    # The person first (no session: to the sign-in form), then the form's token.
    async def decide(request: Request, case_id: Annotated[str, Path(max_length=40)], *,
                     actor: Actor = may_decide, form: forms.ActionForm) -> Response:
        runtime = _runtime(request)
        async with runtime.sessions() as session:
            found = await queries.case_with_timeline(session, case_id)
            before = await queries.case_version(session, case_id)
        if found is None or not may_see_case(actor, CASE, found[0].agency_code) \
                or not may_see_case(actor, action.permission, found[0].agency_code):
            return await _case_response(request, actor, case_id)  # the same 404 as the page itself
        state = found[0]
        token = session_token(request)
        body = actions.body_of(action, state, form)
        address = request.client.host if request.client else None
        answer = await actions.send(request.app.state.settings, action, state, body, token=token,
                                    client_address=address)
        if answer.status == 401:  # the token ended between the page and the post: sign in again
            raise login_required(f"/dashboard/cases/{case_id}", expired=True)
        if not answer.ok:
            line = refusals.one_line(answer.status, answer.problem, translations(_language(request)).gettext)
            status = answer.status if answer.status and 400 <= answer.status < 500 else 503
            return await _case_response(request, actor, case_id, status=status, refused={action.name: line},
                                        entered={k: v for k, v in form.items() if k != forms.FIELD})
        await _settled(request, case_id, before)
        response = RedirectResponse(f"/dashboard/cases/{case_id}", status_code=303)
        set_flash(request, response, action.name)
        return response

    decide.__name__ = f"decide_{action.name}"
    return decide


for _action in actions.ACTIONS.values():
    router.add_api_route(f"/cases/{{case_id}}/{_action.name}", _decision_route(_action), methods=["POST"],
                         response_class=HTMLResponse)


# -- the work queues: each role's cases at its step -----------------------------------------------------

@dataclass(frozen=True)
class Queue:
    name: str
    path: str
    permission: str
    stage: Stage
    title: str  # msgid
    default_sort: str
    hint: str  # msgid: what the person does with the rows


QUEUES: dict[str, Queue] = {queue.name: queue for queue in (
    Queue("verification", "/dashboard/verification", "case:verify", Stage.AWAITING_VERIFICATION,
          N_("Reports to verify"), "case", N_("Open a case to accept, reject or cancel it, or to record that the "
                                               "civil servant is already out of service.")),
    Queue("examination", "/dashboard/examination", "case:examine", Stage.AWAITING_EXAMINATION,
          N_("Cases to examine"), "case", N_("Open a case to record the finding and, when proven, the "
                                               "recommendation to its PPK.")),
    Queue("obligations", "/dashboard/obligations", OBLIGATIONS, Stage.AWAITING_PPK, N_("Follow-ups awaited"),
          "due", N_("Open a case to record the PPK's decree.")),
    Queue("blocking", "/dashboard/blocking", "block:write", Stage.AWAITING_PPK,
          N_("Follow-ups for BKN to decide on"), "due",
          N_("Open a case to block its civil servant's personnel data, or to lift a block, with a reason.")),
)}


async def _queue(request: Request, actor: Actor, queue: Queue, *, election: str | None, province: str | None,
                 agency: str | None, overdue: bool, sort: str | None, page: int, format: str | None) -> Response:  # noqa: A002
    from services.status.dashboard import export_routes  # the same list as a file (it imports this module)

    scope = scope_of(actor, queue.permission)
    filters = _filters(election, province, agency, scope, queue.stage.value, overdue)
    chosen = sorting.parse(sort, queries.CASE_SORTS, queue.default_sort)
    runtime = _runtime(request)
    today = runtime.clock.today()
    async with runtime.sessions() as session:
        names = await reference(session)
        size = export_routes.MAX_ROWS if format else queries.PAGE_SIZE
        listing = await queries.case_queue(session, filters, sort=chosen, today=today, calendar=runtime.calendar,
                                           page=1 if format else page, size=size)
        options = await queries.filter_options(session, None if scope.every_agency else scope.agencies)
    if format:
        return export_routes.queue_file(request, queue, listing, Presenter(_language(request), names), format)
    view = QueueView(queue, filters, chosen, page, scoped=not scope.every_agency)
    return _page(request, "queue.html", names=names, actor=actor, queue=queue, view=view, listing=listing,
                 options=options, today=today, scoped=not scope.every_agency)


@dataclass(frozen=True)
class QueueView:
    """A queue page's filters, sort and page, and the links that change one of them."""

    queue: Queue
    filters: queries.Filters
    sort: sorting.Sort
    page: int
    scoped: bool = False  # the caller sees one agency only: its agency is not a filter it chose either

    def query(self, **changes: object) -> dict:
        query: dict = {**self.filters.as_query()}
        query.pop("stage", None)  # the queue's own stage, not a filter the person chose
        if self.scoped:
            query.pop("agency", None)
        if self.sort.param != self.queue.default_sort:
            query["sort"] = self.sort.param
        if self.page > 1:
            query["page"] = self.page
        query.update(changes)
        return {k: v for k, v in query.items() if v not in (None, "")}

    def url(self, **changes: object) -> str:
        query = self.query(**changes)
        return self.queue.path + ("?" + urlencode(query) if query else "")

    def sort_url(self, key: str) -> str:
        return self.url(sort=self.sort.toggled(key).param, page=None)

    def page_url(self, _pages: object, _key: str, number: int) -> str:  # the pager's signature
        return self.url(page=number if number > 1 else None)

    def export_url(self, format: str) -> str:  # noqa: A002
        return self.url(page=None, format=format)


def _queue_route(queue: Queue):  # noqa: ANN202
    may_work = Depends(viewer(queue.permission))  # a default value, as in _decision_route

    async def page(request: Request, actor: Actor = may_work, election: Filter = None, province: Filter = None,
                   agency: Filter = None, overdue: Flag = None, sort: SortKey = None, page: PageNumber = 1,
                   format: Annotated[Literal["csv", "xlsx"] | None, Query()] = None) -> Response:  # noqa: A002
        return await _queue(request, actor, queue, election=election, province=province, agency=agency,
                            overdue=_flag(overdue), sort=sort, page=page, format=format)

    page.__name__ = f"queue_{queue.name}"
    page.__doc__ = f"The {queue.name} queue: its cases, sortable, filterable, exportable (?format=csv|xlsx)."
    return page


for _queue_def in QUEUES.values():
    router.add_api_route(_queue_def.path.removeprefix("/dashboard"), _queue_route(_queue_def), methods=["GET"],
                         response_class=HTMLResponse)


@router.get("/nip", response_class=HTMLResponse)
async def check_nip(
    request: Request, actor: CanCheckNip, nip: Annotated[str, Query(max_length=40)] = ""
) -> HTMLResponse:
    runtime = _runtime(request)
    if not nip.strip():  # the page itself, before any NIP is asked for (a reporter's landing page)
        return _page(request, "nip.html", actor=actor, nip="", error=None, cases=None, blocks=[])
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
    return _page(request, "nip.html", actor=actor, nip=value, error=None, cases=cases, blocks=blocks)


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


def _login_failures(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "login_failures", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = request.app.state.login_failures = RateLimiter(
            rate_per_minute=settings.token_failure_rate_per_minute, burst=settings.token_failure_burst)
    return limiter


def _login_page(request: Request, status: int = 200, *, next: str, error: str | None = None,  # noqa: A002
                username: str = "", totp: bool = False, headers: dict | None = None,
                switch_to: str | None = None) -> HTMLResponse:
    # ``error`` is a code; the template says it in words, so the words can be translated there.
    settings = request.app.state.settings
    provider = settings.oidc_display_name if settings.oidc_enabled else None
    if provider:  # the provider's button sends the browser on there
        issuer = urlsplit(settings.oidc_issuer)
        policy = page_policy_with_form_target(f"{issuer.scheme}://{issuer.netloc}")
        headers = {**(headers or {}), "Content-Security-Policy": policy}
    return _page(request, "login.html", status, headers=headers, next=next, error=error, username=username,
                 totp=totp, actor=None, provider=provider, switch_to=switch_to)


def session_of(request: Request, token: str) -> Actor | None:
    """The person a session token the identity service answered is for; None when this service does not
    trust the token's key, a configuration fault rather than the person's."""
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(token)
    except Problem:
        return None


def keep_session(request: Request, response: Response, token: str, actor: Actor) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure outside development, expiring with the token."""
    lifetime = max(int(actor.claims.get("exp", 0) - time.time()), 0)
    response.set_cookie(COOKIE, token, max_age=lifetime, httponly=True, samesite="strict", path="/dashboard",
                        secure=request.app.state.settings.env == "production")


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    next: Annotated[str | None, Query(max_length=400)] = None,  # noqa: A002
    expired: Annotated[str | None, Query(max_length=1)] = None,
) -> HTMLResponse:
    return _login_page(request, next=safe_next(next), error="expired" if expired else None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, form: forms.CheckedForm) -> Response:
    """Signs a person in at the identity service (POST /v1/sessions, as any front end would) and keeps the
    token it answers in an HttpOnly session cookie that expires with it."""
    target = safe_next(form.get("next"))
    username, password, code = (form.get(name, "").strip() for name in ("username", "password", "totp"))
    address = request.client.host if request.client else "unknown"
    failures = _login_failures(request)
    budget = failures.peek("dashboard:login", address)
    if not budget.allowed:
        return _login_page(request, 429, next=target, error="too_many", username=username,
                           headers={"Retry-After": str(budget.retry_after)})
    if not username or not password:
        return _login_page(request, 422, next=target, error="missing", username=username, totp=bool(code))
    settings = request.app.state.settings
    body = {"username": username, "password": password, **({"totp": code} if code else {})}
    try:
        async with httpx.AsyncClient(base_url=settings.identity_base_url, timeout=10) as identity:
            # The person's own address, for the identity service's per-address budget when it trusts this
            # service as a proxy (SBT_FORWARDED_ALLOW_IPS); otherwise ignored there.
            answer = await identity.post("/v1/sessions", json=body, headers={"X-Forwarded-For": address})
    except httpx.HTTPError:
        return _login_page(request, 503, next=target, error="unavailable", username=username)
    if answer.status_code != 200:
        title = answer.json().get("title") if answer.headers.get("content-type", "").endswith("json") else None
        if answer.status_code == 401 and title in ("totp required", "totp invalid"):
            if title == "totp invalid":
                failures.check("dashboard:login", address)
            return _login_page(request, 401, next=target, username=username, totp=True,
                               error="totp_required" if title == "totp required" else "totp_invalid")
        if answer.status_code == 429:
            return _login_page(request, 429, next=target, error="too_many", username=username,
                               headers={"Retry-After": answer.headers.get("retry-after", "60")})
        if answer.status_code in (401, 422):
            failures.check("dashboard:login", address)
            return _login_page(request, 401, next=target, error="refused", username=username, totp=bool(code))
        return _login_page(request, 503, next=target, error="unavailable", username=username)
    token = answer.json()["access_token"]
    actor = session_of(request, token)
    if actor is None:
        return _login_page(request, 503, next=target, error="unavailable", username=username)
    # Where the person was sent from, or where their role starts (a PPK cannot see the national overview).
    response = RedirectResponse(landing(actor, target), status_code=303)
    keep_session(request, response, token, actor)
    return response


def landing(actor: Actor, target: str) -> str:
    return home_of(actor) if target == "/dashboard" else target


@router.post("/logout")
async def logout(form: forms.CheckedForm) -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


# Made last: the templates' globals include the queues defined above.
ENVIRONMENTS = {lang: _environment(lang) for lang in LANGUAGES}
