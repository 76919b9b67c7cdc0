"""Starting one program says so plainly when its port is still held by another process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskhub_stack.native import PROGRAM_PORTS, NativeStack, StackError
from taskhub_stack.programs import PROGRAM_NAMES
from taskhub_stack.supervisor import ProcessInfo


class NoSupervisor:
    """supervisord that runs nothing and must not be asked to start anything."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def is_running(self) -> bool:
        return True

    def processes(self) -> dict[str, ProcessInfo]:
        return {}

    def start(self, name: str, *, wait: bool = True) -> None:
        self.started.append(name)


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as orphan:
        orphan.bind(("127.0.0.1", 0))
        orphan.listen()
        yield int(orphan.getsockname()[1])


def test_every_program_that_listens_has_its_port_known() -> None:
    # Beat listens on nothing; the webhook worker's samples are served by the e-mail
    # worker's metrics port (one folder), so it listens on nothing either.
    assert set(PROGRAM_PORTS) == set(PROGRAM_NAMES) - {"celery-beat", "celery-webhooks"}


def test_a_held_port_is_named_instead_of_a_failed_start(tmp_path: Path, held_port: int) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    stack = NativeStack(tmp_path, environ={"TASKHUB_AUTH_PORT": str(held_port)})
    supervisor = NoSupervisor()
    stack.supervisor = supervisor  # type: ignore[assignment]

    with pytest.raises(StackError, match=f"port {held_port} is still held") as refused:
        stack.start("auth-svc")

    assert "TASKHUB_AUTH_PORT" in str(refused.value)
    assert supervisor.started == []
