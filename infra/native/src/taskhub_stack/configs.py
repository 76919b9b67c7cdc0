"""Renders every config file of the native stack into `.stack/run/` from the committed templates."""

from __future__ import annotations

import getpass
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from taskhub_stack import alerting, postgres, prometheus
from taskhub_stack.layout import PgLocation, StackLayout
from taskhub_stack.ports import StackPorts, instance_port
from taskhub_stack.prereqs import SystemPrograms
from taskhub_stack.programs import REPLICATED_PROGRAMS, instance_name
from taskhub_stack.render import render_file, render_text, write_private
from taskhub_stack.supervisor import supervisor_environment

SUPERVISOR_TEMPLATE = Path("infra/native/supervisord.conf.template")
REDIS_TEMPLATE = Path("infra/native/redis.conf.template")
GATEWAY_TEMPLATE = Path("gateway/nginx.conf.template")
# /openapi.json and /docs: copied where the nginx workers can read them (next to their temp).
GATEWAY_PUBLIC = Path("gateway/public")


@dataclass(frozen=True)
class StackConfig:
    """Everything the templates are rendered from."""

    layout: StackLayout
    ports: StackPorts
    programs: SystemPrograms
    pg: PgLocation
    pg_user: str
    nginx_user: str
    nginx_temp_dir: Path
    # The service environment (`build_service_env`) every program gets.
    service_env: dict[str, str]
    # The password Redis requires (also inside every Redis URL of `service_env`).
    redis_password: str
    # The postgres exporter's password (role postgres.MONITOR_ROLE).
    monitor_db_password: str
    # Instances of each API service and worker (`TASKHUB_REPLICAS`).
    replicas: int = 1


def supervisor_values(config: StackConfig, venv_bin: Path, number: int = 1) -> dict[str, str]:
    """The template's values for instance `number` of the replicated programs."""
    layout, ports = config.layout, config.ports

    def port(first: int) -> str:
        return str(instance_port(first, number))

    def metrics_dir(service: str) -> str:
        return str(layout.service_metrics_dir(instance_name(service, number)))

    # Not service settings, so kept out of .stack/env: the venv first on PATH for the
    # programs' own subprocesses, and unbuffered output so logs are timely.
    process_env = {
        "PATH": f"{venv_bin}:%(ENV_PATH)s",
        "VIRTUAL_ENV": str(venv_bin.parent),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPYCACHEPREFIX": str(layout.pycache_dir),
    }
    environment = supervisor_environment(config.service_env)
    # %(ENV_PATH)s is an expansion supervisord performs, so it is added unescaped.
    environment += "," + ",".join(f'{key}="{value}"' for key, value in process_env.items())
    return {
        "ROOT": str(layout.root),
        "RUN_DIR": str(layout.run_dir),
        "LOG_DIR": str(layout.log_dir),
        "VENV_BIN": str(venv_bin),
        "SUPERVISOR_USER": getpass.getuser(),
        "ENVIRONMENT": environment,
        "PG_BIN": str(config.programs.pg_bindir),
        "PG_DATA_DIR": str(config.pg.data_dir),
        "PG_SOCKET_DIR": str(config.pg.socket_dir),
        "PG_PORT": str(ports.pg),
        "PG_USER": config.pg_user,
        "PG_OPTIONS": postgres.server_options(),
        "REDIS_SERVER": str(config.programs["redis-server"]),
        "NGINX": str(config.programs["nginx"]),
        "INSTANCE_SUFFIX": "" if number == 1 else f"-{number}",
        "INSTANCE_PEERS": instance_peers(config, number),
        "AUTH_PORT": port(ports.auth),
        "TASKS_PORT": port(ports.tasks),
        "NOTIFY_PORT": port(ports.notify),
        "CELERY_METRICS_PORT": port(ports.celery_metrics),
        "ARQ_METRICS_PORT": port(ports.arq_metrics),
        "CELERY_MULTIPROC_DIR": str(layout.celery_instance_multiproc_dir(number)),
        "AUTH_METRICS_DIR": metrics_dir("auth-svc"),
        "TASKS_METRICS_DIR": metrics_dir("task-svc"),
        "NOTIFY_METRICS_DIR": metrics_dir("notify-svc"),
        # Workers per service, as in the images (gunicorn_conf's default); a developer may
        # set WEB_CONCURRENCY=1 for a lighter stack.
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
        "PROMETHEUS": str(config.programs["prometheus"]),
        "PROMETHEUS_DATA_DIR": str(layout.prometheus_dir),
        "PROMETHEUS_PORT": str(ports.prometheus),
        **exporter_values(config),
    }


