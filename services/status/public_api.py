"""``GET /v1/public/figures``: the national figures for anyone, without a token (rate-limited per client),
the same funnel as ``/v1/stats`` with the small cells withheld (services/status/public_figures.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, create_model

from services.status import stats
from services.status.api import _position
from services.status.public_figures import public_figures, withheld_cells
from shared.auth import Actor, public
from shared.service import RuntimeDep

router = APIRouter(prefix="/v1/public", tags=["public"])

Anyone = Annotated[Actor, Depends(public("public:figures"))]
Filter = Annotated[str | None, Query(max_length=100)]

# Every figure of the funnel, each a count or null where it is withheld.
PublicFunnel: type[BaseModel] = create_model(
    "PublicFunnel",
    **{name: (int | None, Field(description="cases; null when withheld as too small to publish"))
       for name in stats.FIGURES},  # type: ignore[call-overload]
)


class PublicFigures(BaseModel):
    total: PublicFunnel  # type: ignore[valid-type]
    by_election: dict[str, PublicFunnel]  # type: ignore[valid-type]
    by_province: dict[str, PublicFunnel]  # type: ignore[valid-type]
    by_agency: dict[str, PublicFunnel]  # type: ignore[valid-type]
    min_cell: int = Field(description="non-zero counts below this are withheld, and one more cell wherever a "
                                      "single withheld cell could be worked out from the total")
    withheld: int = Field(description="how many cells are withheld")
    stream_position: int = Field(description="The last stream sequence these figures reflect.")


async def public_answer(runtime: Any, *, election: str | None, province: str | None,
                        agency: str | None) -> dict[str, Any]:
    minimum = runtime.settings.public_figures_min_cell
    async with runtime.sessions() as session:
        figures = await stats.funnel(session, election=election, province=province, agency=agency)
        position = await _position(session, runtime)
    shown = public_figures(figures, minimum)
    return {**shown, "min_cell": minimum, "withheld": withheld_cells(shown), "stream_position": position}


@router.get("/figures", response_model=PublicFigures,
            summary="The national figures for everyone: no NIP, no name, small cells withheld")
async def figures(
    _anyone: Anyone,
    runtime: RuntimeDep,
    election: Filter = None,
    province: Filter = None,
    agency: Filter = None,
) -> Any:
    return await public_answer(runtime, election=election, province=province, agency=agency)
