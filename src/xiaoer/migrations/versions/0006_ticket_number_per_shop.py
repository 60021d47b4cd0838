"""ticket numbers unique per shop

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-07 22:40:00

Each shop numbers its own tickets (T20261207-0001 once per shop). Downgrading restores the
global uniqueness and fails if two shops already share a number.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_ticket_number"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_ticket_shop_id_number"), ["shop_id", "number"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_ticket_shop_id_number"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_ticket_number"), ["number"])
