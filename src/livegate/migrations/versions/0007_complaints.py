"""0007: complaints (cases, reports, evidence, spent proof-of-work challenges)

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-29 04:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import livegate.core.db

revision: str = "0007"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = livegate.core.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "complaint_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merge_key", sa.String(length=160), nullable=True),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=128), nullable=False),
        sa.Column("room_id", sa.String(length=16), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("ack_due_at", UTC, nullable=False),
        sa.Column("decide_due_at", UTC, nullable=False),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=False),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("outcome_note", sa.Text(), nullable=False),
        sa.Column("escalation", sa.Integer(), nullable=False),
        sa.Column("escalated_at", UTC, nullable=True),
        sa.Column("surge_at", UTC, nullable=True),
        sa.Column("review_case_id", sa.Integer(), nullable=True),
        sa.Column("appeal_ref", sa.String(length=64), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_cases")),
        sa.UniqueConstraint("merge_key", name=op.f("uq_complaint_cases_merge_key")),
    )
    with op.batch_alter_table("complaint_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_cases_room_id"), ["room_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_cases_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_cases_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_cases_priority"), ["priority"], unique=False)

    op.create_table(
        "complaint_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=48), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=128), nullable=False),
        sa.Column("room_id", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact_sealed", sa.Text(), nullable=False),
        sa.Column("reporter_account_id", sa.Integer(), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["complaint_cases.id"],
                                name=op.f("fk_complaint_reports_case_id_complaint_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reporter_account_id"], ["accounts.id"],
                                name=op.f("fk_complaint_reports_reporter_account_id_accounts"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_reports")),
        sa.UniqueConstraint("ticket", name=op.f("uq_complaint_reports_ticket")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_complaint_reports_token_hash")),
    )
    with op.batch_alter_table("complaint_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_reports_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_reports_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_reports_room_id"), ["room_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_reports_received_at"), ["received_at"], unique=False)

    op.create_table(
        "complaint_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=True),
        sa.Column("captured_at", UTC, nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("hold_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["complaint_reports.id"],
                                name=op.f("fk_complaint_evidence_report_id_complaint_reports"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_evidence")),
    )
    with op.batch_alter_table("complaint_evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_evidence_report_id"), ["report_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_evidence_case_id"), ["case_id"], unique=False)

    op.create_table(
        "complaint_challenges_spent",
        sa.Column("challenge_id", sa.String(length=32), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("challenge_id", name=op.f("pk_complaint_challenges_spent")),
    )
    with op.batch_alter_table("complaint_challenges_spent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_challenges_spent_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("complaint_challenges_spent")
    op.drop_table("complaint_evidence")
    op.drop_table("complaint_reports")
    op.drop_table("complaint_cases")
