"""The reference data shipped in deploy/seed, imported when ``sbt run`` first comes up: the agencies (names
and PPK titles) and the violation catalogue, so that pages show "Gubernur Jawa Barat" and the violation's
description from the first case on, not codes. A kind is imported only while its table is empty, so an
operator's own imports (``sbt import agencies FILE``) are never overwritten by the sample."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from services.intake.reference.models import Agency, Violation
from services.intake.reference.importer import import_reference
from shared.db import create_engine
from shared.settings import Settings

SEED = Path(__file__).resolve().parent.parent / "deploy" / "seed"
KINDS = (("agencies", Agency), ("violations", Violation))


async def _seed(url: str, say: Callable[[str], None]) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            empty = [kind for kind, table in KINDS
                     if not await connection.scalar(select(func.count()).select_from(table))]
    finally:
        await engine.dispose()
    for kind in empty:
        report = await import_reference(url, kind, SEED / f"{kind}.csv")
        say(f"reference data: {report.rows} {kind} imported from deploy/seed/{kind}.csv (an empty system)")


def seed_reference(settings: Settings, say: Callable[[str], None]) -> None:
    try:
        asyncio.run(_seed(settings.database_url_for("intake"), say))
    except Exception as failed:  # noqa: BLE001 - the system runs without names; the operator can import them
        say(f"reference data not imported ({failed}); `sbt import agencies deploy/seed/agencies.csv` does it")
