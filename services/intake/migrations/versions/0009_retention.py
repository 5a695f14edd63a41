"""retention: when evidence links were removed, and the archives made of each election

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 22:30:00

The retention sweep (services/intake/retention.py) removes a report's evidence links when their period ends
and retires a closed case only when a verified archive of its election holds it (``archived_cases``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UtcDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reports') as batch:
        batch.add_column(sa.Column('evidence_removed_at', UtcDateTime(timezone=True), nullable=True))
    op.create_table(
        'archived_cases',
        sa.Column('case_id', sa.String(length=40), primary_key=True),
        sa.Column('election_code', sa.String(length=40), nullable=False),
        sa.Column('archive_sha256', sa.String(length=64), nullable=False),
        sa.Column('archived_at', UtcDateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_archived_cases_election_code', 'archived_cases', ['election_code'])
    op.create_table(
        'election_archives',
        sa.Column('sha256', sa.String(length=64), primary_key=True),
        sa.Column('election_code', sa.String(length=40), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('recorded_by', sa.String(length=200), nullable=False),
        sa.Column('recorded_at', UtcDateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_election_archives_election_code', 'election_archives', ['election_code'])


def downgrade() -> None:
    op.drop_table('election_archives')
    op.drop_table('archived_cases')
    with op.batch_alter_table('reports') as batch:
        batch.drop_column('evidence_removed_at')
