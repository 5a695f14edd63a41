"""reporter identity keys in a table of their own

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:50:00.000000

The wrapped data keys move out of ``reports`` into ``reporter_identity_keys``, so that erasing one is a
DELETE of its row (services/intake/erasure.py). The old column's bytes are scrubbed as the keys move:
on SQLite with ``secure_delete`` while the table is rebuilt without the column, then a VACUUM of the
whole file (which also drops what erasures made before this revision left in free pages); on PostgreSQL,
where dropping a column leaves its values in the rows, with VACUUM FULL, which rewrites them without it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA secure_delete=ON")
    op.create_table('reporter_identity_keys',
    sa.Column('report_id', sa.String(length=40), nullable=False),
    sa.Column('wrapped_key', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ),
    sa.PrimaryKeyConstraint('report_id')
    )
    op.execute("INSERT INTO reporter_identity_keys (report_id, wrapped_key) "
               "SELECT id, reporter_identity_key FROM reports WHERE reporter_identity_key IS NOT NULL")
    op.execute("UPDATE reports SET reporter_identity_key = NULL WHERE reporter_identity_key IS NOT NULL")
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_column('reporter_identity_key')
    with op.get_context().autocommit_block():
        op.execute("VACUUM" if sqlite else "VACUUM FULL reports")


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_identity_key', sa.String(length=200), nullable=True))
    op.execute("UPDATE reports SET reporter_identity_key = (SELECT wrapped_key FROM reporter_identity_keys "
               "WHERE reporter_identity_keys.report_id = reports.id)")
    op.drop_table('reporter_identity_keys')
