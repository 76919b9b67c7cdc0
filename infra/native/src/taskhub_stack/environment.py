"""The environment every program of the native stack gets (and `taskhub-stack env` prints)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from taskhub_stack.credentials import (
    ADMIN_PASSWORD,
    API_KEY_HASH_SECRET,
    INTERNAL_TOKEN,
    REDIS_PASSWORD,
    SERVICE_DATABASES,
    TEST_SUFFIX,
    WEBHOOK_SIGNING_SECRET,
    password_key,
)
from taskhub_stack.layout import StackLayout
from taskhub_stack.ports import StackPorts

# Redis databases per purpose (docs/conventions.md); the test session uses the same + 10.
REDIS_DBS = {"auth": 0, "tasks": 1, "notify_celery": 2, "notify_arq": 3}
TEST_REDIS_OFFSET = 10
# Natively the beat scans for due reminders often, so scenarios need not wait long.
REMINDER_SCAN_SECONDS = 2
# The bootstrap admin of the native stack (its password is generated on first run).
ADMIN_EMAIL = "admin@example.com"
# Every client of the native stack (the e2e suite, fuzzing, benchmarks) is 127.0.0.1, so
# the per-address failed-login limit is raised; the per-account limit keeps its default.
LOGIN_IP_MAX_FAILURES = 1000
# Likewise for registrations per address (the suite and the benchmarks register hundreds).
REGISTER_IP_MAX_ATTEMPTS = 100_000
# The e2e suite's webhook receivers listen on loopback, one port per xdist worker; only
# the native stack allowlists them (the setting is empty by default, refused in production).
E2E_RECEIVER_PORT_COUNT = 10
# Faster retry and recovery than production defaults, so scenarios about failed deliveries
# and killed workers finish in seconds.
NOTIFY_DEV_TIMINGS = {
    "NOTIFY_RETRY_BACKOFF_SECONDS": "1",
    "NOTIFY_WEBHOOK_TIMEOUT_SECONDS": "5",
    "NOTIFY_STUCK_JOB_SECONDS": "10",
    "NOTIFY_STUCK_SWEEP_SECONDS": "1",
}


# Variables the native stack sets only to serve as a test bed, or to keep its state in
# `.stack/` beside other stacks on the same host; a deployment (compose) keeps the
# services' production defaults for them.
# The stack's refresh-reuse grace (10 s in production): the e2e suite waits it out before
# each replay of a spent refresh token, so a short one keeps the suite fast.
REFRESH_REUSE_GRACE_SECONDS = 2
TEST_BED_ONLY = frozenset(
    {
        *NOTIFY_DEV_TIMINGS,
        "NOTIFY_WEBHOOK_ALLOWLIST",
        "AUTH_PASSWORD_HASH_SLOTS_DIR",
        "AUTH_REFRESH_REUSE_GRACE_SECONDS",
    }
)


def build_service_env(
    ports: StackPorts, credentials: dict[str, str], layout: StackLayout, *, test: bool = False
) -> dict[str, str]:
    """Every service variable of the stack; with `test`, the `_test` databases and Redis 10-13.

    Add new variables here: both the supervised programs and the test session read this.
    `PROMETHEUS_MULTIPROC_DIR` is deliberately absent: each supervisord section sets its
    own folder (the services' gunicorn workers, the Celery worker), or every program would
    pool its samples with the others'.
    """
    redis_offset = TEST_REDIS_OFFSET if test else 0

    def redis_url(purpose: str) -> str:
        # The stack's Redis requires its password (redis.conf's requirepass).
        password = credentials[REDIS_PASSWORD]
        database = REDIS_DBS[purpose] + redis_offset
        return f"redis://:{password}@127.0.0.1:{ports.redis}/{database}"

    def database_url(prefix: str) -> str:
        name = SERVICE_DATABASES[prefix]
        password = credentials[password_key(prefix)]
        database = name + TEST_SUFFIX if test else name
        return f"postgresql+asyncpg://{name}:{password}@127.0.0.1:{ports.pg}/{database}"

    auth_url = f"http://127.0.0.1:{ports.auth}"
    jwks_url = f"{auth_url}/auth/.well-known/jwks.json"
    env: dict[str, str] = {}
    for prefix in SERVICE_DATABASES:
        env[f"{prefix}_ENVIRONMENT"] = "test" if test else "development"
        env[f"{prefix}_DATABASE_URL"] = database_url(prefix)
        env[f"{prefix}_INTERNAL_TOKEN"] = credentials[INTERNAL_TOKEN]
    env |= {
        "AUTH_REDIS_URL": redis_url("auth"),
        "AUTH_KEYS_DIR": str(layout.keys_dir),
        # Per stack, so two checkouts on one host never share (or squat) each other's slots.
        "AUTH_PASSWORD_HASH_SLOTS_DIR": str(layout.password_hash_slots_dir),
        "AUTH_ADMIN_EMAIL": ADMIN_EMAIL,
        "AUTH_ADMIN_PASSWORD": credentials[ADMIN_PASSWORD],
        "AUTH_API_KEY_HASH_SECRET": credentials[API_KEY_HASH_SECRET],
        "AUTH_LOGIN_IP_MAX_FAILURES": str(LOGIN_IP_MAX_FAILURES),
        "AUTH_REGISTER_IP_MAX_ATTEMPTS": str(REGISTER_IP_MAX_ATTEMPTS),
        "AUTH_REFRESH_REUSE_GRACE_SECONDS": str(REFRESH_REUSE_GRACE_SECONDS),
        "TASKS_REDIS_URL": redis_url("tasks"),
        "TASKS_AUTH_URL": auth_url,
        "TASKS_NOTIFY_URL": f"http://127.0.0.1:{ports.notify}",
        "TASKS_JWKS_URL": jwks_url,
        "NOTIFY_REDIS_URL": redis_url("notify_celery"),
        "NOTIFY_CELERY_BROKER_URL": redis_url("notify_celery"),
        "NOTIFY_ARQ_REDIS_URL": redis_url("notify_arq"),
        "NOTIFY_JWKS_URL": jwks_url,
        "NOTIFY_AUTH_URL": auth_url,
        "NOTIFY_WEBHOOK_SIGNING_SECRET": credentials[WEBHOOK_SIGNING_SECRET],
        "NOTIFY_REMINDER_SCAN_SECONDS": str(REMINDER_SCAN_SECONDS),
        "NOTIFY_WEBHOOK_ALLOWLIST": ",".join(
            f"127.0.0.1:{ports.receivers + n}" for n in range(E2E_RECEIVER_PORT_COUNT)
        ),
        **NOTIFY_DEV_TIMINGS,
        "TASKHUB_CELERY_METRICS_PORT": str(ports.celery_metrics),
        "TASKHUB_ARQ_METRICS_PORT": str(ports.arq_metrics),
    }
    return dict(sorted((env | _overrides_from(os.environ)).items()))


# A developer tunes a service of the native stack by exporting its variable before `up`
# (e.g. TASKS_CREATE_RATE_LIMIT for a benchmark); these prefixes are the services'.
SERVICE_PREFIXES = ("AUTH_", "TASKS_", "NOTIFY_")


def _overrides_from(environ: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in environ.items() if key.startswith(SERVICE_PREFIXES)}
