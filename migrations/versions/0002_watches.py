"""watches: watch mode (docs/watch.md)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('watches',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('request', JSONType, nullable=False),
    sa.Column('interval_s', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_note', sa.Text(), nullable=True),
    sa.Column('askers', JSONType, nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('thread_ts', sa.String(length=32), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('stats', JSONType, nullable=False),
    sa.Column('episodes', JSONType, nullable=False),
    sa.CheckConstraint("status IN ('active', 'ended', 'stopped', 'expired')", name=op.f('ck_watches_status')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_watches_incident_id_incidents'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watches'))
    )
    op.create_index('ix_watches_host_port_active', 'watches', ['host', 'port'], unique=True,
                    postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))
    op.create_index('ix_watches_status_heartbeat_at', 'watches', ['status', 'heartbeat_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_watches_status_heartbeat_at', table_name='watches')
    op.drop_index('ix_watches_host_port_active', table_name='watches')
    op.drop_table('watches')
