"""blocking figures as BKN's reconciliation counts them: ever blocked, unblocked after a follow-up or by
hand, and blocks declined with a reason

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:10:00

Rows folded before: ever_blocked is set where a block is held or was lifted; whether a lift followed a
follow-up, and declined blocks, are known only from the log (``sbt replay`` rebuilds them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = ('ever_blocked', 'unblocked_after_followup', 'unblocked_by_hand', 'block_declined')


def upgrade() -> None:
    with op.batch_alter_table('case_status') as batch:
        for column in COLUMNS:
            batch.add_column(sa.Column(column, sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(sa.text("UPDATE case_status SET ever_blocked = :yes WHERE blocked = :yes OR unblocked = :yes")
               .bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table('case_status') as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
