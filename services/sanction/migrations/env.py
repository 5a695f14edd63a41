"""Alembic environment of the sanction service."""

from services.sanction.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
