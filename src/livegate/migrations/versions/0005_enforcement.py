"""0005: enforcement: sanctions and appeals, credit scores and events, the blacklist, evidence references, incident reports

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-29 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import livegate.core.db

revision: str = '0005'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('blacklist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value_index', sa.String(length=64), nullable=False),
    sa.Column('masked', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('sanction_id', sa.Integer(), nullable=True),
    sa.Column('import_batch', sa.String(length=40), nullable=False),
    sa.Column('proposed_by', sa.String(length=128), nullable=False),
    sa.Column('proposed_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_by', sa.String(length=128), nullable=False),
    sa.Column('confirmed_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('removed_by', sa.String(length=128), nullable=False),
    sa.Column('removed_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('removal_reason', sa.Text(), nullable=False),
    sa.Column('reported_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('report_batch', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blacklist_entries')),
    sa.UniqueConstraint('kind', 'value_index', name='uq_blacklist_entries_kind_value_index')
    )
    with op.batch_alter_table('blacklist_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blacklist_entries_import_batch'), ['import_batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_blacklist_entries_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_blacklist_entries_value_index'), ['value_index'], unique=False)

    op.create_table('credit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('score_after', sa.Integer(), nullable=False),
    sa.Column('level_before', sa.String(length=8), nullable=False),
    sa.Column('level_after', sa.String(length=8), nullable=False),
    sa.Column('sanction_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_credit_events_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_events'))
    )
    with op.batch_alter_table('credit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_events_account_id'), ['account_id'], unique=False)

    op.create_table('credit_scores',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('updated_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_violation_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_recovery_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_credit_scores_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_credit_scores'))
    )
    with op.batch_alter_table('credit_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_scores_level'), ['level'], unique=False)

    op.create_table('sanctions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('article', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('room_id', sa.String(length=16), nullable=True),
    sa.Column('requested_kind', sa.String(length=16), nullable=False),
    sa.Column('ladder_step', sa.Integer(), nullable=False),
    sa.Column('prior_violations', sa.Integer(), nullable=False),
    sa.Column('escalation', sa.Text(), nullable=False),
    sa.Column('credit_deducted', sa.Integer(), nullable=False),
    sa.Column('starts_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('acknowledged_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('effects_done', sa.Boolean(), nullable=False),
    sa.Column('effects', sa.JSON(), nullable=False),
    sa.Column('lifted_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', sa.String(length=128), nullable=False),
    sa.Column('lift_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sanctions_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sanctions'))
    )
    with op.batch_alter_table('sanctions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sanctions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sanctions_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sanctions_status'), ['status'], unique=False)

    op.create_table('enforcement_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sanction_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('recorded_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sanction_id'], ['sanctions.id'], name=op.f('fk_enforcement_evidence_sanction_id_sanctions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enforcement_evidence'))
    )
    with op.batch_alter_table('enforcement_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_evidence_sanction_id'), ['sanction_id'], unique=False)

    op.create_table('incident_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sanction_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('exported_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('exported_by', sa.String(length=128), nullable=False),
    sa.Column('exports', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sanction_id'], ['sanctions.id'], name=op.f('fk_incident_reports_sanction_id_sanctions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_reports'))
    )
    with op.batch_alter_table('incident_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_reports_sanction_id'), ['sanction_id'], unique=False)

    op.create_table('sanction_appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sanction_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('submitted_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=False),
    sa.Column('decided_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sanction_appeals_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sanction_id'], ['sanctions.id'], name=op.f('fk_sanction_appeals_sanction_id_sanctions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sanction_appeals')),
    sa.UniqueConstraint('sanction_id', name='uq_sanction_appeals_sanction_id')
    )
    with op.batch_alter_table('sanction_appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sanction_appeals_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sanction_appeals_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sanction_appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sanction_appeals_status'))
        batch_op.drop_index(batch_op.f('ix_sanction_appeals_account_id'))

    op.drop_table('sanction_appeals')
    with op.batch_alter_table('incident_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_reports_sanction_id'))

    op.drop_table('incident_reports')
    with op.batch_alter_table('enforcement_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_evidence_sanction_id'))

    op.drop_table('enforcement_evidence')
    with op.batch_alter_table('sanctions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sanctions_status'))
        batch_op.drop_index(batch_op.f('ix_sanctions_case_id'))
        batch_op.drop_index(batch_op.f('ix_sanctions_account_id'))

    op.drop_table('sanctions')
    with op.batch_alter_table('credit_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_scores_level'))

    op.drop_table('credit_scores')
    with op.batch_alter_table('credit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_events_account_id'))

    op.drop_table('credit_events')
    with op.batch_alter_table('blacklist_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blacklist_entries_value_index'))
        batch_op.drop_index(batch_op.f('ix_blacklist_entries_status'))
        batch_op.drop_index(batch_op.f('ix_blacklist_entries_import_batch'))

    op.drop_table('blacklist_entries')
