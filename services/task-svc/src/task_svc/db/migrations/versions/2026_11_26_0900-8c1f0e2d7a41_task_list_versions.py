"""task_list_versions: per-user versions of the task list, the key of its cache

Revision ID: 8c1f0e2d7a41
Revises: 5353f454c309
Create Date: 2026-11-26 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c1f0e2d7a41"
down_revision: str | None = "5353f454c309"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_list_versions",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_task_list_versions")),
    )


def downgrade() -> None:
    op.drop_table("task_list_versions")
