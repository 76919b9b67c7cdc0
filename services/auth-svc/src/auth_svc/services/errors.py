"""auth-svc's domain errors; the common handler renders each as the error envelope."""

from __future__ import annotations

from taskhub_common.errors import Conflict, NotFound, TaskHubError


class InvalidCredentials(TaskHubError):
    """Unknown e-mail or wrong password: one body for both, so neither is revealed."""

    status_code, code, message = 401, "INVALID_CREDENTIALS", "The e-mail or password is wrong."


class EmailTaken(Conflict):
    message = "An account with this e-mail already exists."


class UserNotFound(NotFound):
    message = "The user was not found."


class OwnRoleChange(Conflict):
    message = "Administrators cannot change their own role."


class ApiKeyNotFound(NotFound):
    message = "The API key was not found."


class ApiKeyLimitReached(Conflict):
    code = "API_KEY_LIMIT"
    message = "You have as many live API keys as allowed; revoke one first."