# The Redis keys whose length redis-exporter reports: Celery's two queues (db 2, lists)
# and ARQ's queue (db 3, a sorted set), as redis_key_size{db, key}.
REDIS_QUEUE_KEYS = "db2=celery,db2=webhooks,db3=arq:queue"
POSTGRES_EXPORTER_QUERIES = Path("infra/prometheus/exporters/postgres-queries.yml")


def exporter_values(config: StackConfig) -> dict[str, str]:
    """The exporters' and Alertmanager's placeholders in the supervisord template."""
    layout, ports, programs = config.layout, config.ports, config.programs
    dsn = (
        f"postgresql://{postgres.MONITOR_ROLE}:{config.monitor_db_password}"
        f"@127.0.0.1:{ports.pg}/postgres?sslmode=disable"
    )
    return {
        "POSTGRES_EXPORTER": str(programs["prometheus-postgres-exporter"]),
        "POSTGRES_EXPORTER_PORT": str(ports.postgres_exporter),
        "POSTGRES_EXPORTER_QUERIES": str(layout.root / POSTGRES_EXPORTER_QUERIES),
        "POSTGRES_EXPORTER_DSN": dsn,
        "REDIS_EXPORTER": str(programs["prometheus-redis-exporter"]),
        "REDIS_EXPORTER_PORT": str(ports.redis_exporter),
        "REDIS_PORT": str(ports.redis),
        "REDIS_PASSWORD": config.redis_password,
        "REDIS_EXPORTER_KEYS": REDIS_QUEUE_KEYS,
        "NGINX_EXPORTER": str(programs["prometheus-nginx-exporter"]),
        "NGINX_EXPORTER_PORT": str(ports.nginx_exporter),
        "GATEWAY_STATUS_PORT": str(ports.gateway_status),
        "ALERTMANAGER": str(programs["prometheus-alertmanager"]),
        "ALERTMANAGER_DATA_DIR": str(layout.alertmanager_dir),
        "ALERTMANAGER_PORT": str(ports.alertmanager),
    }


def instance_peers(config: StackConfig, number: int) -> str:
    """More `environment=` entries for instance `number` >= 2: its calls to auth-svc (JWKS,
    assignee and address look-ups) and notify-svc (the outbox relay) go to instance
    `number` of those. The first instance keeps the stack's environment (with a
    developer's overrides); a peer that restarts meanwhile is waited out as an outage
    (the relay holds the event, which another instance's relay then sends)."""
    if number == 1:
        return ""
    auth = f"http://127.0.0.1:{instance_port(config.ports.auth, number)}"
    notify = f"http://127.0.0.1:{instance_port(config.ports.notify, number)}"
    jwks = f"{auth}/auth/.well-known/jwks.json"
    peers = {
        "TASKS_AUTH_URL": auth,
        "TASKS_NOTIFY_URL": notify,
        "TASKS_JWKS_URL": jwks,
        "NOTIFY_AUTH_URL": auth,
        "NOTIFY_JWKS_URL": jwks,
    }
    return "," + supervisor_environment(peers)


def render_supervisor_conf(template: str, config: StackConfig, venv_bin: Path) -> str:
    """supervisord.conf: the template as it is for the first instance, followed by the
    sections of the replicated programs rendered again for every further instance."""
    text = render_text(template, supervisor_values(config, venv_bin))
    for number in range(2, config.replicas + 1):
        again = render_text(template, supervisor_values(config, venv_bin, number))
        wanted = {f"[program:{instance_name(name, number)}]" for name in REPLICATED_PROGRAMS}
        sections = [s for s in _sections(again) if s.splitlines()[0] in wanted]
        text = text.rstrip("\n") + "\n\n" + "\n".join(sections)
    return text


def _sections(conf: str) -> list[str]:
    """The `[...]` sections of an ini text, each with its lines up to the next header."""
    sections: list[str] = []
    for line in conf.splitlines(keepends=True):
        if line.startswith("["):
            sections.append(line)
        elif sections:
            sections[-1] += line
    return sections


def redis_values(layout: StackLayout, ports: StackPorts, password: str) -> dict[str, str]:
    return {
        "REDIS_PORT": str(ports.redis),
        "REDIS_DATA_DIR": str(layout.redis_dir),
        "REDIS_PASSWORD": password,
    }


