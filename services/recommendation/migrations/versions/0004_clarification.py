"""clarification: the reported civil servant's clarification, recorded before a proven finding

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('clarification_outcome', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('clarified_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('clarification_summary', sa.Text(), nullable=True))
        batch.add_column(sa.Column('clarification_recorded_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('clarification_recorded_at', shared.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        for column in ('clarification_recorded_at', 'clarification_recorded_by', 'clarification_summary',
                       'clarified_on', 'clarification_outcome'):
            batch.drop_column(column)
