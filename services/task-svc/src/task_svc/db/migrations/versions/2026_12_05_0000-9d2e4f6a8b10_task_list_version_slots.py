"""task_list_versions.slot: a user's list version is the sum of slot counters

Concurrent writes of one user bump different slots, so they no longer wait for each
other on one row; every committed write still raises the sum.

Revision ID: 9d2e4f6a8b10
Revises: 3e5b7c9d1f20
Create Date: 2026-12-05 00:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d2e4f6a8b10"
down_revision: str | None = "3e5b7c9d1f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing counters become slot 0: every user's sum, hence their version, is unchanged.
    op.add_column(
        "task_list_versions",
        sa.Column("slot", sa.SmallInteger(), nullable=False, server_default="0"),
    )
    op.alter_column("task_list_versions", "slot", server_default=None)
    op.drop_constraint("pk_task_list_versions", "task_list_versions", type_="primary")
    op.create_primary_key("pk_task_list_versions", "task_list_versions", ["user_id", "slot"])


def downgrade() -> None:
    op.execute(
        "CREATE TEMPORARY TABLE summed AS SELECT user_id, sum(version)::bigint AS version "
        "FROM task_list_versions GROUP BY user_id"
    )
    op.execute("DELETE FROM task_list_versions")
    op.drop_constraint("pk_task_list_versions", "task_list_versions", type_="primary")
    op.drop_column("task_list_versions", "slot")
    op.execute("INSERT INTO task_list_versions (user_id, version) SELECT * FROM summed")
    op.create_primary_key("pk_task_list_versions", "task_list_versions", ["user_id"])
