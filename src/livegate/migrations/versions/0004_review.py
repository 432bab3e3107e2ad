"""0004: the review domain (cases, evidence, hash bank, duty, patrol, switches, incidents, news plans, posts, profile changes, warnings)

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import livegate.core.db


revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('review_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('room_id', sa.String(length=16), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('audience', sa.Integer(), nullable=False),
    sa.Column('credit_level', sa.String(length=16), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('signal_count', sa.Integer(), nullable=False),
    sa.Column('auto_action', sa.String(length=32), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=False),
    sa.Column('claimed_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('escalated_to', sa.String(length=32), nullable=False),
    sa.Column('decision', sa.String(length=32), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=False),
    sa.Column('decided_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_review_cases_account_id_accounts')),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_review_cases_room_id_rooms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_cases'))
    )
    op.create_table('review_hashes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hash_hex', sa.String(length=64), nullable=False),
    sa.Column('quality', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('evidence_id', sa.Integer(), nullable=True),
    sa.Column('added_by', sa.String(length=128), nullable=False),
    sa.Column('added_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('removed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_hashes'))
    )
    op.create_table('review_shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('duty', sa.String(length=32), nullable=False),
    sa.Column('starts_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_review_shifts_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_shifts'))
    )
    op.create_table('review_patrol_looks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('room_id', sa.String(length=16), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_patrol_looks'))
    )
    op.create_table('review_thumbnails',
    sa.Column('room_id', sa.String(length=16), nullable=False),
    sa.Column('session', sa.String(length=32), nullable=False),
    sa.Column('jpeg', sa.LargeBinary(), nullable=False),
    sa.Column('captured_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('room_id', name=op.f('pk_review_thumbnails'))
    )
    op.create_table('review_switches',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('changed_by', sa.String(length=128), nullable=False),
    sa.Column('changed_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_review_switches'))
    )
    op.create_table('review_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_by', sa.String(length=128), nullable=False),
    sa.Column('opened_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_incidents'))
    )
    op.create_table('review_news_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('reprint_source', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('submitted_by', sa.String(length=128), nullable=False),
    sa.Column('submitted_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=False),
    sa.Column('decided_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_review_news_plans_room_id_rooms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_news_plans'))
    )
    op.create_table('review_posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('image_jpeg', sa.LargeBinary(), nullable=True),
    sa.Column('source_label', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=False),
    sa.Column('decided_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_review_posts_account_id_accounts')),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], name=op.f('fk_review_posts_room_id_rooms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_posts'))
    )
    op.create_table('review_profile_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('new_text', sa.Text(), nullable=False),
    sa.Column('new_image', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=False),
    sa.Column('decided_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_review_profile_changes_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_profile_changes'))
    )
    op.create_table('review_warnings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('room_id', sa.String(length=16), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', livegate.core.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_review_warnings_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_warnings'))
    )
    op.create_table('review_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('jpeg', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_cases.id'], name=op.f('fk_review_evidence_case_id_review_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_evidence'))
    )
    op.create_table('review_incident_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('at', livegate.core.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['review_incidents.id'], name=op.f('fk_review_incident_events_incident_id_review_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_incident_events'))
    )
    op.create_index(op.f('ix_review_cases_account_id'), 'review_cases', ['account_id'], unique=False)
    op.create_index(op.f('ix_review_cases_created_at'), 'review_cases', ['created_at'], unique=False)
    op.create_index(op.f('ix_review_cases_priority'), 'review_cases', ['priority'], unique=False)
    op.create_index(op.f('ix_review_cases_room_id'), 'review_cases', ['room_id'], unique=False)
    op.create_index(op.f('ix_review_cases_status'), 'review_cases', ['status'], unique=False)
    op.create_index(op.f('ix_review_cases_target_id'), 'review_cases', ['target_id'], unique=False)
    op.create_index(op.f('ix_review_cases_target_type'), 'review_cases', ['target_type'], unique=False)
    op.create_index(op.f('ix_review_hashes_hash_hex'), 'review_hashes', ['hash_hex'], unique=False)
    op.create_index(op.f('ix_review_shifts_account_id'), 'review_shifts', ['account_id'], unique=False)
    op.create_index(op.f('ix_review_shifts_ends_at'), 'review_shifts', ['ends_at'], unique=False)
    op.create_index(op.f('ix_review_shifts_starts_at'), 'review_shifts', ['starts_at'], unique=False)
    op.create_index(op.f('ix_review_patrol_looks_actor'), 'review_patrol_looks', ['actor'], unique=False)
    op.create_index(op.f('ix_review_patrol_looks_at'), 'review_patrol_looks', ['at'], unique=False)
    op.create_index(op.f('ix_review_patrol_looks_room_id'), 'review_patrol_looks', ['room_id'], unique=False)
    op.create_index(op.f('ix_review_news_plans_room_id'), 'review_news_plans', ['room_id'], unique=False)
    op.create_index(op.f('ix_review_news_plans_status'), 'review_news_plans', ['status'], unique=False)
    op.create_index(op.f('ix_review_posts_room_id'), 'review_posts', ['room_id'], unique=False)
    op.create_index(op.f('ix_review_posts_status'), 'review_posts', ['status'], unique=False)
    op.create_index(op.f('ix_review_profile_changes_account_id'), 'review_profile_changes', ['account_id'], unique=False)
    op.create_index(op.f('ix_review_profile_changes_status'), 'review_profile_changes', ['status'], unique=False)
    op.create_index(op.f('ix_review_warnings_account_id'), 'review_warnings', ['account_id'], unique=False)
    op.create_index(op.f('ix_review_evidence_case_id'), 'review_evidence', ['case_id'], unique=False)
    op.create_index(op.f('ix_review_incident_events_incident_id'), 'review_incident_events', ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_table('review_incident_events')
    op.drop_table('review_evidence')
    op.drop_table('review_warnings')
    op.drop_table('review_profile_changes')
    op.drop_table('review_posts')
    op.drop_table('review_news_plans')
    op.drop_table('review_incidents')
    op.drop_table('review_switches')
    op.drop_table('review_thumbnails')
    op.drop_table('review_patrol_looks')
    op.drop_table('review_shifts')
    op.drop_table('review_hashes')
    op.drop_table('review_cases')
