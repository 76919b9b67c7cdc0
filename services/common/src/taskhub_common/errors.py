"""One error envelope for every non-2xx response, and the handlers that produce it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path

from taskhub_common.context import current_request_id

# Status -> code, for errors raised by the framework rather than by our domain code.
CODE_BY_STATUS: dict[int, str] = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[FieldError] | None = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    """The envelope: `{"error": {"code", "message", "details"?, "request_id"}}`."""

    error: ErrorBody


class TaskHubError(Exception):
    """Base of every expected failure; the handler turns it into the envelope."""

    status_code: int = 400
    code: str = "VALIDATION_ERROR"
    message: str = "The request is not valid."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = list(details) if details else None
        self.headers = headers
        super().__init__(self.message)


class ValidationFailed(TaskHubError):
    status_code, code, message = 422, "VALIDATION_ERROR", "The request is not valid."


class Unauthorized(TaskHubError):
    status_code, code, message = 401, "UNAUTHORIZED", "Authentication is required."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(TaskHubError):
    status_code, code, message = 403, "FORBIDDEN", "You are not allowed to do this."


class NotFound(TaskHubError):
    status_code, code, message = 404, "NOT_FOUND", "The resource was not found."


class Conflict(TaskHubError):
    status_code, code, message = 409, "CONFLICT", "The request conflicts with the current state."


class RateLimited(TaskHubError):
    status_code, code, message = 429, "RATE_LIMITED", "Too many requests."

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_seconds))})


class ServiceUnavailable(TaskHubError):
    """A dependency cannot be reached: the client may retry after `Retry-After` seconds."""

    status_code, code, message = 503, "SERVICE_UNAVAILABLE", "A dependency is unavailable."

    def __init__(self, message: str | None = None, *, retry_after_seconds: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after_seconds))})


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(
        code=code,
        message=message,
        details=list(details) if details else None,
        request_id=current_request_id(),
    )
    return JSONResponse(
        {"error": body.model_dump(exclude_none=True)}, status_code=status_code, headers=headers
    )


def _field_name(location: Sequence[Any]) -> str:
    return ".".join(str(part) for part in location)


def _validation_message(error: dict[str, Any]) -> str:
    # Pydantic's messages are safe and readable; the input value is deliberately not echoed
    # (it may be a password).
    if error.get("type") == "extra_forbidden":
        return "Unknown field."
    if error.get("type") == "json_invalid":
        return "The body is not valid JSON."
    return str(error.get("msg", "Invalid value."))


async def _handle_domain_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, TaskHubError)
    return error_response(
        exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers
    )


async def _handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # `PATCH /tasks/bulk-status` reaches `PATCH /tasks/{task_id}` and fails its id: but the
    # path names a resource of its own that has no PATCH, which is a 405, not a bad id.
    allowed = _methods_of_fixed_path(request)
    if allowed is not None and request.method not in allowed:
        return error_response(
            405,
            "METHOD_NOT_ALLOWED",
            HTTPStatus.METHOD_NOT_ALLOWED.phrase,
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    details = [
        FieldError(field=_field_name(err.get("loc", ())), message=_validation_message(err))
        for err in exc.errors()
    ]
    return error_response(422, "VALIDATION_ERROR", "The request is not valid.", details=details)


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# FastAPI raises a bare 400 when a body cannot even be decoded (e.g. it is not UTF-8); the
# contract calls every unreadable body a 422 VALIDATION_ERROR, like malformed JSON.
UNREADABLE_BODY_MESSAGE = "The request body could not be read as JSON."


def _allowed_methods(request: Request, starlette_allow: str | None) -> str | None:
    """Every method the request's path supports, for the `Allow` header of a 405.

    Starlette's own 405 names only the first route whose path matched, so a path served by
    two routes (GET and DELETE `/x/{id}`) would advertise one method. The app's OpenAPI
    document knows them all; Starlette's value covers routes the document leaves out.
    """
    methods = {m.strip().upper() for m in (starlette_allow or "").split(",") if m.strip()}
    app = request.app
    if isinstance(app, FastAPI):
        path = request.url.path
        for template, operations in app.openapi().get("paths", {}).items():
            regex, _format, _convertors = compile_path(template)
            if regex.match(path):
                methods |= {method.upper() for method in operations if method in HTTP_METHODS}
    return ", ".join(sorted(methods)) or None


def _methods_of_fixed_path(request: Request) -> set[str] | None:
    """The methods the app documents for exactly this path without parameters, if any."""
    app = request.app
    if not isinstance(app, FastAPI):
        return None
    operations = app.openapi().get("paths", {}).get(request.url.path)
    if operations is None:
        return None
    return {method.upper() for method in operations if method in HTTP_METHODS}


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        return error_response(422, "VALIDATION_ERROR", UNREADABLE_BODY_MESSAGE)
    code = CODE_BY_STATUS.get(exc.status_code, "INTERNAL_ERROR")
    default_message = HTTPStatus(exc.status_code).phrase
    message = exc.detail if isinstance(exc.detail, str) else default_message
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = _allowed_methods(request, headers.pop("Allow", None))
        if allowed:
            headers["Allow"] = allowed
    return error_response(exc.status_code, code, message, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    """Route domain, validation and HTTP failures to the one envelope.

    Unexpected exceptions become the 500 envelope in `RequestContextMiddleware`.
    """
    app.add_exception_handler(TaskHubError, _handle_domain_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring the envelope for the given statuses."""
    return {
        status: {"model": ErrorResponse, "description": HTTPStatus(status).phrase}
        for status in statuses
    }
