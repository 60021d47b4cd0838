"""shop widget settings: allowed framing origins and brand colour

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-07 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("widget_origins", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("widget_color", sa.String(length=7), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_column("widget_color")
        batch_op.drop_column("widget_origins")
