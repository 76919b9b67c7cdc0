"""Prometheus config (one template, compose + native), the recording rules, the alerts and
their test-scaled variant, via promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from taskhub_stack import alerting, prometheus
from taskhub_stack.ports import StackPorts

ROOT = Path(__file__).resolve().parents[3]
# The ports of docs/conventions.md, as nothing overrides them.
DEFAULTS = StackPorts()
RULES = ROOT / "infra/prometheus/rules/taskhub.rules.yml"
RULES_TEST = ROOT / "infra/prometheus/tests/taskhub.rules.test.yml"
RULES_DIR = ROOT / "infra/prometheus/rules"
ALERTS_TEST = ROOT / "infra/prometheus/tests/taskhub.alerts.test.yml"


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
    assert targets["postgres-exporter"] == ("postgres-exporter:9187", "/metrics")
    assert targets["redis-exporter"] == ("redis-exporter:9121", "/metrics")
    assert targets["nginx-exporter"] == ("nginx-exporter:9113", "/metrics")
    alertmanagers = yaml.safe_load((ROOT / prometheus.COMPOSE_FILE).read_text())["alerting"]
    assert alertmanagers["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]


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
    assert targets["prometheus"][0] == f"127.0.0.1:{DEFAULTS.prometheus}"
    assert targets["postgres-exporter"][0] == f"127.0.0.1:{DEFAULTS.postgres_exporter}"
    assert targets["nginx-exporter"][0] == f"127.0.0.1:{DEFAULTS.nginx_exporter}"
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        f"127.0.0.1:{DEFAULTS.alertmanager}"
    ]
    for name in ("taskhub.slo.rules.yml", "taskhub.alerts.yml"):
        assert name in result.stdout


def test_native_config_scrapes_every_instance(tmp_path: Path) -> None:
    target = prometheus.write_native(ROOT, StackPorts(), tmp_path / "p.yml", replicas=2)
    config = yaml.safe_load(target.read_text())
    jobs = {
        job["job_name"]: [t for group in job["static_configs"] for t in group["targets"]]
        for job in config["scrape_configs"]
    }

    assert promtool("check", "config", str(target)).returncode == 0
    assert jobs["auth-svc"] == [f"127.0.0.1:{DEFAULTS.auth}", "127.0.0.1:8111"]
    assert jobs["task-svc"] == [f"127.0.0.1:{DEFAULTS.tasks}", "127.0.0.1:8112"]
    assert jobs["notify-svc"] == [f"127.0.0.1:{DEFAULTS.notify}", "127.0.0.1:8113"]
    assert jobs["celery-worker"] == [f"127.0.0.1:{DEFAULTS.celery_metrics}", "127.0.0.1:9111"]
    assert jobs["arq-worker"] == [f"127.0.0.1:{DEFAULTS.arq_metrics}", "127.0.0.1:9112"]


def test_recording_rules_are_valid() -> None:
    result = promtool("check", "rules", str(RULES))

    assert result.returncode == 0, result.stdout + result.stderr


def test_recording_rules_compute_red_metrics() -> None:
    result = promtool("test", "rules", str(RULES_TEST))

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_in_its_unit_tests() -> None:
    result = promtool("test", "rules", str(ALERTS_TEST))
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((RULES_DIR / "taskhub.alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }

    cases = [
        case
        for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    tested = {case["alertname"] for case in cases}

    assert result.returncode == 0, result.stdout + result.stderr
    assert alerts <= tested, f"alerts without a unit test: {alerts - tested}"
    for alert in alerts:
        outcomes = {bool(case["exp_alerts"]) for case in cases if case["alertname"] == alert}
        assert outcomes == {True, False}, f"{alert}: needs a firing and a quiet case"


def test_scaled_rules_divide_every_window_and_stay_valid(tmp_path: Path) -> None:
    rules_dir = prometheus.write_native_rules(ROOT, tmp_path / "rules", 60)
    assert rules_dir is not None
    alerts = (rules_dir / "taskhub.alerts.yml").read_text()
    slo = (rules_dir / "taskhub.slo.rules.yml").read_text()
    result = promtool("check", "rules", *(str(path) for path in sorted(rules_dir.glob("*.yml"))))

    assert result.returncode == 0, result.stdout + result.stderr
    # 1 h -> 60 s; 5 m -> 5 s, raised to three native scrapes (15 s); `for: 2m` -> 15 s.
    assert "slo:availability_errors:ratio_rate1h" in alerts  # names stay as they are
    assert "[60s]" in slo
    assert "[15s]" in slo
    assert "[1h]" not in slo
    assert "for: 15s" in alerts
    assert "for: 2m" not in alerts
    # The RED rules keep their one-minute windows.
    assert (rules_dir / "taskhub.rules.yml").read_text() == RULES.read_text()
    assert prometheus.write_native_rules(ROOT, tmp_path / "unscaled", 1) is None


def test_alert_time_scale_and_webhook_url_come_from_the_environment() -> None:
    ports = StackPorts(alert_receiver=19095)

    assert alerting.time_scale({}) == 1
    assert alerting.time_scale({"TASKHUB_ALERT_TIME_SCALE": "60"}) == 60
    for bad in ("0", "-3", "1.5", "fast"):
        try:
            alerting.time_scale({"TASKHUB_ALERT_TIME_SCALE": bad})
        except alerting.InvalidTimeScale:
            continue
        raise AssertionError(f"{bad!r} accepted")
    assert alerting.webhook_url(ports, {}) == "http://127.0.0.1:19095/alerts"
    custom = {"TASKHUB_ALERT_WEBHOOK_URL": "https://pager.example/hook"}
    assert alerting.webhook_url(ports, custom) == "https://pager.example/hook"


def test_alertmanager_config_is_valid_real_and_scaled(tmp_path: Path) -> None:
    for environ in ({}, {"TASKHUB_ALERT_TIME_SCALE": "60"}):
        target = alerting.write_native(ROOT, StackPorts(), tmp_path / "alertmanager.yml", environ)
        result = subprocess.run(
            ["amtool", "check-config", str(target)], capture_output=True, text=True, check=False
        )
        config = yaml.safe_load(target.read_text())

        assert result.returncode == 0, result.stdout + result.stderr
        receiver = config["receivers"][0]["webhook_configs"][0]
        assert receiver == {
            "url": f"http://127.0.0.1:{DEFAULTS.alert_receiver}/alerts",
            "send_resolved": True,
            "max_alerts": 50,
        }
        expected_wait = "1s" if environ else "30s"
        assert config["route"]["group_wait"] == expected_wait
