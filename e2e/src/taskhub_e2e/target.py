"""The deployment under test: its URLs, what the suite may do to it, and its admin account.

A scenario declares what it needs with a tag (`@chaos`, `@logs`, `@metrics`, `@browser`,
`@outside`, `@trusted`); a target that lacks the capability skips it with the reason stored here.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from taskhub_e2e.receiver import receiver_usable
from taskhub_stack.credentials import read_env_file
from taskhub_stack.native import NativeStack
from taskhub_stack.ports import StackPorts

# The native gateway of this checkout, on its moved port when TASKHUB_GATEWAY_PORT says so.
DEFAULT_BASE_URL = StackPorts.from_env().url("gateway")
DEFAULT_CHROMIUM = "/usr/bin/chromium"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
PROBE_TIMEOUT_SECONDS = 2.0


class Capability(StrEnum):
    # Services can be stopped and started (the native stack of this checkout).
    PROCESS_CONTROL = "process-control"
    # The services' log files can be read (`.stack/logs/*.log`).
    LOGS = "logs"
    # A Prometheus server answers queries.
    METRICS = "metrics"
    # A headless Chromium and Playwright are installed.
    BROWSER = "browser"
    # The suite reaches the gateway from a public address, as an outsider would.
    OUTSIDE = "outside"
    # The suite reaches the gateway from loopback or a private network (the default).
    TRUSTED_NETWORK = "trusted-network"
    # notify-svc may call the suite's webhook receiver (allowlisted) and its secret is known.
    WEBHOOKS = "webhooks"
    # Every service and worker runs as two instances or more, each reachable on its own
    # (the native stack of this checkout started with TASKHUB_REPLICAS >= 2).
    REPLICAS = "replicas"


# Gherkin tag -> the capability a scenario with that tag needs.
TAG_CAPABILITIES: dict[str, Capability] = {
    "chaos": Capability.PROCESS_CONTROL,
    "logs": Capability.LOGS,
    "metrics": Capability.METRICS,
    "browser": Capability.BROWSER,
    "outside": Capability.OUTSIDE,
    "trusted": Capability.TRUSTED_NETWORK,
    "webhooks": Capability.WEBHOOKS,
    "scale": Capability.REPLICAS,
}


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


@dataclass(frozen=True)
class TargetOptions:
    """What the command line and the environment say about the target."""

    base_url: str = DEFAULT_BASE_URL
    prometheus_url: str | None = None
    chromium: str = DEFAULT_CHROMIUM
    client_outside: bool = False
    without: frozenset[Capability] = frozenset()
    max_body_bytes: int = 1024 * 1024


@dataclass
class Target:
    base_url: str
    prometheus_url: str | None
    chromium: str
    max_body_bytes: int
    stack: NativeStack | None = None
    capabilities: set[Capability] = field(default_factory=set)
    # Capability -> why this target does not have it.
    missing: dict[Capability, str] = field(default_factory=dict)
    admin: Credentials | None = None
    admin_missing: str = ""
    # The deployment's notify-svc settings the suite knows (`NOTIFY_*`), see `notify_settings`.
    notify_settings: dict[str, str] = field(default_factory=dict)
    # Instances of each service the suite can reach one by one (0: only the gateway).
    instances: int = 0

    @property
    def is_native(self) -> bool:
        return self.stack is not None

    @property
    def log_dir(self) -> Path | None:
        return self.stack.layout.log_dir if self.stack is not None else None

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def describe(self) -> str:
        kind = "the native stack of this checkout" if self.is_native else "an external deployment"
        have = ", ".join(sorted(self.capabilities)) or "none"
        return f"{self.base_url} ({kind}); capabilities: {have}"


def local_native_stack(base_url: str, environ: Mapping[str, str]) -> tuple[NativeStack | None, str]:
    """The running native stack whose gateway is `base_url`, or None and the reason why not."""
    parts = urlsplit(base_url)
    if parts.hostname not in LOOPBACK_HOSTS:
        return None, f"{base_url} is not a loopback address, so not this checkout's native stack"
    try:
        stack = NativeStack(environ=environ)
    except FileNotFoundError:
        return None, "the suite does not run from a TaskHub checkout"
    if parts.port != stack.ports.gateway:
        return None, f"{base_url} is not the native gateway (port {stack.ports.gateway})"
    if not stack.is_running():
        return None, "the native stack of this checkout is not running (`taskhub-stack up`)"
    return stack, ""


def detect_target(options: TargetOptions, environ: Mapping[str, str] | None = None) -> Target:
    environ = os.environ if environ is None else environ
    stack, not_native = local_native_stack(options.base_url, environ)
    target = Target(
        base_url=options.base_url.rstrip("/"),
        prometheus_url=options.prometheus_url or (stack.prometheus_url if stack else None),
        chromium=options.chromium,
        max_body_bytes=options.max_body_bytes,
        stack=stack,
    )
    _grant(target, Capability.PROCESS_CONTROL, stack is not None, not_native)
    _grant(target, Capability.LOGS, stack is not None, not_native)
    _grant(target, Capability.METRICS, *_prometheus_answers(target.prometheus_url))
    _grant(target, Capability.BROWSER, *_browser_available(options.chromium))
    _grant(
        target,
        Capability.OUTSIDE,
        options.client_outside,
        "the suite reaches the gateway from a trusted network; "
        "pass --client-outside only when it runs from a public address",
    )
    _grant(
        target,
        Capability.TRUSTED_NETWORK,
        not options.client_outside,
        "--client-outside says the suite runs from a public address",
    )
    target.instances = stack.running_replicas() if stack is not None else 0
    _grant(target, Capability.REPLICAS, *_several_instances(target.instances, not_native))
    target.notify_settings = notify_settings(environ, stack)
    worker = environ.get("PYTEST_XDIST_WORKER", "main")
    _grant(target, Capability.WEBHOOKS, *receiver_usable(target.notify_settings, worker))
    for capability in options.without:
        if capability in target.capabilities:
            target.capabilities.discard(capability)
            target.missing[capability] = f"switched off with --without {capability}"
    target.admin, target.admin_missing = admin_credentials(environ, stack)
    return target


def _grant(target: Target, capability: Capability, available: bool, reason: str) -> None:
    if available:
        target.capabilities.add(capability)
    else:
        target.missing[capability] = reason


def _several_instances(instances: int, not_native: str) -> tuple[bool, str]:
    if not_native:
        return False, f"instances are reached one by one only on the native stack: {not_native}"
    if instances < 2:
        return False, (
            f"the native stack runs {instances} instance of each service; "
            "start it with TASKHUB_REPLICAS=2 (`taskhub-stack down` first)"
        )
    return True, ""


def _prometheus_answers(url: str | None) -> tuple[bool, str]:
    if url is None:
        return False, "no Prometheus URL (--prometheus-url / TASKHUB_PROMETHEUS_URL)"
    try:
        response = httpx.get(f"{url.rstrip('/')}/-/ready", timeout=PROBE_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        return False, f"Prometheus at {url} does not answer ({type(error).__name__})"
    if response.status_code != 200:
        return False, f"Prometheus at {url} is not ready ({response.status_code})"
    return True, ""


def _browser_available(chromium: str) -> tuple[bool, str]:
    if importlib.util.find_spec("playwright") is None:
        return False, "Playwright is not installed"
    if not os.access(chromium, os.X_OK):
        return False, f"no Chromium at {chromium} (--chromium / TASKHUB_CHROMIUM)"
    return True, ""


def admin_credentials(
    environ: Mapping[str, str], stack: NativeStack | None
) -> tuple[Credentials | None, str]:
    """The bootstrap admin: from TASKHUB_ADMIN_*, else from the native stack's environment."""
    email, password = environ.get("TASKHUB_ADMIN_EMAIL"), environ.get("TASKHUB_ADMIN_PASSWORD")
    if email and password:
        return Credentials(email, password), ""
    if stack is not None:
        stack_env = {**read_env_file(stack.layout.env_file), **stack.env()}
        email, password = stack_env.get("AUTH_ADMIN_EMAIL"), stack_env.get("AUTH_ADMIN_PASSWORD")
        if email and password:
            return Credentials(email, password), ""
        return None, "the native stack defines no AUTH_ADMIN_EMAIL / AUTH_ADMIN_PASSWORD"
    return None, "no admin credentials: set TASKHUB_ADMIN_EMAIL and TASKHUB_ADMIN_PASSWORD"


def notify_settings(environ: Mapping[str, str], stack: NativeStack | None) -> dict[str, str]:
    """notify-svc's settings as the deployment has them: natively the stack's environment;
    for another deployment, the `NOTIFY_*` variables given to the suite (e.g. its webhook
    allowlist and signing secret, its reminder lead time)."""
    if stack is not None:
        stack_env = {**read_env_file(stack.layout.env_file), **stack.env()}
        return {key: value for key, value in stack_env.items() if key.startswith("NOTIFY_")}
    return {key: value for key, value in environ.items() if key.startswith("NOTIFY_")}
