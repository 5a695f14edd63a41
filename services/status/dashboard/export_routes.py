"""``/dashboard/export/{listing}?format=csv|xlsx``: every dashboard list, and the national funnel, as a file,
whole (not one page), with the same filters, the same order and the same one rule of who may see what as
the page. The work queues are their own pages' files (``/dashboard/verification?format=xlsx``, see
``queue_file``), so that each keeps its page's permission.

Headers and names are in the reader's language; times in the civil servant's province's zone."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from services.status.dashboard import exports, queries, sorting
from services.status.dashboard.auth import viewer
from services.status.dashboard.present import Presenter, reference
from services.status.dashboard.routes import FIGURES, Filter, Flag, SortKey, _flag, _filters, _language, _runtime
from shared.auth import Actor
from shared.authz import scope_of
from shared.i18n import translations
from shared.i18n.zones import tzinfo, zone_of

router = APIRouter(prefix="/dashboard/export", include_in_schema=False)

CanSeeFigures = Annotated[Actor, Depends(viewer(FIGURES))]
Listing = Literal["overdue", "blocked", "cases", "funnel"]
# A whole list in one file, up to this many rows; the file says so when it was cut.
MAX_ROWS = 100_000

MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _local(moment: dt.datetime | None, province: str | None) -> dt.datetime | None:
    return moment.astimezone(tzinfo(zone_of(province))) if moment is not None else None


@router.get("/{listing}")
async def export(
    request: Request,
    actor: CanSeeFigures,
    listing: Annotated[Listing, Path()],
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",  # noqa: A002 - the query parameter's name
    election: Filter = None,
    province: Filter = None,
    agency: Filter = None,
    stage: Filter = None,
    overdue: Flag = None,
    sort: SortKey = None,
) -> Response:
    """``sort``: the list's order, as its page's column links say it (a key of the list's whitelist)."""
    runtime = _runtime(request)
    filters = _filters(election, province, agency, scope_of(actor, FIGURES), stage, _flag(overdue))
    kind = {"overdue": "overdue", "blocked": "blocked", "cases": "recent"}.get(listing)
    order = sorting.parse(sort, *queries.LIST_SORTS[kind]) if kind else None
    lang = _language(request)
    _ = translations(lang).gettext
    async with runtime.sessions() as session:
        show = Presenter(lang, await reference(session))
        if listing == "funnel":
            figures = await queries.stats.funnel(session, election=filters.election, province=filters.province,
                                                 agency=filters.agency, agencies=filters.within)
            steps = [*queries.FUNNEL_STEPS, *queries.SIDE_FIGURES]
            headers = [_("Breakdown"), _("Value"), *[_(label) for _key, label in steps]]
            rows = [[_("National"), "", *[figures["total"].get(key, 0) for key, _label in steps]]]
            for part, title in (("by_election", _("Election")), ("by_province", _("Province")),
                                ("by_agency", _("Agency"))):
                for key, funnel in figures.get(part, {}).items():
                    name = show.agency(key) if part == "by_agency" else key
                    rows.append([title, name, *[funnel.get(step, 0) for step, _label in steps]])
        elif listing == "overdue":
            as_of = await queries.as_of_day(session, runtime.clock.today())
            found = await queries.overdue_cases(session, filters, as_of=as_of, calendar=runtime.calendar,
                                                size=MAX_ROWS, sort=order)
            headers = [_("Case"), "NIP", _("Election"), _("Agency"), "PPK", _("Province"), _("Due"),
                       _("Working days late"), _("Recommendation"), _("Sanction"), _("Blocked")]
            rows = [[c.case_id, c.nip, c.election_code, show.agency(c.agency_code), show.ppk(c.agency_code),
                     show.province(c.province), c.due_date, c.working_days_late, c.recommendation_number,
                     show.sanction(c.recommended_level), _("yes") if c.blocked else _("no")] for c in found]
        elif listing == "blocked":
            found = await queries.blocked_now(session, filters, size=MAX_ROWS, sort=order)
            headers = [_("Block"), "NIP", _("Case"), _("Agency"), _("Cause"), _("Reason"), _("Blocked since")]
            rows = [[b.block_id, b.nip, b.case_id, show.agency(b.agency_code), show.cause(b.cause), b.reason,
                     _local(b.blocked_at, None)] for b in found]
        else:
            found = await queries.recent_cases(session, filters, size=MAX_ROWS, sort=order)
            headers = [_("Case"), "NIP", _("Election"), _("Agency"), _("Province"), _("Stage"), _("Reports"),
                       _("Updated")]
            rows = [[c.case_id, c.nip, c.election_code, show.agency(c.agency_code), show.province(c.province),
                     _(c.stage_words), c.report_count, _local(c.updated_at, c.province)] for c in found]
    if listing != "funnel" and found.total > MAX_ROWS:
        rows.append([_("Only the first %(count)s rows; narrow the filters for the rest.") % {"count": MAX_ROWS}])
    return _file(request, listing, headers, rows, format)


def _file(request: Request, listing: str, headers: list, rows: list, format: str) -> Response:  # noqa: A002
    name = f"sbt-{listing}-{_runtime(request).clock.today().isoformat()}.{format}"
    body = exports.to_csv(headers, rows) if format == "csv" else exports.to_xlsx(listing, headers, rows)
    return Response(body, media_type=MEDIA[format], headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def queue_file(request: Request, queue, listing: queries.Listing, show: Presenter, format: str) -> Response:  # noqa: ANN001, A002
    """A work queue as a file: the rows of its page, all of them, with its filters and order."""
    _ = translations(_language(request)).gettext
    headers = [_("Case"), "NIP", _("Election"), _("Agency"), "PPK", _("Province"), _("Stage"), _("Violations"),
               _("Recommendation"), _("Recommended"), _("Due"), _("Working days left"), _("Blocked"), _("Updated")]
    rows = [[r.state.case_id, r.state.nip, r.state.election_code, show.agency(r.state.agency_code),
             show.ppk(r.state.agency_code), show.province(r.state.province), _(r.stage_words),
             "; ".join(show.violation(code) for code in r.state.violation_codes), r.state.recommendation_number,
             show.sanction(r.state.recommended_level), r.due_date, r.working_days_left,
             _("yes") if r.state.blocked else _("no"), _local(r.updated_at, r.state.province)] for r in listing]
    if listing.total > len(rows):
        rows.append([_("Only the first %(count)s rows; narrow the filters for the rest.") % {"count": len(rows)}])
    return _file(request, queue.name, headers, rows, format)
