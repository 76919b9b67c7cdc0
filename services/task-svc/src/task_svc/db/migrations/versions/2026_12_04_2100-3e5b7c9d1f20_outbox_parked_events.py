"""outbox.parked_at: events notify-svc rejects for good stop blocking their task

Revision ID: 3e5b7c9d1f20
Revises: 8c1f0e2d7a41
Create Date: 2026-12-04 21:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e5b7c9d1f20"
down_revision: str | None = "8c1f0e2d7a41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "delivered_at IS NULL AND parked_at IS NULL"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_outbox_undelivered_task", table_name="outbox")
    op.drop_index("ix_outbox_undelivered", table_name="outbox")
    op.create_index(
        "ix_outbox_pending", "outbox", ["created_at", "id"], postgresql_where=sa.text(PENDING)
    )
    op.create_index(
        "ix_outbox_pending_task",
        "outbox",
        ["task_id", "created_at"],
        postgresql_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_outbox_parked",
        "outbox",
        ["parked_at"],
        postgresql_where=sa.text("parked_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_parked", table_name="outbox")
    op.drop_index("ix_outbox_pending_task", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    undelivered = sa.text("delivered_at IS NULL")
    op.create_index(
        "ix_outbox_undelivered", "outbox", ["created_at", "id"], postgresql_where=undelivered
    )
    op.create_index(
        "ix_outbox_undelivered_task",
        "outbox",
        ["task_id", "created_at"],
        postgresql_where=undelivered,
    )
    op.drop_column("outbox", "parked_at")
