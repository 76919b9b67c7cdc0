"""Prometheus configuration for compose and the native stack, rendered from one template."""

from __future__ import annotations

from pathlib import Path

from taskhub_stack.alerting import scale_rules
from taskhub_stack.ports import StackPorts, instance_port
from taskhub_stack.render import render_file, render_text

TEMPLATE = Path("infra/prometheus/prometheus.yml.template")
RULES_DIR = Path("infra/prometheus/rules")
# The rules whose windows TASKHUB_ALERT_TIME_SCALE divides (alerting.py); the RED rules'
# one-minute windows stay as they are.
SCALED_RULE_FILES = ("taskhub.slo.rules.yml", "taskhub.alerts.yml")
# Committed, so compose needs no render step; a unit test keeps it equal to a fresh render.
COMPOSE_FILE = Path("infra/prometheus/prometheus.compose.yml")
COMPOSE_NOTE = (
    "# GENERATED from prometheus.yml.template by `taskhub-stack prometheus-compose`: "
    "do not edit by hand."
)
# Where the compose service mounts infra/prometheus/rules.
COMPOSE_RULES_DIR = "/etc/prometheus/rules"
# In compose every service listens on 8000 inside the private network.
COMPOSE_SERVICE_PORT = 8000


def compose_values() -> dict[str, str]:
    defaults = StackPorts()
    return {
        "GENERATED_NOTE": COMPOSE_NOTE,
        "SCRAPE_INTERVAL": "15s",
        "SCRAPE_TIMEOUT": "10s",
        "RULES_DIR": COMPOSE_RULES_DIR,
        "AUTH_TARGETS": f'"auth-svc:{COMPOSE_SERVICE_PORT}"',
        "TASKS_TARGETS": f'"task-svc:{COMPOSE_SERVICE_PORT}"',
        "NOTIFY_TARGETS": f'"notify-svc:{COMPOSE_SERVICE_PORT}"',
        "CELERY_TARGETS": f'"celery-worker:{defaults.celery_metrics}"',
        "CELERY_WEBHOOKS_TARGETS": f'"celery-webhooks:{defaults.celery_metrics}"',
        "ARQ_TARGETS": f'"arq-worker:{defaults.arq_metrics}"',
        "PROMETHEUS_TARGET": f"localhost:{defaults.prometheus}",
        "POSTGRES_EXPORTER_TARGET": f"postgres-exporter:{defaults.postgres_exporter}",
        "REDIS_EXPORTER_TARGET": f"redis-exporter:{defaults.redis_exporter}",
        "NGINX_EXPORTER_TARGET": f"nginx-exporter:{defaults.nginx_exporter}",
        "ALERTMANAGER_TARGET": f"alertmanager:{defaults.alertmanager}",
    }


def native_targets(port: int, replicas: int) -> str:
    """Every instance's address, as the items of a YAML flow list."""
    return ", ".join(
        f'"127.0.0.1:{instance_port(port, number)}"' for number in range(1, replicas + 1)
    )


def native_values(
    root: Path, ports: StackPorts, rules_dir: Path | None = None, replicas: int = 1
) -> dict[str, str]:
    # A short interval so that scenarios see their traffic in Prometheus within seconds.
    return {
        "GENERATED_NOTE": "# Rendered by `taskhub-stack up`: edit the template instead.",
        "SCRAPE_INTERVAL": "5s",
        "SCRAPE_TIMEOUT": "4s",
        "RULES_DIR": str(rules_dir or root / RULES_DIR),
        "AUTH_TARGETS": native_targets(ports.auth, replicas),
        "TASKS_TARGETS": native_targets(ports.tasks, replicas),
        "NOTIFY_TARGETS": native_targets(ports.notify, replicas),
        # Each webhook worker writes into its instance's Celery folder, served by that port.
        "CELERY_TARGETS": native_targets(ports.celery_metrics, replicas),
        "CELERY_WEBHOOKS_TARGETS": "",
        "ARQ_TARGETS": native_targets(ports.arq_metrics, replicas),
        "PROMETHEUS_TARGET": f"127.0.0.1:{ports.prometheus}",
        "POSTGRES_EXPORTER_TARGET": f"127.0.0.1:{ports.postgres_exporter}",
        "REDIS_EXPORTER_TARGET": f"127.0.0.1:{ports.redis_exporter}",
        "NGINX_EXPORTER_TARGET": f"127.0.0.1:{ports.nginx_exporter}",
        "ALERTMANAGER_TARGET": f"127.0.0.1:{ports.alertmanager}",
    }


def render_compose(root: Path) -> str:
    return render_text((root / TEMPLATE).read_text(), compose_values())


def write_compose(root: Path) -> Path:
    """Regenerate the committed compose variant."""
    return render_file(root / TEMPLATE, root / COMPOSE_FILE, compose_values(), mode=0o644)


def write_native(
    root: Path,
    ports: StackPorts,
    target: Path,
    rules_dir: Path | None = None,
    *,
    replicas: int = 1,
) -> Path:
    """The native stack's copy, owner-only like every file the stack renders."""
    return render_file(root / TEMPLATE, target, native_values(root, ports, rules_dir, replicas))


def write_native_rules(root: Path, target_dir: Path, scale: int) -> Path | None:
    """With alert windows scaled (`scale` > 1), copies of the rules with the windows divided
    by `scale` in `target_dir`, which is returned; else None (the committed rules apply)."""
    if scale == 1:
        return None
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in target_dir.glob("*.yml"):
        stale.unlink()
    for path in sorted((root / RULES_DIR).glob("*.yml")):
        target = target_dir / path.name
        text = path.read_text()
        target.write_text(scale_rules(text, scale) if path.name in SCALED_RULE_FILES else text)
        target.chmod(0o600)
    return target_dir
