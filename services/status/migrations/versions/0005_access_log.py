"""access log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('client_id', sa.String(length=100), nullable=True),
    sa.Column('agency', sa.String(length=40), nullable=True),
    sa.Column('roles', sa.String(length=200), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('route', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('client_ip', sa.String(length=64), nullable=True),
    sa.Column('trace_id', sa.String(length=32), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index('ix_access_log_at', ['at'], unique=False)
        batch_op.create_index('ix_access_log_client', ['client_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_client')
        batch_op.drop_index('ix_access_log_at')
    op.drop_table('access_log')
