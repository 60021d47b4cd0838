"""server-side sessions, MFA (TOTP and recovery codes)

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-07 22:16:50.674333
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xiaoer.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mfa_recovery_code",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", xiaoer.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", xiaoer.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_mfa_recovery_code_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_recovery_code")),
    )
    with op.batch_alter_table("mfa_recovery_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mfa_recovery_code_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_mfa_recovery_code_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "stage",
            sa.Enum("mfa", "enrol", "active", name="sessionstage", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("last_seen_at", xiaoer.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", xiaoer.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("ended_at", xiaoer.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=30), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", xiaoer.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shop.id"], name=op.f("fk_user_session_shop_id_shop")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_user_session_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_session_token_hash")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_session_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_session_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("mfa_enabled_at", xiaoer.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("mfa_enabled_at")
        batch_op.drop_column("totp_secret")

    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_session_shop_id"))
        batch_op.drop_index(batch_op.f("ix_user_session_created_at"))

    op.drop_table("user_session")
    with op.batch_alter_table("mfa_recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mfa_recovery_code_user_id"))
        batch_op.drop_index(batch_op.f("ix_mfa_recovery_code_created_at"))

    op.drop_table("mfa_recovery_code")
