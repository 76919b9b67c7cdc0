"""The hand-written layer over the generated operations: one session, errors, pages, retries.

Every generated operation (`taskhub_client.generated.api.tasks.tasks_list.sync_detailed`, ...) is
called through `TaskHub.call` (or `AsyncTaskHub.call` with `asyncio_detailed`): it returns
the parsed answer of the documented success, and raises `TaskHubError` for the error
envelope, so callers never unpack a `Response` or test a union.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from taskhub_client.generated.api.auth import auth_login
from taskhub_client.generated.client import AuthenticatedClient
from taskhub_client.generated.models.error_response import ErrorResponse
from taskhub_client.generated.models.login_request import LoginRequest
from taskhub_client.generated.models.token_pair import TokenPair
from taskhub_client.generated.types import Response

# Statuses that mean "not now, try again": the rate limits and a dependency that is down.
RETRYABLE = frozenset({429, 503})
# A Retry-After longer than this is not waited for: the error reaches the caller instead.
DEFAULT_MAX_WAIT = 60.0
# Without a usable Retry-After, the wait before the next attempt.
DEFAULT_WAIT = 1.0
API_KEY_HEADER = "X-API-Key"


class TaskHubError(Exception):
    """TaskHub answered with its error envelope (or, rarely, a status without one)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, status: int, content: bytes, headers: Mapping[str, str]) -> TaskHubError:
        retry_after = retry_after_seconds(headers.get("retry-after"))
        try:
            error = json.loads(content)["error"]
            return cls(
                status,
                str(error["code"]),
                str(error["message"]),
                details=error.get("details"),
                request_id=error.get("request_id"),
                retry_after=retry_after,
            )
        except (ValueError, KeyError, TypeError):
            text = content.decode(errors="replace")[:200]
            return cls(status, "HTTP_ERROR", text or f"HTTP {status}", retry_after=retry_after)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _wait_before_retry(
    response: httpx.Response, attempt: int, retries: int, max_wait: float
) -> float | None:
    """Seconds to wait before repeating the request, or None to hand the answer back."""
    if response.status_code not in RETRYABLE or attempt >= retries:
        return None
    wait = retry_after_seconds(response.headers.get("retry-after"))
    wait = DEFAULT_WAIT if wait is None else wait
    return wait if wait <= max_wait else None


class RetryTransport(httpx.BaseTransport):
    """Repeats a request answered 429 or 503 after its Retry-After, up to `retries` times."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        retries: int,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.inner, self.retries, self.max_wait, self.sleep = inner, retries, max_wait, sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            response = self.inner.handle_request(request)
            wait = _wait_before_retry(response, attempt, self.retries, self.max_wait)
            if wait is None:
                return response
            response.close()
            self.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self.inner.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """`RetryTransport` for `httpx.AsyncClient`."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        retries: int,
        max_wait: float = DEFAULT_MAX_WAIT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.inner, self.retries, self.max_wait, self.sleep = inner, retries, max_wait, sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            response = await self.inner.handle_async_request(request)
            wait = _wait_before_retry(response, attempt, self.retries, self.max_wait)
            if wait is None:
                return response
            await response.aclose()
            await self.sleep(wait)
            attempt += 1

    async def aclose(self) -> None:
        await self.inner.aclose()


def _result[T](response: Response[T | ErrorResponse]) -> T:
    """The parsed success, or the error envelope raised as `TaskHubError`."""
    status = int(response.status_code)
    if status >= 400:
        raise TaskHubError.from_response(status, response.content, response.headers)
    parsed = response.parsed
    if isinstance(parsed, ErrorResponse):  # a documented success never parses as one
        raise TaskHubError.from_response(status, response.content, response.headers)
    return parsed  # type: ignore[return-value]  # None for a body-less success (204)


def _credentials(token: str | None, api_key: str | None) -> dict[str, str]:
    if token is not None and api_key is not None:
        raise ValueError("give a token or an API key, not both")
    if token is not None:
        return {"Authorization": f"Bearer {token}"}
    if api_key is not None:
        return {API_KEY_HEADER: api_key}
    return {}


class Paged[Item](Protocol):
    """A page of `{items, total, page, limit}`, as every TaskHub list answers."""

    @property
    def items(self) -> list[Item]: ...
    @property
    def total(self) -> int: ...
    @property
    def page(self) -> int: ...
    @property
    def limit(self) -> int: ...


def _more_after(page: Paged[Any]) -> bool:
    return bool(page.items) and page.page * page.limit < page.total


