"""blocking as BKN decides it: the blockers' worklist and each case's last decision

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:00:00

Under SBT_BLOCKING_POLICY=decision an overdue case waits on the worklist (awaiting_decision) until a
blocker blocks, gives more time or records why not; the case keeps the last decision.
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
    with op.batch_alter_table('watched_cases') as batch:
        batch.add_column(sa.Column('awaiting_decision', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('decision', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('decision_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('decided_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('decided_at', shared.db.UtcDateTime(timezone=True), nullable=True))
        batch.create_index('ix_watched_cases_awaiting_decision', ['awaiting_decision', 'due_date'])


def downgrade() -> None:
    with op.batch_alter_table('watched_cases') as batch:
        batch.drop_index('ix_watched_cases_awaiting_decision')
        for column in ('decided_at', 'decided_by', 'decision_reason', 'decision', 'awaiting_decision'):
            batch.drop_column(column)
