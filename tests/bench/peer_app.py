"""The peer: the block query as a typical integrator writes it, FastAPI + SQLAlchemy async, one indexed
SELECT per request through a session from a dependency, a Pydantic response model. It is measured with the
same load generator, cores and ceiling as SBT's own block query, so the ratio to what would otherwise be
built is a figure of every bench run. It checks no token (SBT's does): that favours the peer.

    python -m tests.bench.peer_app seed DATABASE_URL NIP_FILE BLOCKED_FILE
    python -m tests.bench.peer_app serve DATABASE_URL PORT
"""


import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import Boolean, DateTime, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Personnel(Base):
    __tablename__ = "personnel"

    nip: Mapped[str] = mapped_column(String(18), primary_key=True)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class BlockAnswer(BaseModel):
    nip: str
    blocked: bool
    since: dt.datetime | None = None


def _engine(url: str):  # noqa: ANN202
    if url.startswith("sqlite"):
        return create_async_engine(url)
    return create_async_engine(url, pool_size=10, max_overflow=10)


def make_app(url: str) -> FastAPI:
    engine = _engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def session():  # noqa: ANN202 - the tutorial's dependency
        async with sessions() as opened:
            yield opened

    app = FastAPI()

    @app.get("/v1/personnel/{nip}/block", response_model=BlockAnswer)
    async def block(nip: str, db: Annotated[AsyncSession, Depends(session)]) -> BlockAnswer:
        if len(nip) != 18 or not nip.isdigit():
            raise HTTPException(422, "invalid NIP")
        row = (await db.execute(select(Personnel).where(Personnel.nip == nip))).scalar_one_or_none()
        if row is None:
            return BlockAnswer(nip=nip, blocked=False)
        return BlockAnswer(nip=nip, blocked=row.blocked, since=row.blocked_since)

    return app


async def seed(url: str, nips: Path, blocked: Path) -> int:
    """The roster's NIPs, those in ``blocked`` marked blocked: one row each, written a chunk at a time."""
    engine = _engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    blocked_set = set(blocked.read_text().split())
    since = dt.datetime(2024, 11, 1, tzinfo=dt.UTC)
    written = 0
    async with engine.begin() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        with nips.open() as lines:
            while chunk := [line.strip() for _, line in zip(range(100_000), lines, strict=False)]:
                if url.startswith("postgresql"):
                    await driver.copy_records_to_table(
                        "personnel", columns=["nip", "blocked", "blocked_since"],
                        records=[(n, n in blocked_set, since if n in blocked_set else None) for n in chunk])
                else:
                    await driver.executemany(
                        "INSERT INTO personnel (nip, blocked, blocked_since) VALUES (?, ?, ?)",
                        [(n, int(n in blocked_set), since.isoformat(sep=" ") if n in blocked_set else None)
                         for n in chunk])
                written += len(chunk)
    await engine.dispose()
    return written


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        print(asyncio.run(seed(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
    else:
        uvicorn.run(make_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[3]), log_config=None,
                    access_log=False)
