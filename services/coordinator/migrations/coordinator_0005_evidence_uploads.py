"""Evidence uploads through the hub (issue 19 part 1, security fix): what it stored.

Revision ID: coordinator_0005
Revises: coordinator_0004
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "coordinator_0005"
down_revision: str | None = "coordinator_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coordinator_evidence_upload",
        sa.Column("evidence_id", sa.String(length=26), nullable=False),
        sa.Column("case_id", sa.String(length=26), nullable=False),
        sa.Column("uploader", sa.String(length=63), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("evidence_id"),
    )
    with op.batch_alter_table("coordinator_evidence_upload", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coordinator_evidence_upload_case_id"), ["case_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("coordinator_evidence_upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coordinator_evidence_upload_case_id"))
    op.drop_table("coordinator_evidence_upload")
