"""shopper verification: verified visitor sessions, one-time codes, per-shop identity secrets

Revision ID: 0005
Revises: 0003b (re-chained after merging main; the brief gave 0002)
Create Date: 2026-12-07 22:40:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import xiaoer.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch_op.create_index(
            "ix_customer_shop_external_id", ["shop_id", "external_id"], unique=True
        )
    with op.batch_alter_table("visitor_identity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified_customer_id", _ID, nullable=True))
        batch_op.add_column(
            sa.Column("verified_until", xiaoer.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("verified_method", sa.String(length=20), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_visitor_identity_verified_customer_id_customer"),
            "customer",
            ["verified_customer_id"],
            ["id"],
        )
    op.create_table(
        "verification_code",
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("visitor_token", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("customer_id", _ID, nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", xiaoer.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", xiaoer.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("created_at", xiaoer.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_verification_code_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shop.id"], name=op.f("fk_verification_code_shop_id_shop")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_code")),
    )
    with op.batch_alter_table("verification_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_code_visitor_token"), ["visitor_token"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_code_created_at"), ["created_at"], unique=False
        )
    secret_table = op.create_table(
        "chat_identity_secret",
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("rotated_at", xiaoer.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("created_at", xiaoer.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shop.id"], name=op.f("fk_chat_identity_secret_shop_id_shop")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_identity_secret")),
        sa.UniqueConstraint("shop_id", name=op.f("uq_chat_identity_secret_shop_id")),
    )
    with op.batch_alter_table("chat_identity_secret", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_identity_secret_created_at"), ["created_at"], unique=False
        )
    # Every existing shop gets its own secret now; new shops get one when first asked for.
    assert secret_table is not None
    bind = op.get_bind()
    shop_ids = [row[0] for row in bind.execute(sa.text("select id from shop"))]
    if shop_ids:
        now = xiaoer.db.utcnow()
        op.bulk_insert(
            secret_table,
            [
                {"shop_id": sid, "secret": secrets.token_urlsafe(32), "created_at": now}
                for sid in shop_ids
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_identity_secret", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_identity_secret_created_at"))
    op.drop_table("chat_identity_secret")
    with op.batch_alter_table("verification_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_code_created_at"))
        batch_op.drop_index(batch_op.f("ix_verification_code_visitor_token"))
    op.drop_table("verification_code")
    with op.batch_alter_table("visitor_identity", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_visitor_identity_verified_customer_id_customer"), type_="foreignkey"
        )
        batch_op.drop_column("verified_method")
        batch_op.drop_column("verified_until")
        batch_op.drop_column("verified_customer_id")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_shop_external_id")
        batch_op.drop_column("external_id")
