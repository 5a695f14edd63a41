"""Alembic environment of the blocking service."""

from services.blocking.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
