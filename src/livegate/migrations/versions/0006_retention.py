"""0006: retention — legal holds, account log, stored objects, inspection exports, audit heads

Revision ID: 0006
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import livegate.core.db

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = livegate.core.db.UtcDateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope_type", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(length=128), nullable=False),
        sa.Column("placed_at", UTC, nullable=False),
        sa.Column("lifted_at", UTC, nullable=True),
        sa.Column("lifted_by", sa.String(length=128), nullable=False),
        sa.Column("lift_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index("ix_legal_holds_scope", "legal_holds", ["scope_type", "scope_id"])
    op.create_index(op.f("ix_legal_holds_lifted_at"), "legal_holds", ["lifted_at"])

    op.create_table(
        "account_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("detail", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_account_log_account_id_accounts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_log")),
    )
    op.create_index(op.f("ix_account_log_account_id"), "account_log", ["account_id"])
    op.create_index(op.f("ix_account_log_at"), "account_log", ["at"])

    op.create_table(
        "storage_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("size", BIG, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("room_id", sa.String(length=16), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("stored_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_objects")),
        sa.UniqueConstraint("key", name=op.f("uq_storage_objects_key")),
    )
    for col in ("kind", "room_id", "account_id", "session_id", "recorded_at"):
        op.create_index(op.f(f"ix_storage_objects_{col}"), "storage_objects", [col])

    op.create_table(
        "inspection_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope_type", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=64), nullable=False),
        sa.Column("period_from", UTC, nullable=False),
        sa.Column("period_to", UTC, nullable=False),
        sa.Column("requester", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("directory", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", BIG, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_exports")),
    )

    op.create_table(
        "audit_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("seq", BIG, nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("written_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_heads")),
    )
    op.create_index(op.f("ix_audit_heads_day"), "audit_heads", ["day"])


def downgrade() -> None:
    op.drop_table("audit_heads")
    op.drop_table("inspection_exports")
    op.drop_table("storage_objects")
    op.drop_table("account_log")
    op.drop_table("legal_holds")
