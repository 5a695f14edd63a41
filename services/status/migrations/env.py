"""Alembic environment of the status service."""

from services.status.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
