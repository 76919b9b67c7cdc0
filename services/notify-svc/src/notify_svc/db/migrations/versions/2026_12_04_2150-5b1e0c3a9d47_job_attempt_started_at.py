"""The start of a job's attempt in flight, committed before its request goes out

Revision ID: 5b1e0c3a9d47
Revises: c2d7f78dc19a
Create Date: 2026-12-04 21:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1e0c3a9d47"
down_revision: str | None = "c2d7f78dc19a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("attempt_started_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("jobs", "attempt_started_at")
