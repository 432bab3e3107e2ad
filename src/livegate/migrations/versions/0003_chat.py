"""0003: chat messages (with decisions), room modes, mutes, lexicon versions, chat switches

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import livegate.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = livegate.core.db.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("room_id", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("nickname", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("shown", sa.Text(), nullable=False),
        sa.Column("position", sa.String(length=8), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=255), nullable=False),
        sa.Column("client_ref", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("reviewed_at", _TS, nullable=True),
        sa.Column("reviewed_by", sa.String(length=128), nullable=False),
        sa.Column("removed_at", _TS, nullable=True),
        sa.Column("removed_by", sa.String(length=128), nullable=False),
        sa.Column("removal_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_chat_messages_account_id_accounts")),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_chat_messages_room_id_rooms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    op.create_index("ix_chat_messages_room_id_id", "chat_messages", ["room_id", "id"])
    op.create_index("ix_chat_messages_room_status", "chat_messages", ["room_id", "status"])
    op.create_index(op.f("ix_chat_messages_account_id"), "chat_messages", ["account_id"])

    op.create_table(
        "chat_room_modes",
        sa.Column("room_id", sa.String(length=16), nullable=False),
        sa.Column("slow_seconds", sa.Integer(), nullable=False),
        sa.Column("premoderation", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_chat_room_modes_room_id_rooms")),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_chat_room_modes")),
    )

    op.create_table(
        "chat_mutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("until", _TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("lifted_at", _TS, nullable=True),
        sa.Column("lifted_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_chat_mutes_account_id_accounts")),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_chat_mutes_room_id_rooms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_mutes")),
    )
    op.create_index("ix_chat_mutes_room_account", "chat_mutes", ["room_id", "account_id"])

    op.create_table(
        "chat_lexicon_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_lexicon_versions")),
    )

    op.create_table(
        "chat_switches",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_chat_switches")),
    )


def downgrade() -> None:
    op.drop_table("chat_switches")
    op.drop_table("chat_lexicon_versions")
    op.drop_index("ix_chat_mutes_room_account", table_name="chat_mutes")
    op.drop_table("chat_mutes")
    op.drop_table("chat_room_modes")
    op.drop_index(op.f("ix_chat_messages_account_id"), table_name="chat_messages")
    op.drop_index("ix_chat_messages_room_status", table_name="chat_messages")
    op.drop_index("ix_chat_messages_room_id_id", table_name="chat_messages")
    op.drop_table("chat_messages")
