"""task_status_versions: per-user counters of tasks entering or leaving a status

A change of status alone bumps these instead of the user's whole-list version, so kept
list pages that neither filter on the status nor show the task stay valid.

Revision ID: 6a4c2e8f0b13
Revises: 9d2e4f6a8b10
Create Date: 2026-12-05 03:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "6a4c2e8f0b13"
down_revision: str | None = "9d2e4f6a8b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

task_status = postgresql.ENUM(
    "todo", "in_progress", "done", "canceled", name="task_status", create_type=False
)


def upgrade() -> None:
    op.create_table(
        "task_status_versions",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("status", task_status, nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "status", "slot", name=op.f("pk_task_status_versions")),
    )


def downgrade() -> None:
    op.drop_table("task_status_versions")
