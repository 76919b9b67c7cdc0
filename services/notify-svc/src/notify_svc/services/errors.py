"""notify-svc's domain errors (each becomes the envelope through taskhub_common)."""

from __future__ import annotations

from taskhub_common.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed


class JobNotFound(NotFound):
    message = "The job was not found."


class JobNotCancelable(Conflict):
    message = "Only a scheduled job can be canceled."


class IdempotencyKeyReused(Conflict):
    message = "The Idempotency-Key was already used with a different request."


class UnsafeWebhookUrl(ValidationFailed):
    message = "The webhook URL is not allowed."


class UsersUnavailable(ServiceUnavailable):
    message = "User data is unavailable; try again shortly."
