"""Alembic environment of the intake service."""

from services.intake.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
