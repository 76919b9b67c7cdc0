"""The app factory: envelope for every failure, request ids, docs, health, metrics, CORS."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from taskhub_common.app import create_app
from taskhub_common.settings import ServiceSettings


async def test_unknown_route_is_a_not_found_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert error["request_id"] == response.headers["x-request-id"]


async def test_wrong_method_is_a_method_not_allowed_envelope(client: httpx.AsyncClient) -> None:
    response = await client.delete("/demo/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_validation_errors_list_fields_without_echoing_input(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/demo/items", json={"name": "hunter2-password", "count": -1, "role": "admin"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    fields = {detail["field"]: detail["message"] for detail in error["details"]}
    assert set(fields) == {"body.name", "body.count", "body.role"}
    assert fields["body.role"] == "Unknown field."
    assert "hunter2" not in response.text


async def test_malformed_json_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/demo/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_path_parameter_of_wrong_type_is_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/demo/items/not-a-number")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "path.item_id"


async def test_domain_errors_keep_their_code_and_headers(client: httpx.AsyncClient) -> None:
    conflict = await client.get("/demo/conflict")
    assert conflict.status_code == 409
    assert conflict.json()["error"] == {
        "code": "CONFLICT",
        "message": "That name is taken.",
        "request_id": conflict.headers["x-request-id"],
    }
    limited = await client.get("/demo/limited")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"


async def test_unexpected_errors_leak_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/demo/boom", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "INTERNAL_ERROR",
            "message": "An internal error occurred.",
            "request_id": "trace-me-1",
        }
    }
    assert response.headers["x-request-id"] == "trace-me-1"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("abc-123_DEF.9", True), ("has spaces", False), ("x" * 129, False), ("<script>", False)],
)
async def test_request_id_is_kept_only_when_it_is_a_plain_token(
    client: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    response = await client.get("/demo/healthz", headers={"X-Request-ID": sent})
    assert (response.headers["x-request-id"] == sent) is kept
    assert response.headers["x-request-id"]


async def test_health_and_readiness(
    client: httpx.AsyncClient, readiness_state: dict[str, bool]
) -> None:
    assert (await client.get("/demo/healthz")).json() == {"status": "ok"}
    ready = await client.get("/demo/readyz")
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}
    readiness_state["database"] = False
    try:
        not_ready = await client.get("/demo/readyz")
    finally:
        readiness_state["database"] = True
    assert not_ready.status_code == 503
    assert not_ready.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "database" in not_ready.json()["error"]["message"]


async def test_docs_are_served_under_the_prefix_with_local_assets(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/demo/docs")
    assert page.status_code == 200
    assert "/demo/openapi.json" in page.text
    assert "cdn.jsdelivr.net" not in page.text
    bundle = await client.get("/demo/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    spec = (await client.get("/demo/openapi.json")).json()
    assert "/demo/items" in spec["paths"]


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/demo/items/41")
    await client.get("/demo/items/42")
    await client.get("/nowhere/at/all")
    text = (await client.get("/demo/metrics")).text
    assert (
        'http_server_request_duration_seconds_count{http_request_method="GET",'
        'http_response_status_code="200",http_route="/demo/items/{item_id}"}'
    ) in text
    assert 'http_route="unmatched"' in text
    assert 'http_route="/demo/metrics"' not in text
    assert "http_server_active_requests" in text


async def test_cors_allows_only_the_configured_origin(client: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = await client.options(
        "/demo/items", headers={"Origin": "http://localhost", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "http://localhost"
    refused = await client.options(
        "/demo/items", headers={"Origin": "http://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_responses_carry_the_trace_id_of_the_callers_traceparent(
    client: httpx.AsyncClient,
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await client.get(
        "/demo/items/1", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    )
    assert response.headers["x-trace-id"] == trace_id
    fresh = await client.get("/demo/items/1")
    assert len(fresh.headers["x-trace-id"]) == 32
    assert fresh.headers["x-trace-id"] != trace_id


class StartupSettings(ServiceSettings):
    service_name: str = "demo-svc"


@pytest.mark.parametrize("with_own_lifespan", [False, True])
async def test_objects_alive_at_start_up_leave_the_collectors_sight(
    with_own_lifespan: bool,
) -> None:
    started: list[str] = []

    @asynccontextmanager
    async def own_lifespan(_: FastAPI) -> AsyncIterator[None]:
        started.append("service")
        yield

    app = create_app(
        StartupSettings(),
        prefix="/demo",
        title="Demo",
        description="Start-up only.",
        routers=[],
        readiness={},
        lifespan=own_lifespan if with_own_lifespan else None,
    )
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 0
    gc.unfreeze()
    assert started == (["service"] if with_own_lifespan else [])


def _server_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.kind is SpanKind.SERVER]


async def test_requests_are_traced_but_probes_are_not(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    await client.get("/demo/items/7?verbose=1")
    await client.get("/demo/healthz")
    [span] = _server_spans(spans)
    assert span.name == "GET /demo/items/{item_id}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/demo/items/{item_id}"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["url.path"] == "/demo/items/7"
    assert "url.query" not in span.attributes  # left out, as it is of the access log
    assert span.status.status_code is StatusCode.UNSET


async def test_a_failed_request_is_an_error_span_and_an_unmatched_one_is_named_by_method(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    assert (await client.get("/demo/boom")).status_code == 500
    assert (await client.get("/demo/no-such-route")).status_code == 404
    failed, unmatched = _server_spans(spans)
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "500"
    assert unmatched.name == "GET"
    assert unmatched.attributes is not None
    assert "http.route" not in unmatched.attributes
    assert unmatched.status.status_code is StatusCode.UNSET


async def test_the_server_span_is_a_child_of_the_callers_span(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    trace_id, parent_id = "ab" * 16, "cd" * 8
    await client.get("/demo/items/1", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    [span] = _server_spans(spans)
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == parent_id
