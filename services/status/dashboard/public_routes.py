"""The public page of the national figures (``/dashboard/public``): no sign-in, rate-limited per client,
the same answer as ``GET /v1/public/figures`` (small cells withheld), in the reader's language."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from services.status.dashboard.present import reference
from services.status.dashboard.queries import FUNNEL_STEPS
from services.status.dashboard.routes import _page, say
from services.status.public_api import public_answer
from shared.auth import Actor, public
from shared.i18n import N_

router = APIRouter(prefix="/dashboard", include_in_schema=False)

Anyone = Annotated[Actor, Depends(public("public:figures"))]
Filter = Annotated[str | None, Query(max_length=100)]

COLUMNS = (*FUNNEL_STEPS, ("overdue", N_("Overdue")), ("blocked", N_("Blocked now")))


@router.get("/public", response_class=HTMLResponse)
async def public_figures_page(request: Request, _anyone: Anyone, election: Filter = None,
                              province: Filter = None) -> HTMLResponse:
    runtime = request.app.state.runtime
    election, province = election or None, province or None
    figures = await public_answer(runtime, election=election, province=province, agency=None)
    async with runtime.sessions() as session:
        names = await reference(session)
    query = urlencode({k: v for k, v in (("election", election), ("province", province)) if v})
    return _page(request, "public_figures.html", names=names, actor=None, figures=figures, columns=COLUMNS,
                 min_cell=figures["min_cell"], election=election, province=province, query=query,
                 everything=lambda _key: say(request, "All cases"), as_is=lambda key: key)
