"""tasks.revision: one more with every update of a task row

Kept list pages remember the revisions of the tasks they show: a change to one of them
makes the page out of date, a change to any other task of the user need not.

Revision ID: 7b5d3f9a1c24
Revises: 6a4c2e8f0b13
Create Date: 2026-12-05 03:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b5d3f9a1c24"
down_revision: str | None = "6a4c2e8f0b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        "tasks", sa.Column("revision", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("tasks", "revision")
