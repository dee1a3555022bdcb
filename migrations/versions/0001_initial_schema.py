"""initial schema: incidents, askers, evidence, findings, audit, slack events, drift, report runs

Revision ID: 0001
Revises: 
Create Date: 2026-11-25
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen copies of the model types (migrations must not change when models do).
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('drift_snapshots',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('values', JSONType, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_snapshots'))
    )
    op.create_index('ix_drift_snapshots_host_taken_at', 'drift_snapshots', ['host', 'taken_at'], unique=False)

    op.create_table('drift_waivers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('who', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drift_waivers'))
    )
    op.create_index('ix_drift_waivers_host_key', 'drift_waivers', ['host', 'key'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('port', sa.Integer(), nullable=True),
    sa.Column('service', sa.String(length=64), nullable=True),
    sa.Column('vantages', JSONType, nullable=False),
    sa.Column('request_text', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verdict', sa.Text(), nullable=True),
    sa.Column('top_severity', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acked_by', sa.String(length=128), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('asked_count', sa.Integer(), nullable=False),
    sa.Column('opened_by', sa.String(length=128), nullable=True),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('thread_ts', sa.String(length=32), nullable=True),
    sa.Column('reply_ts', sa.String(length=32), nullable=True),
    sa.Column('diagnosing', sa.Boolean(), nullable=False),
    sa.Column('runner', sa.String(length=255), nullable=True),
    sa.Column('diagnosing_since', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('open', 'acked', 'resolved', 'interrupted')", name=op.f('ck_incidents_status')),
    sa.CheckConstraint("top_severity IS NULL OR top_severity IN ('critical', 'warning', 'info')", name=op.f('ck_incidents_top_severity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    op.create_index('ix_incidents_active_target', 'incidents', ['host', 'port'], unique=False, sqlite_where=sa.text("status IN ('open', 'acked')"), postgresql_where=sa.text("status IN ('open', 'acked')"))
    op.create_index('ix_incidents_created_at', 'incidents', ['created_at'], unique=False)
    op.create_index('ix_incidents_diagnosing', 'incidents', ['diagnosing'], unique=False, sqlite_where=sa.text('diagnosing = 1'), postgresql_where=sa.text('diagnosing'))
    op.create_index('ix_incidents_host_id', 'incidents', ['host', 'id'], unique=False)
    op.create_index('ix_incidents_host_port_id', 'incidents', ['host', 'port', 'id'], unique=False)
    op.create_index('ix_incidents_status_id', 'incidents', ['status', 'id'], unique=False)

    op.create_table('report_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=255), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_runs')),
    sa.UniqueConstraint('name', 'scheduled_for', name=op.f('uq_report_runs_name_scheduled_for'))
    )
    op.create_table('slack_events',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replica', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_slack_events'))
    )
    op.create_index('ix_slack_events_expires_at', 'slack_events', ['expires_at'], unique=False)

    op.create_table('askers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('who', sa.String(length=128), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('thread_ts', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_askers_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_askers'))
    )
    op.create_index('ix_askers_incident_id_asked_at', 'askers', ['incident_id', 'asked_at'], unique=False)

    op.create_table('audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('who', sa.String(length=128), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', JSONType, nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_audit_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit'))
    )
    op.create_index('ix_audit_action_at', 'audit', ['action', 'at'], unique=False)
    op.create_index('ix_audit_incident_id_id', 'audit', ['incident_id', 'id'], unique=False)

    op.create_table('evidence',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('who', sa.String(length=128), nullable=True),
    sa.Column('verdict', sa.Text(), nullable=True),
    sa.Column('data', JSONType, nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_evidence_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence'))
    )
    op.create_index('ix_evidence_incident_id_id', 'evidence', ['incident_id', 'id'], unique=False)

    op.create_table('findings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.Integer(), nullable=True),
    sa.Column('rule_id', sa.String(length=128), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('evidence_lines', JSONType, nullable=False),
    sa.Column('fix', JSONType, nullable=False),
    sa.Column('confidence', sa.Double(), nullable=True),
    sa.Column('rule_version', sa.String(length=32), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("severity IN ('critical', 'warning', 'info')", name=op.f('ck_findings_severity')),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_findings_evidence_id_evidence'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_findings_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_findings'))
    )
    op.create_index('ix_findings_evidence_id', 'findings', ['evidence_id'], unique=False)
    op.create_index('ix_findings_incident_id_evidence_id', 'findings', ['incident_id', 'evidence_id'], unique=False)
    op.create_index('ix_findings_rule_id', 'findings', ['rule_id'], unique=False)



def downgrade() -> None:
    op.drop_index('ix_findings_rule_id', table_name='findings')
    op.drop_index('ix_findings_incident_id_evidence_id', table_name='findings')
    op.drop_index('ix_findings_evidence_id', table_name='findings')

    op.drop_table('findings')
    op.drop_index('ix_evidence_incident_id_id', table_name='evidence')

    op.drop_table('evidence')
    op.drop_index('ix_audit_incident_id_id', table_name='audit')
    op.drop_index('ix_audit_action_at', table_name='audit')

    op.drop_table('audit')
    op.drop_index('ix_askers_incident_id_asked_at', table_name='askers')

    op.drop_table('askers')
    op.drop_index('ix_slack_events_expires_at', table_name='slack_events')

    op.drop_table('slack_events')
    op.drop_table('report_runs')
    op.drop_index('ix_incidents_status_id', table_name='incidents')
    op.drop_index('ix_incidents_host_port_id', table_name='incidents')
    op.drop_index('ix_incidents_host_id', table_name='incidents')
    op.drop_index('ix_incidents_diagnosing', table_name='incidents', sqlite_where=sa.text('diagnosing = 1'), postgresql_where=sa.text('diagnosing'))
    op.drop_index('ix_incidents_created_at', table_name='incidents')
    op.drop_index('ix_incidents_active_target', table_name='incidents', sqlite_where=sa.text("status IN ('open', 'acked')"), postgresql_where=sa.text("status IN ('open', 'acked')"))

    op.drop_table('incidents')
    op.drop_index('ix_drift_waivers_host_key', table_name='drift_waivers')

    op.drop_table('drift_waivers')
    op.drop_index('ix_drift_snapshots_host_taken_at', table_name='drift_snapshots')

    op.drop_table('drift_snapshots')
