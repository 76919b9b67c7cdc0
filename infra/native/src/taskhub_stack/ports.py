"""The native stack's TCP ports: the defaults of docs/conventions.md, each overridable by env."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

# Where every program of the native stack listens.
LOOPBACK_HOST = "127.0.0.1"
# Names a client may use for that host (`http://localhost:<gateway>` is the gateway too).
LOOPBACK_NAMES = frozenset({LOOPBACK_HOST, "localhost", "::1", "[::1]"})


@dataclass(frozen=True)
class StackPorts:
    """Every port the native stack listens on (all on 127.0.0.1)."""

    gateway: int = 8080
    auth: int = 8101
    tasks: int = 8102
    notify: int = 8103
    celery_metrics: int = 9101
    arq_metrics: int = 9102
    pg: int = 54320
    redis: int = 63790
    prometheus: int = 9090
    postgres_exporter: int = 9187
    redis_exporter: int = 9121
    nginx_exporter: int = 9113
    # The gateway's stub_status, on a loopback-only listener of its own (nginx-exporter reads it).
    gateway_status: int = 8081
    alertmanager: int = 9093
    # Where Alertmanager posts alerts natively: a receiver the e2e alert scenario runs.
    alert_receiver: int = 9095
    # The first of the e2e suite's ten webhook receiver ports (one per xdist worker).
    receivers: int = 8190

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackPorts:
        """Defaults, overridden by `TASKHUB_<NAME>_PORT` (e.g. `TASKHUB_GATEWAY_PORT`)."""
        environ = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for field in fields(cls):
            raw = environ.get(env_name(field.name))
            if raw:
                values[field.name] = int(raw)
        return cls(**values)

    def items(self) -> list[tuple[str, int]]:
        return [(field.name, getattr(self, field.name)) for field in fields(self)]

    def names(self) -> list[str]:
        return [field.name for field in fields(self)]

    def address(self, name: str) -> str:
        """`127.0.0.1:<port>` of port `name` (`gateway`, `prometheus`, ...)."""
        if name not in self.names():
            raise KeyError(f"no native port named {name!r} (one of {', '.join(self.names())})")
        return f"{LOOPBACK_HOST}:{getattr(self, name)}"

    def url(self, name: str) -> str:
        """`http://127.0.0.1:<port>` of port `name`, without a trailing slash."""
        return f"http://{self.address(name)}"

    def is_gateway(self, url: str) -> bool:
        """`url` is this stack's gateway: a loopback host on the gateway port (moved or not)."""
        parts = urlsplit(url)
        return parts.hostname in LOOPBACK_NAMES and parts.port == self.gateway


def env_name(port_name: str) -> str:
    """`celery_metrics` -> `TASKHUB_CELERY_METRICS_PORT`."""
    return f"TASKHUB_{port_name.upper()}_PORT"


# Instance k (k >= 2) of a replicated program listens `REPLICA_PORT_STEP * (k - 1)` above
# the first instance's port: task-svc-2 on 8112, celery-worker-2's metrics on 9111.
REPLICA_PORT_STEP = 10


def instance_port(port: int, number: int) -> int:
    """The port of instance `number` (1-based) of a program whose first instance has `port`."""
    return port + REPLICA_PORT_STEP * (number - 1)
