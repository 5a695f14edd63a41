"""Databases for tests: SQLite files in a temp folder, or fresh PostgreSQL databases (one per service)
when ``SBT_TEST_DATABASE_URL`` names a reachable server."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

TEST_DATABASE_URL = os.environ.get("SBT_TEST_DATABASE_URL")


def backend() -> str:
    return "postgresql" if TEST_DATABASE_URL else "sqlite"


class TestDatabases:
    """A ``{service}`` URL template whose databases exist for the duration of one test system."""

    def __init__(self, folder: Path, services: list[str]) -> None:
        self.services = services
        self.prefix = f"sbt_t{secrets.token_hex(4)}"
        if TEST_DATABASE_URL:
            url = make_url(TEST_DATABASE_URL)
            self.admin_dsn = url.set(drivername="postgresql", database=url.database or "postgres")
            self.template = url.set(database=f"{self.prefix}_SERVICE").render_as_string(hide_password=False)
            self.template = self.template.replace("SERVICE", "{service}")
        else:
            self.admin_dsn = None
            self.template = f"sqlite+aiosqlite:///{folder}/{{service}}.db"

    def url(self, service: str) -> str:
        return self.template.replace("{service}", service)

    async def create(self) -> None:
        if self.admin_dsn is None:
            return
        connection = await asyncpg.connect(self.admin_dsn.render_as_string(hide_password=False))
        try:
            for service in self.services:
                await connection.execute(f'CREATE DATABASE "{self.prefix}_{service}"')
        finally:
            await connection.close()

    async def drop(self) -> None:
        if self.admin_dsn is None:
            return
        connection = await asyncpg.connect(self.admin_dsn.render_as_string(hide_password=False))
        try:
            for service in self.services:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.prefix}_{service}" WITH (FORCE)')
        finally:
            await connection.close()
