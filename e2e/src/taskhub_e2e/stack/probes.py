"""Cheap probes of the stack's endpoints: TCP ports, HTTP status codes, Redis PING."""

from __future__ import annotations

import http.client
import socket
from urllib.parse import urlsplit

PROBE_TIMEOUT_SECONDS = 0.5


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on `host:port`."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


def http_status(url: str) -> int | None:
    """The status of a GET on `url`, or None when nothing answers."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port or 80, timeout=PROBE_TIMEOUT_SECONDS
    )
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def redis_answers(port: int, host: str = "127.0.0.1") -> bool:
    """Whether Redis answers PING (it refuses commands while loading its append-only file)."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_SECONDS) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False
