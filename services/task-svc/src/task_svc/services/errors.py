"""task-svc's domain errors; the common handler renders each as the error envelope."""

from __future__ import annotations

from taskhub_common.errors import (
    FieldError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)


class TaskNotFound(NotFound):
    message = "The task was not found."


class TaskChangeForbidden(Forbidden):
    message = "An assignee may change only the status of a task."


class TaskDeleteForbidden(Forbidden):
    message = "Only the owner of a task may delete it."


class ParkedEventNotFound(NotFound):
    message = "No parked event with this id."


class UnknownAssignee(ValidationFailed):
    message = "The request is not valid."

    def __init__(self, field: str) -> None:
        super().__init__(details=[FieldError(field=field, message="No user has this id.")])


class UserDirectoryUnavailable(ServiceUnavailable):
    message = "The user directory is unavailable; try again shortly."
