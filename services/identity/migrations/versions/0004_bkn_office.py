"""bkn office: the BKN regional office a bkn_regional client or person reads for

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients') as batch:
        batch.add_column(sa.Column('bkn_office', sa.String(length=8), nullable=True))
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('bkn_office', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('bkn_office')
    with op.batch_alter_table('clients') as batch:
        batch.drop_column('bkn_office')
