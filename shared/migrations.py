"""Alembic, per service: each service keeps its migrations in ``services/<name>/migrations``.

``upgrade`` is what a service runs on start and what ``sbt migrate`` runs. ``run_env`` is the whole body
of every service's ``env.py``: online, async, and on PostgreSQL under an advisory lock so that replicas
starting together do not race.
"""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import async_engine_from_config

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def alembic_config(service: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service: str, url: str, revision: str = "head") -> None:
    """Blocking; call through ``asyncio.to_thread`` from async code."""
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        from shared.db import private_sqlite_file

        database = make_url(url).database
        if database and database != ":memory:":
            private_sqlite_file(Path(database))
    command.upgrade(alembic_config(service, url), revision)


def run_env(target_metadata: MetaData) -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                          literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(config, target_metadata))


async def _run_online(config: Config, target_metadata: MetaData) -> None:
    engine = async_engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    lock_id = zlib.crc32(f"sbt-migrate-{config.attributes.get('service', '')}".encode())
    async with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            await connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            await connection.commit()
        try:
            await connection.run_sync(_do_run, target_metadata)
            await connection.commit()
        finally:
            if postgres:
                await connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                await connection.commit()
    await engine.dispose()


def _do_run(connection: Connection, target_metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
