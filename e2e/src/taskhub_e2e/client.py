"""A typed client of the TaskHub public API (API.md) that records every exchange it makes.

Every request carries its own `X-Request-ID` (`<prefix>-<n>`) and a fresh W3C `traceparent`,
so a failure can be followed into each service's log even when no answer came back.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from taskhub_e2e.recording import (
    Exchange,
    ExchangeLog,
    redact_body,
    redact_headers,
    redact_text,
    trace_id_from_headers,
)

DEFAULT_TIMEOUT_SECONDS = 10.0
USER_AGENT = "taskhub-e2e"


class Service(StrEnum):
    AUTH = "auth"
    TASKS = "tasks"
    NOTIFY = "notify"

    @classmethod
    def named(cls, words: str) -> Service:
        """The service a feature file means: "auth", "task(s)", "notify"/"notification"."""
        key = words.strip().lower().removesuffix(" service")
        aliases = {"task": cls.TASKS, "notification": cls.NOTIFY, "notifications": cls.NOTIFY}
        return aliases[key] if key in aliases else cls(key)

    @property
    def program(self) -> str:
        """Its program name in the native stack (`taskhub-stack status`)."""
        return {"auth": "auth-svc", "tasks": "task-svc", "notify": "notify-svc"}[self.value]


@dataclass(frozen=True)
class Route:
    """One operation of the contract: method and path template with `{name}` parameters."""

    method: str
    template: str

    @property
    def service(self) -> Service:
        return Service(self.template.strip("/").split("/")[0])

    def path(self, params: Mapping[str, object]) -> str:
        return self.template.format(**{key: str(value) for key, value in params.items()})

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


class Routes:
    """The public routes of API.md, by the name the steps use."""

    REGISTER = Route("POST", "/auth/register")
    LOGIN = Route("POST", "/auth/login")
    REFRESH = Route("POST", "/auth/refresh")
    LOGOUT = Route("POST", "/auth/logout")
    ME = Route("GET", "/auth/me")
    JWKS = Route("GET", "/auth/.well-known/jwks.json")
    USERS = Route("GET", "/auth/users")
    USER_ROLE = Route("PATCH", "/auth/users/{user_id}")
    AUDIT = Route("GET", "/auth/audit")

    CREATE_TASK = Route("POST", "/tasks")
    LIST_TASKS = Route("GET", "/tasks")
    GET_TASK = Route("GET", "/tasks/{task_id}")
    UPDATE_TASK = Route("PATCH", "/tasks/{task_id}")
    DELETE_TASK = Route("DELETE", "/tasks/{task_id}")
    BULK_STATUS = Route("POST", "/tasks/bulk-status")

    NOTIFY_EMAIL = Route("POST", "/notify/email")
    NOTIFY_WEBHOOK = Route("POST", "/notify/webhook")
    GET_JOB = Route("GET", "/notify/jobs/{job_id}")
    LIST_JOBS = Route("GET", "/notify/jobs")
    CANCEL_JOB = Route("DELETE", "/notify/jobs/{job_id}")
    FAILED = Route("GET", "/notify/failed")


# Called with a contract route the deployment answered 404: may skip the scenario.
MissingRouteHook = Callable[[Route, httpx.Response], None]


def error_code(response: httpx.Response) -> str | None:
    """The `error.code` of an error envelope, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class TaskHubClient:
    """Synchronous client for one base URL; every exchange goes into `log`."""

    def __init__(
        self,
        base_url: str,
        log: ExchangeLog,
        *,
        request_id_prefix: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        on_missing_route: MissingRouteHook | None = None,
        service_urls: Mapping[str, str] | None = None,
    ) -> None:
        """`service_urls` (`{"tasks": "http://127.0.0.1:8112", ...}`) sends each service's
        paths straight to that address instead of `base_url`: one instance of each service,
        bypassing the gateway."""
        self.base_url = base_url.rstrip("/")
        self.service_urls = dict(service_urls or {})
        self.log = log
        self.request_id_prefix = request_id_prefix
        self.on_missing_route = on_missing_route
        self._sequence = itertools.count(1)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TaskHubClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- plumbing ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Any request to the gateway, recorded. Caller headers win over the generated ones."""
        sent_headers = {
            "X-Request-ID": f"{self.request_id_prefix}-{next(self._sequence)}",
            "traceparent": new_traceparent(),
        }
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
        sent_headers.update(headers or {})
        service = path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        if service in self.service_urls:
            path = f"{self.service_urls[service].rstrip('/')}{path}"
        request = self._http.build_request(
            method,
            path,
            json=json,
            content=content,
            params={key: value for key, value in (params or {}).items() if value is not None},
            headers=sent_headers,
        )
        started = time.perf_counter()
        try:
            response = self._http.send(request)
        except httpx.HTTPError as error:
            self.log.add(self._exchange(request, None, time.perf_counter() - started, error))
            raise
        self.log.add(self._exchange(request, response, time.perf_counter() - started))
        return response

    def call(
        self,
        route: Route,
        *,
        token: str | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **path_params: object,
    ) -> httpx.Response:
        response = self.request(
            route.method,
            route.path(path_params),
            token=token,
            json=json,
            params=params,
            headers=headers,
        )
        if response.status_code == 404 and self.on_missing_route is not None:
            self.on_missing_route(route, response)
        return response

    @staticmethod
    def _exchange(
        request: httpx.Request,
        response: httpx.Response | None,
        seconds: float,
        error: Exception | None = None,
    ) -> Exchange:
        request_headers = dict(request.headers)
        response_headers = dict(response.headers) if response is not None else {}
        return Exchange(
            method=request.method,
            url=redact_text(str(request.url)),
            request_headers=redact_headers(request_headers),
            request_body=redact_body(request.content, request.headers.get("content-type", "")),
            status=response.status_code if response is not None else None,
            response_headers=redact_headers(response_headers),
            response_body=(
                redact_body(response.content, response.headers.get("content-type", ""))
                if response is not None
                else ""
            ),
            # The id the gateway answered with; the one we sent when nothing came back.
            request_id=response_headers.get("x-request-id") or request.headers.get("x-request-id"),
            trace_id=trace_id_from_headers(response_headers)
            or trace_id_from_headers({"traceparent": request.headers.get("traceparent", "")}),
            seconds=round(seconds, 4),
            error=f"{type(error).__name__}: {error}" if error is not None else None,
        )

    # --- gateway -----------------------------------------------------------------------

    def health(self, service: Service | None = None) -> httpx.Response:
        return self.request("GET", f"/{service}/healthz" if service else "/healthz")

    def readiness(self, service: Service) -> httpx.Response:
        return self.request("GET", f"/{service}/readyz")

    def metrics(self, service: Service) -> httpx.Response:
        return self.request("GET", f"/{service}/metrics")

    def openapi(self, service: Service) -> httpx.Response:
        return self.request("GET", f"/{service}/openapi.json")

    # --- auth --------------------------------------------------------------------------

    def register(self, email: str, password: str, name: str, **extra: Any) -> httpx.Response:
        body = {"email": email, "password": password, "name": name, **extra}
        return self.call(Routes.REGISTER, json=body)

    def login(self, email: str, password: str) -> httpx.Response:
        return self.call(Routes.LOGIN, json={"email": email, "password": password})

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.call(Routes.REFRESH, json={"refresh": refresh_token})

    def logout(self, refresh_token: str) -> httpx.Response:
        return self.call(Routes.LOGOUT, json={"refresh": refresh_token})

    def me(self, token: str | None) -> httpx.Response:
        return self.call(Routes.ME, token=token)

    def jwks(self) -> httpx.Response:
        return self.call(Routes.JWKS)

    def users(self, token: str, **params: Any) -> httpx.Response:
        return self.call(Routes.USERS, token=token, params=params)

    def set_role(self, token: str, user_id: str, role: str) -> httpx.Response:
        return self.call(Routes.USER_ROLE, token=token, json={"role": role}, user_id=user_id)

    def audit(self, token: str, **params: Any) -> httpx.Response:
        return self.call(Routes.AUDIT, token=token, params=params)

    # --- tasks -------------------------------------------------------------------------

    def create_task(self, token: str, **fields: Any) -> httpx.Response:
        return self.call(Routes.CREATE_TASK, token=token, json=fields)

    def list_tasks(self, token: str, **filters: Any) -> httpx.Response:
        return self.call(Routes.LIST_TASKS, token=token, params=filters)

    def get_task(self, token: str, task_id: str) -> httpx.Response:
        return self.call(Routes.GET_TASK, token=token, task_id=task_id)

    def update_task(self, token: str, task_id: str, **fields: Any) -> httpx.Response:
        return self.call(Routes.UPDATE_TASK, token=token, json=fields, task_id=task_id)

    def delete_task(self, token: str, task_id: str) -> httpx.Response:
        return self.call(Routes.DELETE_TASK, token=token, task_id=task_id)

    def bulk_status(self, token: str, ids: list[str], status: str) -> httpx.Response:
        return self.call(Routes.BULK_STATUS, token=token, json={"ids": ids, "status": status})

    # --- notifications -----------------------------------------------------------------

    def notify_email(
        self,
        token: str,
        *,
        to: str,
        subject: str,
        body: str,
        send_at: str | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        payload: dict[str, Any] = {"to": to, "subject": subject, "body": body}
        if send_at is not None:
            payload["send_at"] = send_at
        return self.call(
            Routes.NOTIFY_EMAIL, token=token, json=payload, headers=_idempotency(idempotency_key)
        )

    def notify_webhook(
        self,
        token: str,
        *,
        url: str,
        payload: Any,
        send_at: str | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"url": url, "payload": payload}
        if send_at is not None:
            body["send_at"] = send_at
        return self.call(
            Routes.NOTIFY_WEBHOOK, token=token, json=body, headers=_idempotency(idempotency_key)
        )

    def get_job(self, token: str, job_id: str) -> httpx.Response:
        return self.call(Routes.GET_JOB, token=token, job_id=job_id)

    def list_jobs(self, token: str, **filters: Any) -> httpx.Response:
        return self.call(Routes.LIST_JOBS, token=token, params=filters)

    def cancel_job(self, token: str, job_id: str) -> httpx.Response:
        return self.call(Routes.CANCEL_JOB, token=token, job_id=job_id)

    def failed_notifications(self, token: str, **params: Any) -> httpx.Response:
        return self.call(Routes.FAILED, token=token, params=params)


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}
