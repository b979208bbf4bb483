"""A version on each deadline row: an update from a stale read no longer writes over a
newer one (``met`` over the watch's ``overdue`` on PostgreSQL).

Revision ID: coordinator_0006
Revises: coordinator_0005
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "coordinator_0006"
down_revision: str | None = "coordinator_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coordinator_deadline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("coordinator_deadline", schema=None) as batch_op:
        batch_op.drop_column("version")
