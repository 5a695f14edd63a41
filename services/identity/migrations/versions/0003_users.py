"""users: people's accounts (password, TOTP, lockout) and the audit of who changed which

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00
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
    op.create_table('users',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('agency_code', sa.String(length=40), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('ppk_agency', sa.String(length=40), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('password_reset_at', shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', shared.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('disabled_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('user_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', shared.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('user_audit', schema=None) as batch_op:
        batch_op.create_index('ix_user_audit_username', ['username'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('user_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_user_audit_username')
    op.drop_table('user_audit')
    op.drop_table('users')
