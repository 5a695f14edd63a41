"""Alembic environment of the identity service."""

from services.identity.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
