"""Alembic environment of the recommendation service."""

from services.recommendation.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
