"""feed messages of a retired case can be erased: where each landed, and whether it is to go

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('feed_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feed_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('erase_requested_at', shared.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_feed_outbox_erase_requested_at'), ['erase_requested_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feed_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_outbox_erase_requested_at'))
        batch_op.drop_column('erase_requested_at')
        batch_op.drop_column('feed_seq')
