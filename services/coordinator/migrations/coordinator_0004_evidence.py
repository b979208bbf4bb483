"""Evidence (issue 19 part 1): what was attached to a case and who checked it.

Revision ID: coordinator_0004
Revises: coordinator_0003
Create Date: 2026-12-01 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "coordinator_0004"
down_revision: str | None = "coordinator_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coordinator_evidence",
        sa.Column("evidence_id", sa.String(length=26), nullable=False),
        sa.Column("case_id", sa.String(length=26), nullable=False),
        sa.Column("referral_id", sa.String(length=26), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("object", sa.String(length=120), nullable=False),
        sa.Column("uploader", sa.String(length=63), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=26), nullable=False),
        sa.PrimaryKeyConstraint("evidence_id"),
    )
    with op.batch_alter_table("coordinator_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coordinator_evidence_case_id"), ["case_id"], unique=False
        )
    op.create_table(
        "coordinator_evidence_receipt",
        sa.Column("event_id", sa.String(length=26), nullable=False),
        sa.Column("evidence_id", sa.String(length=26), nullable=False),
        sa.Column("agency_id", sa.String(length=63), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("coordinator_evidence_receipt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coordinator_evidence_receipt_evidence_id"),
            ["evidence_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("coordinator_evidence_receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coordinator_evidence_receipt_evidence_id"))
    op.drop_table("coordinator_evidence_receipt")
    with op.batch_alter_table("coordinator_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coordinator_evidence_case_id"))
    op.drop_table("coordinator_evidence")
