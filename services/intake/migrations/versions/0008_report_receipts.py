"""signed receipts: the hash of what was filed, per report

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:00:00

Every accepted report gets a receipt signed by intake (shared/receipts.py) naming the SHA-256 of what was
filed; the report keeps that hash, so the public complaint check can confirm a receipt's claim. Reports
filed before have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reports') as batch:
        batch.add_column(sa.Column('filed_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reports') as batch:
        batch.drop_column('filed_sha256')
