"""election oversight periods; which shipped seeds were loaded

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00

Elections get their oversight period (from the start of the stages to the end of the disputes): intake
refuses a report of an incident outside it. Elections imported before have none until imported again,
and reports for them are refused, naming the period as missing. ``reference_seeds`` remembers that
``sbt run`` loaded the shipped seed, so it does so on the first start only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('elections') as batch:
        batch.add_column(sa.Column('oversight_from', sa.Date(), nullable=True))
        batch.add_column(sa.Column('oversight_until', sa.Date(), nullable=True))
    op.create_table('reference_seeds',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('reference_seeds')
    with op.batch_alter_table('elections') as batch:
        batch.drop_column('oversight_until')
        batch.drop_column('oversight_from')
