"""baseline: the rights-holder desk's notices

Revision ID: holders_0001
Revises:
Create Date: 2026-12-01 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "holders_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("holders",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holders_notice",
        sa.Column("notice_id", sa.String(length=26), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("case_id", sa.String(length=26), nullable=False),
        sa.Column("detention_id", sa.String(length=26), nullable=False),
        sa.Column("port", sa.String(), nullable=False),
        sa.Column("hs_code", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("ip_right", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("respond_by", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answer_ref", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("notice_id"),
    )
    with op.batch_alter_table("holders_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holders_notice_holder"), ["holder"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("holders_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holders_notice_holder"))
    op.drop_table("holders_notice")