class _Session:
    """What both clients keep: the generated client and the credentials it sends."""

    api: AuthenticatedClient

    @staticmethod
    def _generated(base_url: str) -> AuthenticatedClient:
        # The httpx client set on it below carries every header, credentials included: the
        # generated client's own token handling is not used, so one session can sign in later.
        return AuthenticatedClient(base_url=base_url, token="")

    def _use(self, headers: httpx.Headers, token: str | None, api_key: str | None) -> None:
        for name in ("Authorization", API_KEY_HEADER):
            headers.pop(name, None)
        headers.update(_credentials(token, api_key))


class TaskHub(_Session):
    """A blocking session with TaskHub through its gateway.

    `retries=N` repeats a request answered 429 or 503 up to N times, after the Retry-After
    the answer names (at most `max_wait` seconds; a longer one is raised at once).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        retries: int = 0,
        max_wait: float = DEFAULT_MAX_WAIT,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        inner = transport or httpx.HTTPTransport()
        self.http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            headers={**(headers or {}), **_credentials(token, api_key)},
            transport=RetryTransport(inner, retries=retries, max_wait=max_wait, sleep=sleep),
        )
        self.api = self._generated(base_url).set_httpx_client(self.http)

    def call[T](
        self, operation: Callable[..., Response[T | ErrorResponse]], /, *args: Any, **kwargs: Any
    ) -> T:
        """`operation` (a generated `sync_detailed`) on this session: its success, or raises."""
        return _result(operation(*args, client=self.api, **kwargs))

    def pages[P: Paged[Any]](
        self,
        operation: Callable[..., Response[P | ErrorResponse]],
        /,
        *args: Any,
        limit: int = 100,
        **kwargs: Any,
    ) -> Iterator[P]:
        """Every page of a list operation, typed, each fetched when reached."""
        number = 1
        while True:
            page = self.call(operation, *args, page=number, limit=limit, **kwargs)
            yield page
            if not _more_after(page):
                return
            number += 1

    def items(
        self,
        operation: Callable[..., Response[Any]],
        /,
        *args: Any,
        limit: int = 100,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Every item of a list operation, across its pages (`pages` keeps their types)."""
        for page in self.pages(operation, *args, limit=limit, **kwargs):
            yield from page.items

    def sign_in(self, email: str, password: str) -> TokenPair:
        """Log in and send the access token with every later request of this session."""
        tokens = self.call(
            auth_login.sync_detailed, body=LoginRequest(email=email, password=password)
        )
        self.use(token=tokens.access)
        return tokens

    def use(self, *, token: str | None = None, api_key: str | None = None) -> None:
        """Send these credentials from now on (neither: anonymous)."""
        self._use(self.http.headers, token, api_key)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncTaskHub(_Session):
    """`TaskHub` for asyncio: `await hub.call(op.asyncio_detailed, ...)`, `async for` pages."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        retries: int = 0,
        max_wait: float = DEFAULT_MAX_WAIT,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        inner = transport or httpx.AsyncHTTPTransport()
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            headers={**(headers or {}), **_credentials(token, api_key)},
            transport=AsyncRetryTransport(inner, retries=retries, max_wait=max_wait, sleep=sleep),
        )
        self.api = self._generated(base_url).set_async_httpx_client(self.http)

    async def call[T](
        self,
        operation: Callable[..., Awaitable[Response[T | ErrorResponse]]],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """`operation` (a generated `asyncio_detailed`): its success, or raises."""
        return _result(await operation(*args, client=self.api, **kwargs))

    async def pages[P: Paged[Any]](
        self,
        operation: Callable[..., Awaitable[Response[P | ErrorResponse]]],
        /,
        *args: Any,
        limit: int = 100,
        **kwargs: Any,
    ) -> AsyncIterator[P]:
        """Every page of a list operation, typed, each fetched when reached."""
        number = 1
        while True:
            page = await self.call(operation, *args, page=number, limit=limit, **kwargs)
            yield page
            if not _more_after(page):
                return
            number += 1

    async def items(
        self,
        operation: Callable[..., Awaitable[Response[Any]]],
        /,
        *args: Any,
        limit: int = 100,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Every item of a list operation, across its pages (`pages` keeps their types)."""
        async for page in self.pages(operation, *args, limit=limit, **kwargs):
            for item in page.items:
                yield item

    async def sign_in(self, email: str, password: str) -> TokenPair:
        """Log in and send the access token with every later request of this session."""
        body = LoginRequest(email=email, password=password)
        tokens = await self.call(auth_login.asyncio_detailed, body=body)
        self.use(token=tokens.access)
        return tokens

    def use(self, *, token: str | None = None, api_key: str | None = None) -> None:
        """Send these credentials from now on (neither: anonymous)."""
        self._use(self.http.headers, token, api_key)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
