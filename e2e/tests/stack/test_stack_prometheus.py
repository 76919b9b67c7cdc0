"""Prometheus config (one template, compose + native) and the RED recording rules, via promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from taskhub_e2e.stack import prometheus
from taskhub_e2e.stack.ports import StackPorts

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "infra/prometheus/rules/taskhub.rules.yml"
RULES_TEST = ROOT / "infra/prometheus/tests/taskhub.rules.test.yml"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)


def scrape_targets(config_text: str) -> dict[str, tuple[str, str]]:
    """job -> (target, metrics path)."""
    config = yaml.safe_load(config_text)
    return {
        job["job_name"]: (
            job["static_configs"][0]["targets"][0],
            job.get("metrics_path", "/metrics"),
        )
        for job in config["scrape_configs"]
    }


def test_committed_compose_config_equals_a_fresh_render() -> None:
    committed = (ROOT / prometheus.COMPOSE_FILE).read_text()

    assert committed == prometheus.render_compose(ROOT), (
        "stale: run `uv run taskhub-stack prometheus-compose`"
    )


def test_compose_config_is_valid_and_scrapes_the_services_directly() -> None:
    result = promtool("check", "config", str(ROOT / prometheus.COMPOSE_FILE))
    targets = scrape_targets((ROOT / prometheus.COMPOSE_FILE).read_text())

    assert result.returncode == 0, result.stdout + result.stderr
    assert targets["auth-svc"] == ("auth-svc:8000", "/auth/metrics")
    assert targets["task-svc"] == ("task-svc:8000", "/tasks/metrics")
    assert targets["notify-svc"] == ("notify-svc:8000", "/notify/metrics")
    assert targets["celery-worker"] == ("celery-worker:9101", "/metrics")
    assert targets["arq-worker"] == ("arq-worker:9102", "/metrics")
    assert "prometheus" in targets


def test_native_config_is_valid_loads_the_rules_and_scrapes_every_5s(tmp_path: Path) -> None:
    ports = StackPorts(auth=18101, celery_metrics=19101)
    target = prometheus.write_native(ROOT, ports, tmp_path / "prometheus.yml")
    result = promtool("check", "config", str(target))
    config = yaml.safe_load(target.read_text())
    targets = scrape_targets(target.read_text())

    assert result.returncode == 0, result.stdout + result.stderr
    # promtool checked the rule files the glob matched, so the glob must match ours.
    assert "taskhub.rules.yml" in result.stdout
    assert config["global"]["scrape_interval"] == "5s"
    assert targets["auth-svc"] == ("127.0.0.1:18101", "/auth/metrics")
    assert targets["celery-worker"] == ("127.0.0.1:19101", "/metrics")
    assert targets["prometheus"][0] == "127.0.0.1:9090"


def test_native_config_scrapes_every_instance(tmp_path: Path) -> None:
    target = prometheus.write_native(ROOT, StackPorts(), tmp_path / "p.yml", replicas=2)
    config = yaml.safe_load(target.read_text())
    jobs = {
        job["job_name"]: [t for group in job["static_configs"] for t in group["targets"]]
        for job in config["scrape_configs"]
    }

    assert promtool("check", "config", str(target)).returncode == 0
    assert jobs["auth-svc"] == ["127.0.0.1:8101", "127.0.0.1:8111"]
    assert jobs["task-svc"] == ["127.0.0.1:8102", "127.0.0.1:8112"]
    assert jobs["notify-svc"] == ["127.0.0.1:8103", "127.0.0.1:8113"]
    assert jobs["celery-worker"] == ["127.0.0.1:9101", "127.0.0.1:9111"]
    assert jobs["arq-worker"] == ["127.0.0.1:9102", "127.0.0.1:9112"]


def test_recording_rules_are_valid() -> None:
    result = promtool("check", "rules", str(RULES))

    assert result.returncode == 0, result.stdout + result.stderr


def test_recording_rules_compute_red_metrics() -> None:
    result = promtool("test", "rules", str(RULES_TEST))

    assert result.returncode == 0, result.stdout + result.stderr
