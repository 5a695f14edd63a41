"""write rate: each client's budget of authenticated writes, shared by the replicas (shared/write_limit.py)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('write_rate',
    sa.Column('client', sa.String(length=200), nullable=False),
    sa.Column('tat', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('client')
    )


def downgrade() -> None:
    op.drop_table('write_rate')
