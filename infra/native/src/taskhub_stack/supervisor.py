"""Talks to the stack's supervisord over its Unix socket (the XML-RPC API supervisorctl uses)."""

from __future__ import annotations

import http.client
import xmlrpc.client
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

# supervisord's process states (supervisor.states.ProcessStates), by name.
RUNNING = "RUNNING"
STARTING = "STARTING"
BACKOFF = "BACKOFF"
FATAL = "FATAL"
STOPPED = "STOPPED"
EXITED = "EXITED"
STOPPING = "STOPPING"
# States in which the program has a process (or is about to get one).
ACTIVE_STATES = frozenset({RUNNING, STARTING, BACKOFF, STOPPING})


class SupervisorUnavailable(RuntimeError):
    """supervisord is not running (or not answering on the stack's socket)."""


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    state: str
    pid: int
    description: str


def supervisor_environment(env: Mapping[str, str]) -> str:
    """`env` as the value of supervisord's `environment=` option (`KEY="value",...`).

    supervisord splits it with a non-POSIX shlex (no escapes), and expands `%(...)s` in it.
    """
    pairs = []
    for key, value in env.items():
        # supervisord strips quote characters from both ends of every value.
        edge_quote = value.startswith(("'", '"')) or value.endswith(("'", '"'))
        if not key.isidentifier() or "\n" in value or edge_quote:
            raise ValueError(f"{key} cannot be written to supervisord's environment")
        quote = "'" if '"' in value else '"'
        if quote in value:
            raise ValueError(f"{key} holds both quote characters; supervisord cannot carry it")
        pairs.append(f"{key}={quote}{value.replace('%', '%%')}{quote}")
    return ",".join(pairs)


class SupervisorClient:
    """The few supervisord calls the stack needs; every call raises `SupervisorUnavailable`
    when supervisord does not answer."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path

    def _proxy(self) -> Any:
        # The host part is ignored: the transport connects to the Unix socket.
        url = f"unix://{self.socket_path}"
        return xmlrpc.client.ServerProxy(
            "http://127.0.0.1", transport=SupervisorTransport(serverurl=url)
        )

    def _call(self, method: str, *args: object) -> Any:
        try:
            return getattr(self._proxy().supervisor, method)(*args)
        except (OSError, http.client.HTTPException) as exc:
            raise SupervisorUnavailable(
                f"supervisord is not answering on {self.socket_path}"
            ) from exc

    def is_running(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            state = cast(dict[str, Any], self._call("getState"))
        except SupervisorUnavailable:
            return False
        return bool(state["statename"] == RUNNING)

    def processes(self) -> dict[str, ProcessInfo]:
        infos = cast(list[dict[str, Any]], self._call("getAllProcessInfo"))
        return {
            info["name"]: ProcessInfo(
                info["name"], info["statename"], int(info["pid"]), info["description"]
            )
            for info in infos
        }

    def start(self, name: str, *, wait: bool = True) -> None:
        """Start `name`; with `wait`, return once it is RUNNING (raises if it fails to start)."""
        try:
            self._call("startProcess", name, wait)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise

    def stop(self, name: str, *, wait: bool = True) -> None:
        try:
            self._call("stopProcess", name, wait)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def pid(self) -> int:
        return int(self._call("getPID"))

    def shutdown(self) -> None:
        """Ask supervisord to stop every program and exit (returns before it has)."""
        self._call("shutdown")
