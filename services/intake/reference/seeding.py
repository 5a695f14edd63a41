"""The shipped reference data (deploy/seed/: agencies, violations, elections), loaded into intake's
database on the first start of ``sbt run``, once.

Without it a new system refuses every report (reference data is law at the door). Once loaded, a row in
``reference_seeds`` says so, and later starts leave the tables alone: what an operator imports afterwards
(``sbt import``) is never overwritten by the seed. The roster is not part of it: a national roster is the
operator's to import.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from services.intake.models import messaging
from services.intake.reference.importer import ReferenceReport, read_reference, upsert_reference
from services.intake.reference.models import ReferenceSeed
from shared.clock import Clock
from shared.db import create_engine, sessionmaker
from shared.messaging.outbox import Outbox

SHIPPED_SEED = Path(__file__).resolve().parents[3] / "deploy" / "seed"
SEED_NAME = "deploy/seed"
# Agencies and violations before elections, as ``sbt import`` is told to run them (README).
FILES = (("agencies", "agencies.csv"), ("violations", "violations.csv"), ("elections", "elections.json"))


@dataclass
class SeedResult:
    loaded: bool
    reports: list[ReferenceReport]


async def load_once(url: str, *, clock: Clock, folder: Path = SHIPPED_SEED, publish: bool = True) -> SeedResult:
    """Loads the seed into intake's (migrated) database unless it was loaded before, in one transaction:
    the tables, the events for the other services' projections (``publish``) and the marker."""
    entries = {kind: read_reference(kind, folder / name) for kind, name in FILES}  # all valid, or nothing
    engine = create_engine(url)
    try:
        outbox = Outbox(messaging, "intake", clock=clock.now) if publish else None
        async with sessionmaker(engine).begin() as session:
            if await session.scalar(select(ReferenceSeed.name).where(ReferenceSeed.name == SEED_NAME)):
                return SeedResult(False, [])
            reports = [await upsert_reference(session, outbox, kind, entries[kind]) for kind, _ in FILES]
            session.add(ReferenceSeed(name=SEED_NAME, loaded_at=clock.now()))
        return SeedResult(True, reports)
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()
