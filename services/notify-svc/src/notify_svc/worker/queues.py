"""What the producers of notify-svc's messages and its workers must agree on: task names,
queues, and the ARQ function that releases a scheduled job."""

from __future__ import annotations

DELIVER_TASK = "notify.deliver_job"
# Webhooks have a queue and a worker of their own: receivers that hang until the time
# limit can fill that worker's processes, never the ones that deliver e-mail. One task
# name on both queues, so its metrics and alerts see every delivery.
DEFAULT_QUEUE = "celery"
WEBHOOK_QUEUE = "webhooks"
SCAN_REMINDERS_TASK = "notify.scan_reminders"
SWEEP_TASK = "notify.sweep_stuck_jobs"
RELEASE_FUNCTION = "release_job"
