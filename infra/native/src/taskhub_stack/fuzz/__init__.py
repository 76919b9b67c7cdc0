"""API fuzzing of every service through the gateway, signed in as a fuzz user, in two phases.

1. Schemathesis: each service's OpenAPI document (`/{svc}/openapi.json`) drives it with all of
   its checks: no 5xx, every status and body as documented (the error envelope included),
   valid data accepted and invalid data refused, bounded in time per service.
2. Edge cases (`edges.py`): every field of every public operation gets the values of its type
   that generic generation rarely reaches (calendar ends with extreme offsets, lone
   surrogates, NUL, RTL and zero-width text, 2^31/2^63 integers, IDNA hosts); zero 5xx.
Internal routes are left out: the gateway never routes `/internal/` (gateway.feature proves
it).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from taskhub_e2e.people import strong_password
from taskhub_stack.fuzz.edges import EdgeOptions, EdgeReport, run_edge_fuzz
from taskhub_stack.ports import StackPorts

SERVICES = ("auth", "tasks", "notify")
CONFIG_FILE = Path(__file__).with_name("schemathesis.toml")
TOKEN_VARIABLE = "TASKHUB_FUZZ_TOKEN"
# Service-to-service routes: documented by each service, never reachable through the gateway.
INTERNAL_PATHS = "^/internal/"
HTTP_TIMEOUT_SECONDS = 10.0


class FuzzError(RuntimeError):
    """The fuzz run could not start (no gateway, no fuzz user)."""


@dataclass(frozen=True)
class FuzzOptions:
    # The native gateway, on its moved port when TASKHUB_GATEWAY_PORT says so.
    base_url: str = field(default_factory=lambda: StackPorts.from_env().url("gateway"))
    services: tuple[str, ...] = SERVICES
    # Wall-clock budget of each service's run; Schemathesis stops generating when it is spent.
    seconds_per_service: int = 60
    # Cases per operation and phase; the time budget ends the run earlier if need be.
    max_examples: int = 50
    workers: int = 2
    reports_dir: Path = Path("reports")
    seed: int | None = None
    email_domain: str = "example.com"
    # Which phases run: Schemathesis and/or the targeted edge cases.
    schemathesis: bool = True
    edges: bool = True
    # A webhook target the deployment accepts (its allowlist), so webhook cases reach storage.
    webhook_url: str = "http://127.0.0.1:8199/fuzz"
    admin: tuple[str, str] | None = None


@dataclass(frozen=True)
class ServiceResult:
    service: str
    exit_code: int
    seconds: float

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


def fuzz_user_token(base_url: str, email_domain: str) -> str:
    """Register a fresh fuzz user and return its access token."""
    email = f"fuzz-{time.strftime('%m%d%H%M%S')}-{secrets.token_hex(3)}@{email_domain}"
    password = strong_password()
    with httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT_SECONDS) as client:
        registered = client.post(
            "/auth/register", json={"email": email, "password": password, "name": "Fuzz"}
        )
        if registered.status_code != 201:
            raise FuzzError(f"cannot register the fuzz user: {registered.status_code}")
        login = client.post("/auth/login", json={"email": email, "password": password})
        if login.status_code != 200:
            raise FuzzError(f"cannot sign the fuzz user in: {login.status_code}")
    return str(login.json()["access"])


def schemathesis_command(options: FuzzOptions, service: str) -> list[str]:
    """The `st run` command line fuzzing one service (the token comes from the environment)."""
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(CONFIG_FILE),
        "--no-color",
        "run",
        f"{options.base_url.rstrip('/')}/{service}/openapi.json",
        # A service that is still starting gets a moment before the run counts as failed.
        "--wait-for-schema",
        "30",
        "--exclude-path-regex",
        INTERNAL_PATHS,
        "--max-time",
        str(options.seconds_per_service),
        "--max-examples",
        str(options.max_examples),
        "--workers",
        str(options.workers),
        "--report",
        "junit",
        "--report-junit-path",
        str(options.reports_dir / f"fuzz-{service}.xml"),
    ]
    if options.seed is not None:
        command += ["--seed", str(options.seed)]
    return command


def run_fuzz(options: FuzzOptions) -> list[ServiceResult]:
    """Fuzz each service in turn; Schemathesis prints its own report for each."""
    options.reports_dir.mkdir(parents=True, exist_ok=True)
    environment = os.environ | {
        TOKEN_VARIABLE: fuzz_user_token(options.base_url, options.email_domain)
    }
    results = []
    for service in options.services:
        started = time.monotonic()
        completed = subprocess.run(
            schemathesis_command(options, service), env=environment, check=False
        )
        results.append(ServiceResult(service, completed.returncode, time.monotonic() - started))
    return results


def run_edges(options: FuzzOptions) -> tuple[EdgeReport, float]:
    """The targeted edge cases of every service, and how long they took."""
    started = time.monotonic()
    report = run_edge_fuzz(
        EdgeOptions(
            base_url=options.base_url,
            services=options.services,
            webhook_url=options.webhook_url,
            email_domain=options.email_domain,
            admin=options.admin,
        )
    )
    return report, time.monotonic() - started


def summary(results: Sequence[ServiceResult]) -> str:
    lines = [
        f"  {result.service:7} {'passed' if result.passed else 'FAILED':6} {result.seconds:6.1f} s"
        for result in results
    ]
    total = sum(result.seconds for result in results)
    return "\n".join(["fuzzing through the gateway:", *lines, f"  total   {total:.1f} s"])
