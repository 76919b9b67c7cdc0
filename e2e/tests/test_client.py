"""The API client records every exchange with secrets redacted and ids to follow it by."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import httpx
import pytest

from taskhub_e2e.client import Route, Routes, Service, TaskHubClient, error_code
from taskhub_e2e.recording import REDACTED, ExchangeLog
from taskhub_e2e.stub_gateway import StubGateway, stub_gateway

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


@pytest.fixture
def gateway() -> Iterator[StubGateway]:
    with stub_gateway() as stub:
        yield stub


@pytest.fixture
def log() -> ExchangeLog:
    return ExchangeLog()


@pytest.fixture
def client(gateway: StubGateway, log: ExchangeLog) -> Iterator[TaskHubClient]:
    with TaskHubClient(gateway.url, log, request_id_prefix="e2e-test") as api:
        yield api


def test_secrets_reach_the_server_but_not_the_record(
    client: TaskHubClient, gateway: StubGateway, log: ExchangeLog
) -> None:
    client.login("alice@example.com", "Secret-Password-1")
    client.me(JWT)

    assert b"Secret-Password-1" in gateway.received[0].body
    assert gateway.received[1].headers["Authorization"] == f"Bearer {JWT}"
    login, me = log.exchanges
    assert "Secret-Password-1" not in login.request_body
    assert f'"password": "{REDACTED}"' in login.request_body
    assert "alice@example.com" in login.request_body
    assert me.request_headers["authorization"] == REDACTED


def test_each_request_gets_its_own_request_id_and_trace(
    client: TaskHubClient, gateway: StubGateway, log: ExchangeLog
) -> None:
    client.health()
    client.health(Service.AUTH)

    sent = [received.headers["X-Request-ID"] for received in gateway.received]
    assert sent == ["e2e-test-1", "e2e-test-2"]
    assert [exchange.request_id for exchange in log.exchanges] == sent
    traces = [exchange.trace_id for exchange in log.exchanges]
    assert all(re.fullmatch(r"[0-9a-f]{32}", str(trace)) for trace in traces)
    assert traces[0] != traces[1]


def test_an_error_answer_is_recorded_with_status_and_body(
    client: TaskHubClient, log: ExchangeLog
) -> None:
    response = client.get_task("a-token", "42")

    assert error_code(response) == "NOT_FOUND"
    exchange = log.last_failing()
    assert exchange is not None
    assert exchange.status == 404
    assert exchange.url.endswith("/tasks/42")
    assert '"NOT_FOUND"' in exchange.response_body


def test_a_request_that_gets_no_answer_is_recorded_too(log: ExchangeLog) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: the connection is refused.
    with (
        TaskHubClient(f"http://127.0.0.1:{port}", log, request_id_prefix="lost") as api,
        pytest.raises(httpx.ConnectError),
    ):
        api.health()

    (exchange,) = log.exchanges
    assert exchange.status is None
    assert str(exchange.error).startswith("ConnectError")
    assert exchange.request_id == "lost-1"


def test_a_contract_route_answered_404_is_reported_to_the_hook(
    gateway: StubGateway, log: ExchangeLog
) -> None:
    missing: list[Route] = []
    with TaskHubClient(
        gateway.url,
        log,
        request_id_prefix="e2e",
        on_missing_route=lambda route, _response: missing.append(route),
    ) as api:
        api.health()
        api.users("token", page=2)

    assert missing == [Routes.USERS]
    assert gateway.received[-1].path == "/auth/users?page=2"


@pytest.mark.parametrize(
    ("words", "service"),
    [
        ("auth", Service.AUTH),
        ("tasks", Service.TASKS),
        ("task", Service.TASKS),
        ("notify", Service.NOTIFY),
        ("notification service", Service.NOTIFY),
    ],
)
def test_feature_words_name_services(words: str, service: Service) -> None:
    assert Service.named(words) is service


def test_routes_know_their_service_and_path() -> None:
    assert Routes.USER_ROLE.service is Service.AUTH
    assert Routes.USER_ROLE.path({"user_id": "u1"}) == "/auth/users/u1"
    assert Routes.BULK_STATUS.service is Service.TASKS
    assert Routes.CANCEL_JOB.path({"job_id": 7}) == "/notify/jobs/7"
