"""Steps of the gateway: health, not-found and size limits, request ids, closed doors."""

from __future__ import annotations

import json
import secrets

import httpx
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.chaos import Chaos, wait_until
from taskhub_e2e.client import Service, TaskHubClient
from taskhub_e2e.outcomes import SANE_REQUEST_ID, describe, expect_error_envelope, json_body
from taskhub_e2e.target import Target

SERVICE = r"(?:the )?(?P<service>auth|tasks?|notify|notification) service"
# A header value nginx and the services must not keep: spaces and JSON-breaking characters.
ODD_REQUEST_ID = 'not a token "}{'
METRIC_FAMILY = "http_server_request_duration_seconds"


@when("a visitor checks the health of the gateway", target_fixture="reply")
def check_gateway_health(cast: Cast, api: TaskHubClient) -> httpx.Response:
    return cast.answered(api.health())


@then("the gateway reports that it is healthy")
def gateway_is_healthy(reply: httpx.Response) -> None:
    assert reply.status_code == 200, describe(reply)
    assert json_body(reply) == {"status": "ok"}, describe(reply)


@when(parsers.re(rf"^a visitor checks the health of {SERVICE}$"), target_fixture="reply")
def check_service_health(cast: Cast, api: TaskHubClient, service: str) -> httpx.Response:
    return cast.answered(api.health(Service.named(service)))


@then(parsers.re(rf"^{SERVICE} reports that it is healthy$"))
def service_is_healthy(reply: httpx.Response, service: str) -> None:
    assert reply.request.url.path == f"/{Service.named(service)}/healthz", describe(reply)
    assert reply.status_code == 200, describe(reply)
    assert json_body(reply).get("status") == "ok", describe(reply)


@when("a visitor asks for an address TaskHub does not have", target_fixture="reply")
def unknown_address(cast: Cast, api: TaskHubClient) -> httpx.Response:
    return cast.answered(api.request("GET", f"/no-such-place-{secrets.token_hex(4)}"))


@then("the answer carries a request id that matches the response header")
def envelope_names_request_id(reply: httpx.Response) -> None:
    error = expect_error_envelope(reply)
    assert SANE_REQUEST_ID.match(error["request_id"]), describe(reply)


@when("a visitor sends a body larger than the gateway accepts", target_fixture="reply")
def oversized_body(cast: Cast, api: TaskHubClient, target: Target) -> httpx.Response:
    padding = "x" * (target.max_body_bytes + 1024)
    body = json.dumps({"email": "big@example.com", "password": padding, "name": "Big"})
    return cast.answered(
        api.request(
            "POST",
            "/auth/register",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
    )


@when("a visitor calls with their own request id", target_fixture="reply")
def own_request_id(cast: Cast, api: TaskHubClient) -> httpx.Response:
    request_id = f"visitor-{secrets.token_hex(6)}"
    return cast.answered(api.request("GET", "/healthz", headers={"X-Request-ID": request_id}))


@when("a visitor calls with a request id full of odd characters", target_fixture="reply")
def odd_request_id(cast: Cast, api: TaskHubClient) -> httpx.Response:
    return cast.answered(api.request("GET", "/healthz", headers={"X-Request-ID": ODD_REQUEST_ID}))


@then("the answer carries the same request id")
def same_request_id(reply: httpx.Response) -> None:
    assert reply.headers.get("x-request-id") == reply.request.headers["x-request-id"], describe(
        reply
    )


@then("the answer carries a request id of the gateway's own making")
def generated_request_id(reply: httpx.Response) -> None:
    answered = reply.headers.get("x-request-id", "")
    assert answered != reply.request.headers["x-request-id"], describe(reply)
    assert SANE_REQUEST_ID.match(answered), f"not a plain token: {answered!r}"


@when(
    parsers.re(rf"^a visitor tries to reach the internal endpoints of {SERVICE}$"),
    target_fixture="reply",
)
def internal_endpoint(cast: Cast, api: TaskHubClient, service: str) -> httpx.Response:
    # With a guessed service token: the gateway must not route the path at all.
    path = f"/{Service.named(service)}/internal/users/{secrets.token_hex(8)}"
    return cast.answered(api.request("GET", path, headers={"X-Internal-Token": "guess"}))


@when(
    parsers.re(rf"^(?:an operator|a visitor)(?: [a-z ]+)? reads the metrics of {SERVICE}$"),
    target_fixture="reply",
)
def read_metrics(cast: Cast, api: TaskHubClient, service: str) -> httpx.Response:
    return cast.answered(api.metrics(Service.named(service)))


@then("the metrics are shown in Prometheus' text format")
def prometheus_text(reply: httpx.Response) -> None:
    assert reply.status_code == 200, describe(reply)
    assert reply.headers.get("content-type", "").startswith("text/plain"), describe(reply)
    assert f"# TYPE {METRIC_FAMILY}" in reply.text, f"no {METRIC_FAMILY} in the metrics"


# --- chaos -----------------------------------------------------------------------------


@given(parsers.re(rf"^{SERVICE} is down$"))
def service_down(chaos: Chaos, api: TaskHubClient, service: str) -> None:
    named = Service.named(service)
    chaos.stop(named.program)
    assert wait_until(lambda: api.health(named).status_code != 200, 10.0), f"{named} still up"


@when(parsers.re(rf"^{SERVICE} is started again$"))
def service_started(chaos: Chaos, service: str) -> None:
    chaos.start(Service.named(service).program)


@then(parsers.re(rf"^{SERVICE} is healthy again within (?P<seconds>\d+) seconds$"))
def healthy_again(api: TaskHubClient, service: str, seconds: str) -> None:
    named = Service.named(service)
    assert wait_until(lambda: api.health(named).status_code == 200, float(seconds)), (
        f"{named} did not become healthy within {seconds} s"
    )
