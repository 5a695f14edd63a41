"""The sanction service's agency registry for ``shared.regions``: the provinces of its ``agencies`` table
(folded from ``sbt.agency.registered.v1``), read whole on each poll: a few hundred rows, one statement. A row
without a province is left out: it is a central agency, or one folded before the column existed, whose
office is then the agencies seed's (saying None would take a seeded agency out of its office)."""

from __future__ import annotations

from sqlalchemy import select

from services.sanction.models import Agency
from shared import agency_regions


def reader(runtime) -> agency_regions.ReadProvinces:  # noqa: ANN001 - the sanction Runtime
    async def read() -> dict[str, str | None]:
        async with runtime.sessions() as session:
            return {row.code: row.province for row in (await session.execute(
                select(Agency.code, Agency.province).where(Agency.province.is_not(None)))).all()}

    return read


async def follow(runtime) -> None:  # noqa: ANN001
    await agency_regions.follow(reader(runtime))
