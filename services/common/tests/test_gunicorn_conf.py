"""The shared gunicorn settings: workers never outlive their master."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state, ppid, ...
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def _gunicorn(
    folder: Path, app_argument: list[str], environment: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A gunicorn master on the shared settings serving `tiny_app`, killed with its workers."""
    (folder / "tiny_app.py").write_text(APP)
    port = _free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), *app_argument, "--config", "python:taskhub_common.gunicorn_conf"],
        cwd=folder,
        env=os.environ
        | {"GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
        | environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process, port
    finally:
        for pid in [process.pid, *_children(process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def _serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def master(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with _gunicorn(tmp_path, ["tiny_app:app"], {}) as started:
        yield started


def test_the_image_names_its_app_in_the_environment(tmp_path: Path) -> None:
    # services/Dockerfile builds every service; its CMD has no app argument.
    with _gunicorn(tmp_path, [], {"TASKHUB_APP": "tiny_app:app"}) as (_process, port):
        assert _wait_for(lambda: _serving(port), 20)


def test_workers_exit_and_free_the_port_when_the_master_is_killed(
    master: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = master

    assert _wait_for(lambda: _serving(port) and len(_children(process.pid)) == 2, 20)
    workers = _children(process.pid)

    process.send_signal(signal.SIGKILL)
    process.wait()

    assert _wait_for(lambda: not any(_alive(pid) for pid in workers), 5)
    with socket.socket() as rebind:
        rebind.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        rebind.bind(("127.0.0.1", port))  # a restarted master can bind again
