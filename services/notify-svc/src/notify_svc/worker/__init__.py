"""notify-svc's background workers: Celery (delivery, beat) and ARQ (delayed release)."""
