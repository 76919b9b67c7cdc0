"""The loopback HTTP stub every test suite uses for what lies outside the code under test."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from taskhub_common.loopback import (
    LoopbackServer,
    StubRequest,
    StubResponse,
    json_response,
)


def _echo(request: StubRequest) -> StubResponse:
    return json_response(
        {"method": request.method, "route": request.route, "query": request.query()},
        status=201,
        headers={"X-Seen": request.headers.get("x-marker", "")},
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def echo() -> Iterator[LoopbackServer]:
    with LoopbackServer(_echo) as server:
        yield server


def test_a_responder_answers_and_every_request_is_recorded(echo: LoopbackServer) -> None:
    response = httpx.post(
        f"{echo.url}/things?colour=red", content=b"payload", headers={"X-Marker": "m"}
    )
    assert response.status_code == 201
    assert response.json() == {"method": "POST", "route": "/things", "query": {"colour": "red"}}
    assert response.headers["x-seen"] == "m"
    assert response.headers["content-length"] == str(len(response.content))
    [request] = echo.requests
    assert (request.method, request.path) == ("POST", "/things?colour=red")
    assert request.body == b"payload"
    assert request.headers["X-MARKER"] == "m"
    assert echo.received("/things") == [request]
    assert echo.received("/other") == []


def test_a_routing_table_dispatches_on_method_and_path() -> None:
    routes = {
        "GET /exact": lambda _: StubResponse(200, b"exact"),
        "GET /users/*": lambda request: StubResponse(200, request.route.encode()),
        "POST /exact": lambda _: StubResponse(202),
    }
    with LoopbackServer(routes) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/exact").content == b"exact"
        assert client.get("/users/42").content == b"/users/42"
        assert client.post("/exact").status_code == 202
        assert client.get("/exact/more").status_code == 404
        assert client.delete("/exact").status_code == 404
        assert client.get("/users").status_code == 404


def test_it_listens_on_a_given_port_and_frees_it_when_stopped() -> None:
    port = _free_port()
    with LoopbackServer(_echo, port=port) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{server.url}/").status_code == 201
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")
    # The port can be taken again at once (as a restarted receiver does).
    with LoopbackServer(_echo, port=port):
        pass


def test_a_responder_returning_none_hangs_up_without_an_answer() -> None:
    with LoopbackServer(lambda _: None) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(server.url)
        assert len(server.requests) == 1


def test_a_failing_responder_is_a_500_and_kept_in_errors() -> None:
    def broken(_: StubRequest) -> StubResponse:
        raise RuntimeError("boom")

    with LoopbackServer(broken) as server:
        response = httpx.get(server.url)
    assert response.status_code == 500
    assert b"boom" in response.content
    assert [str(error) for error in server.errors] == ["boom"]


def test_a_streamed_body_has_no_length_and_ends_with_the_connection() -> None:
    chunks = [b"a" * 10, b"b" * 10]
    with LoopbackServer(lambda _: StubResponse(200, iter(chunks))) as server:
        response = httpx.get(server.url)
    assert response.content == b"a" * 10 + b"b" * 10
    assert "content-length" not in response.headers


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    with LoopbackServer(_echo, keep_alive=True) as server, httpx.Client() as client:
        first = client.get(server.url)
        second = client.get(server.url)
    assert first.http_version == second.http_version == "HTTP/1.1"
    assert "close" not in first.headers.get("connection", "")
    ports = {request.client for request in server.requests}
    assert len(ports) == 1


def test_a_head_answer_has_the_length_of_the_body_but_no_body() -> None:
    twelve = StubResponse(200, b"twelve bytes")
    with LoopbackServer(lambda _: twelve, keep_alive=True) as server, httpx.Client() as client:
        head = client.head(server.url)
        get = client.get(server.url)
    assert (head.headers["content-length"], head.content) == ("12", b"")
    assert get.content == b"twelve bytes"


def test_without_keep_alive_each_connection_serves_one_request() -> None:
    with LoopbackServer(_echo) as server, httpx.Client() as client:
        client.get(server.url)
        client.get(server.url)
    assert server.requests[0].version == "HTTP/1.1"
    assert len({request.client for request in server.requests}) == 2


def test_max_body_bytes_caps_what_is_read() -> None:
    with LoopbackServer(lambda _: StubResponse(200), max_body_bytes=4) as server:
        httpx.post(server.url, content=b"0123456789")
    assert server.requests[0].body == b"0123"


def test_record_false_keeps_nothing(echo: LoopbackServer) -> None:
    with LoopbackServer(_echo, record=False) as server:
        assert httpx.get(server.url).status_code == 201
    assert server.requests == []


def test_it_writes_nothing_to_the_test_output(capfd: pytest.CaptureFixture[str]) -> None:
    with LoopbackServer(_echo) as server:
        httpx.get(server.url)
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # and hang up unread
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")
