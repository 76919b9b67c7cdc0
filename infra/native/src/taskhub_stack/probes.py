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


def redis_answers(port: int, password: str, host: str = "127.0.0.1") -> bool:
    """Whether Redis accepts `password` and answers PING (it refuses commands while loading
    its append-only file)."""
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_SECONDS) as conn:
            conn.sendall(redis_command("AUTH", password) + redis_command("PING"))
            replies = b""
            while replies.count(b"\r\n") < 2 and (chunk := conn.recv(256)):
                replies += chunk
            return replies.split(b"\r\n")[:2] == [b"+OK", b"+PONG"]
    except OSError:
        return False


def redis_command(*words: str) -> bytes:
    """One command in RESP, which carries any byte (inline commands split on spaces)."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)
