"""No port of the native stack is written down outside its ports module.

Every default of `StackPorts` lives in `taskhub_stack/ports.py`; docs/conventions.md
tables them and the `.env.example` files show them. Anything else derives them
(`StackPorts.from_env()`, `taskhub-stack env`) or names the table, so that moving a port
is one edit and a checkout on other ports (`TASKHUB_<NAME>_PORT`) is never half-moved.
"""

from __future__ import annotations

import re
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import pytest

from taskhub_stack.layout import find_repo_root
from taskhub_stack.ports import LOOPBACK_NAMES, StackPorts

# Where the numbers belong.
HOME_OF_THE_PORTS = (
    "infra/native/src/taskhub_stack/ports.py",
    "docs/conventions.md",
    "*.env.example",
    # This test's own examples of what it finds.
    "infra/native/tests/test_port_literals.py",
)
# Ports inside containers (compose, Helm, images): the exporters, Prometheus and
# Alertmanager listen on their own defaults there, which happen to be the native ones.
IN_CONTAINERS = (
    "compose/*",
    "infra/helm/*",
    "services/Dockerfile",
    "infra/prometheus/prometheus.compose.yml",
    "infra/grafana/*",
    "infra/otel-collector/*",
)
# Not derived, and why. Settings defaults (`auth_url = "http://127.0.0.1:8101"`) are read
# by services that must not depend on the stack's tooling: they mirror the conventions
# table, and every way of running a service (native, compose, Helm, tests) sets them.
NOT_YET_DERIVED = (
    "services/*/src/*/core/config.py",
    "services/common/src/taskhub_common/settings.py",
    # promtool's test series: the instance labels the native stack's targets carry.
    "infra/prometheus/tests/*",
)
ALLOWED = HOME_OF_THE_PORTS + IN_CONTAINERS + NOT_YET_DERIVED
BINARY_SUFFIXES = frozenset({".png", ".ico", ".woff", ".woff2", ".gz", ".zip", ".lock"})
# Hosts whose port is the native stack's; `name:port` with any other host is an address
# inside a container network (`prometheus:9090`) or an example (`[2001:db8::1]:8080`).
NATIVE_HOSTS = LOOPBACK_NAMES | {""}


def port_pattern(ports: StackPorts) -> re.Pattern[str]:
    """A port of `ports` used as a port: `host:8080`, `port 8080`, `--port=8080`,
    `-p 54320`, `=8080`, `or 8080` (a fallback), `(8080)`, `"8080"`, `8080/...`, `8101-8103`."""
    alternatives = "|".join(str(port) for _, port in ports.items())
    number = rf"(?<![\d.])(?:{alternatives})(?!\d)"
    return re.compile(
        rf"(?P<host>\[?[\w.\-:]*?\]?):{number}"
        rf"|\bport\W{{0,3}}{number}"
        rf"|\s-p\s+{number}"
        rf"|=\s*['\"]?{number}"
        rf"|\bor\s+['\"]?{number}"
        rf"|\({number}\)"
        rf"|['\"]{number}['\"]"
        rf"|{number}(?=/|-\d)",
        re.IGNORECASE,
    )


def port_uses(text: str, ports: StackPorts) -> list[tuple[int, str]]:
    """(line number, line) of every native port used as a port in `text`."""
    pattern = port_pattern(ports)
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if any(_native(match) for match in pattern.finditer(line))
    ]


def _native(match: re.Match[str]) -> bool:
    host = match.group("host")
    if host is None:
        return True
    host = host.rsplit("/", 1)[-1].rsplit("@", 1)[-1]
    return host in NATIVE_HOSTS


def tracked_text_files(root: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    return [
        path
        for path in listed.split("\0")
        if path and Path(path).suffix not in BINARY_SUFFIXES and (root / path).is_file()
    ]


def allowed(path: str) -> bool:
    return any(fnmatch(path, pattern) or fnmatch(Path(path).name, pattern) for pattern in ALLOWED)


def test_no_native_port_is_written_down_outside_the_ports_module() -> None:
    root = find_repo_root(Path(__file__))
    defaults = StackPorts()
    offenders: list[str] = []
    for path in tracked_text_files(root):
        if allowed(path):
            continue
        try:
            text = (root / path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders.extend(f"{path}:{line}: {content}" for line, content in port_uses(text, defaults))
    assert not offenders, (
        "native ports written down outside infra/native/src/taskhub_stack/ports.py "
        "(derive them from StackPorts.from_env(), or refer to docs/conventions.md):\n"
        + "\n".join(offenders)
    )


@pytest.mark.parametrize(
    "line",
    [
        "base_url = 'http://127.0.0.1:8080'",
        "curl -s localhost:8080/auth/register",
        "int(os.environ.get('TASKHUB_GATEWAY_PORT') or 8080)",
        "uvicorn app --host 127.0.0.1 --port 8101",
        "psql -h 127.0.0.1 -p 54320 -U taskhub",
        "GUNICORN_BIND=127.0.0.1:8102",
        "Redis (63790), the services (8101-8103)",
        "metrics on `:9102`",
        "TASKHUB_GATEWAY_PORT=8080",
        "redis://:secret@127.0.0.1:63790/0",
        "os.environ.get('TASKHUB_GATEWAY_PORT', '8080')",
    ],
)
def test_a_native_port_is_found(line: str) -> None:
    assert port_uses(line, StackPorts()) == [(1, line)]


@pytest.mark.parametrize(
    "line",
    [
        "targets: ['prometheus:9090']",
        "http://[2001:db8::1]:8080/",
        "auth-svc:8000 and port 80",
        "the 8080 bytes of a page",
        "timeout 18080 ms, 1.8080 s",
        "TASKHUB_GATEWAY_PORT=38080",
    ],
)
def test_other_numbers_and_container_addresses_are_not(line: str) -> None:
    assert port_uses(line, StackPorts()) == []


def test_an_override_moves_what_is_searched() -> None:
    moved = StackPorts.from_env({"TASKHUB_GATEWAY_PORT": "18080"})
    assert port_uses("http://127.0.0.1:18080/", moved) == [(1, "http://127.0.0.1:18080/")]
