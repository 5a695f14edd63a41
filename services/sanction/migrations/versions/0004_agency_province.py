"""agency province: the province an agency was registered in, which places it under a BKN regional office

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:50:00

Agencies folded before have none until registered again (``sbt import agencies`` or ``sbt replay``); until
then their regional office is the agencies seed's, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('agencies') as batch:
        batch.add_column(sa.Column('province', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('agencies') as batch:
        batch.drop_column('province')
