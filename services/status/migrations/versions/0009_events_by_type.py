"""events indexed by type: the agency registry is read from the log by type every second

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:45:00
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.create_index(batch.f('ix_events_event_type'), ['event_type'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_index(batch.f('ix_events_event_type'))
