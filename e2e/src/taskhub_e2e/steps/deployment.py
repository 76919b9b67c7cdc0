"""Steps of the deployment's own hardening: redirects that stay on the gateway."""

from __future__ import annotations

import httpx
from pytest_bdd import parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe


@when(
    parsers.re(r"^a visitor asks for (?P<path>/\S*) naming the host (?P<host>\S+)$"),
    target_fixture="reply",
)
def ask_with_forged_host(cast: Cast, api: TaskHubClient, path: str, host: str) -> httpx.Response:
    return cast.answered(api.request("GET", path, headers={"Host": host}))


@then(parsers.re(r"^the visitor is redirected to (?P<target>/\S*) on the gateway itself$"))
def redirected_on_the_gateway(reply: httpx.Response, target: str) -> None:
    assert reply.is_redirect, describe(reply)
    # A path alone: the browser stays on the address it used, whatever Host was sent.
    assert reply.headers["location"] == target, describe(reply)
