"""Notification jobs, dead letters, reminders, processed events and sent e-mails

Revision ID: c2d7f78dc19a
Revises:
Create Date: 2026-11-26 06:13:12.061483+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c2d7f78dc19a"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column("task_owner_id", sa.UUID(), nullable=True),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('manual', 'task_done', 'reminder')", name=op.f("ck_jobs_kind")
        ),
        sa.CheckConstraint(
            "status IN ('scheduled', 'queued', 'ok', 'failed', 'canceled')",
            name=op.f("ck_jobs_status"),
        ),
        sa.CheckConstraint("type IN ('email', 'webhook')", name=op.f("ck_jobs_type")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("owner_id", "idempotency_key", name="uq_jobs_owner_id_idempotency_key"),
    )
    op.create_index(op.f("ix_jobs_event_id"), "jobs", ["event_id"], unique=False)
    op.create_index("ix_jobs_owner_id_created_at", "jobs", ["owner_id", "created_at"], unique=False)
    op.create_index("ix_jobs_status_updated_at", "jobs", ["status", "updated_at"], unique=False)
    op.create_index(op.f("ix_jobs_task_id"), "jobs", ["task_id"], unique=False)
    op.create_index(
        "ix_jobs_task_owner_id_created_at", "jobs", ["task_owner_id", "created_at"], unique=False
    )
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "failed_notifications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_failed_notifications_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_notifications")),
        sa.UniqueConstraint("job_id", name=op.f("uq_failed_notifications_job_id")),
    )
    op.create_index(
        op.f("ix_failed_notifications_failed_at"),
        "failed_notifications",
        ["failed_at"],
        unique=False,
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=False),
        sa.Column("task_title", sa.String(length=500), nullable=False),
        sa.Column("recipient_id", sa.UUID(), nullable=False),
        sa.Column("task_owner_id", sa.UUID(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remind_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.UUID(), nullable=True),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_reminders_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("task_id", name=op.f("uq_reminders_task_id")),
    )
    op.create_index(
        "ix_reminders_remind_at_unsent",
        "reminders",
        ["remind_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "sent_emails",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("recipient_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_sent_emails_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_emails")),
        sa.UniqueConstraint("job_id", name=op.f("uq_sent_emails_job_id")),
    )


def downgrade() -> None:
    op.drop_table("sent_emails")
    op.drop_index(
        "ix_reminders_remind_at_unsent",
        table_name="reminders",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("reminders")
    op.drop_index(op.f("ix_failed_notifications_failed_at"), table_name="failed_notifications")
    op.drop_table("failed_notifications")
    op.drop_table("processed_events")
    op.drop_index("ix_jobs_task_owner_id_created_at", table_name="jobs")
    op.drop_index(op.f("ix_jobs_task_id"), table_name="jobs")
    op.drop_index("ix_jobs_status_updated_at", table_name="jobs")
    op.drop_index("ix_jobs_owner_id_created_at", table_name="jobs")
    op.drop_index(op.f("ix_jobs_event_id"), table_name="jobs")
    op.drop_table("jobs")