# Gateway limits a developer may raise (benchmarks) by setting the same-named variable.
GATEWAY_TUNABLES = {
    "TASKHUB_GATEWAY_RATE_LIMIT": "100r/s",
    "TASKHUB_GATEWAY_RATE_BURST": "200",
    "TASKHUB_GATEWAY_CONN_LIMIT": "128",
    "TASKHUB_GATEWAY_CLIENT_MAX_BODY_SIZE": "1m",
    "TASKHUB_GATEWAY_PROXY_TIMEOUT": "30s",
}


# An instance that failed 3 times within 3 s (refused connections while it restarts, time-
# outs) is skipped for 3 s. One failure would be too few: a single reset or time-out could
# take out the one healthy instance while its peer restarts ("no live upstreams", 502).
UPSTREAM_FAIL_TIMEOUT_SECONDS = 3
UPSTREAM_SERVER_OPTIONS = f"max_fails=3 fail_timeout={UPSTREAM_FAIL_TIMEOUT_SECONDS}s"


def upstream_servers(first_port: int, replicas: int) -> str:
    """The value of a `server ${...};` line of the gateway template for every instance.

    The template writes one `server`; the further instances join it as `a; server b`, so
    compose and the chart (one name per service) keep their one-line values.
    """
    return ";\n        server ".join(
        f"127.0.0.1:{instance_port(first_port, number)} {UPSTREAM_SERVER_OPTIONS}"
        for number in range(1, replicas + 1)
    )


def gateway_values(config: StackConfig) -> dict[str, str]:
    """The native values of gateway/nginx.conf.template's placeholders (see gateway/README.md)."""
    layout, ports = config.layout, config.ports
    return {
        "TASKHUB_GATEWAY_USER": config.nginx_user,
        "TASKHUB_GATEWAY_WORKER_PROCESSES": "auto",
        "TASKHUB_GATEWAY_PID_FILE": str(layout.run_dir / "nginx.pid"),
        "TASKHUB_GATEWAY_ERROR_LOG": str(layout.log_dir / "gateway-error.log"),
        "TASKHUB_GATEWAY_ACCESS_LOG": str(layout.log_dir / "gateway.log"),
        "TASKHUB_GATEWAY_TEMP_DIR": str(config.nginx_temp_dir),
        "TASKHUB_GATEWAY_PUBLIC_DIR": str(config.nginx_temp_dir / "public"),
        "TASKHUB_GATEWAY_LISTEN": f"127.0.0.1:{ports.gateway}",
        "TASKHUB_GATEWAY_STATUS_LISTEN": f"127.0.0.1:{ports.gateway_status}",
        "TASKHUB_GATEWAY_AUTH_UPSTREAM": upstream_servers(ports.auth, config.replicas),
        "TASKHUB_GATEWAY_TASKS_UPSTREAM": upstream_servers(ports.tasks, config.replicas),
        "TASKHUB_GATEWAY_NOTIFY_UPSTREAM": upstream_servers(ports.notify, config.replicas),
        # Fixed addresses: no DNS, so no resolver.
        "TASKHUB_GATEWAY_RESOLVER": "",
        "TASKHUB_GATEWAY_METRICS_ALLOW": (
            "127.0.0.0/8 1; ::1 1; 10.0.0.0/8 1; 172.16.0.0/12 1; 192.168.0.0/16 1;"
        ),
        **{name: os.environ.get(name, default) for name, default in GATEWAY_TUNABLES.items()},
    }


def render_all(config: StackConfig, venv_bin: Path) -> None:
    """Write supervisord.conf, redis.conf, nginx.conf, prometheus.yml (with its rules when
    alert windows are scaled) and alertmanager.yml into `.stack/run/`.

    Each is owner-only (render_file's default): supervisord.conf carries the service
    environment with every password and token, redis.conf the Redis password.
    """
    layout = config.layout
    root = layout.root
    template = (root / SUPERVISOR_TEMPLATE).read_text()
    write_private(layout.supervisor_conf, render_supervisor_conf(template, config, venv_bin))
    render_file(
        root / REDIS_TEMPLATE,
        layout.run_dir / "redis.conf",
        redis_values(layout, config.ports, config.redis_password),
    )
    render_file(root / GATEWAY_TEMPLATE, layout.run_dir / "nginx.conf", gateway_values(config))
    shutil.copytree(root / GATEWAY_PUBLIC, config.nginx_temp_dir / "public", dirs_exist_ok=True)
    scale = alerting.time_scale(os.environ)
    rules_dir = prometheus.write_native_rules(root, layout.run_dir / "rules", scale)
    prometheus.write_native(
        root, config.ports, layout.run_dir / "prometheus.yml", rules_dir, replicas=config.replicas
    )
    alerting.write_native(root, config.ports, layout.run_dir / "alertmanager.yml", os.environ)
