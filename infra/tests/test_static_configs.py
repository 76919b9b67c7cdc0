"""Static checks of the compose-only observability configs and the GitHub workflows.

Loki, Promtail, Alloy, the OTel collector, Tempo and Grafana run only in compose, so these
checks read their configs as data: valid YAML, datasources that reference each other by
uid, pipelines that use only what they define, hosts that are compose services, and the
workflows against their JSON schema (plus shellcheck over every `run:` script).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((REPO / ".github" / "actions").glob("*/action.yml"))
DATASOURCES = INFRA / "grafana" / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = INFRA / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
OTEL_CONFIG = INFRA / "otel-collector" / "config.yaml"
PROMTAIL_CONFIG = INFRA / "promtail" / "promtail.yaml"
ALLOY_CONFIG = INFRA / "alloy" / "config.alloy"
YAML_CONFIGS = [
    INFRA / "loki" / "loki.yaml",
    INFRA / "tempo" / "tempo.yaml",
    OTEL_CONFIG,
    PROMTAIL_CONFIG,
    DATASOURCES,
    DASHBOARD_PROVIDERS,
]


def venv_tool(name: str) -> str:
    """A command-line tool installed in the workspace venv; missing is a failure, not a skip."""
    bin_dir = Path(sys.executable).parent
    found = shutil.which(name, path=str(bin_dir))
    if found is None:
        pytest.fail(f"`{name}` is not in {bin_dir}; install the dev group: uv sync --all-packages")
    return found


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = load(COMPOSE_FILE)["services"]
    return services


def walk(node: object) -> Iterator[tuple[str, object]]:
    """Every (key, value) pair of a parsed document, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key), value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def assert_hosts_are_compose_services(config: Path, hosts: set[str], consumer: str) -> None:
    """Each host is a compose service that shares a network with `consumer`."""
    services = compose_services()
    networks = set(services[consumer].get("networks", []))
    for host in hosts:
        assert host in services, f"{config.name}: {host} is no compose service"
        assert networks & set(services[host].get("networks", [])), f"{consumer} cannot reach {host}"


# --- validity -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_CONFIGS, ids=lambda path: str(path.relative_to(INFRA)))
def test_config_is_a_yaml_mapping(path: Path) -> None:
    assert isinstance(load(path), dict)


def test_every_owned_config_is_mounted_by_compose() -> None:
    mounted = {
        (REPO / "compose" / str(volume).split(":")[0]).resolve()
        for service in compose_services().values()
        for volume in service.get("volumes", [])
        if str(volume).startswith(".")
    }
    for path in [*YAML_CONFIGS, ALLOY_CONFIG]:
        assert path in mounted or path.parent.parent in mounted, f"{path} is mounted nowhere"


# --- Grafana ------------------------------------------------------------------------------


def datasources() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = load(DATASOURCES)["datasources"]
    return found


def test_datasource_uids_are_unique_and_every_reference_resolves() -> None:
    uids = [source["uid"] for source in datasources()]
    assert len(uids) == len(set(uids)), uids
    references = [value for key, value in walk(datasources()) if key == "datasourceUid"]
    assert references, "the datasources do not link to each other"
    assert set(references) <= set(uids), set(references) - set(uids)


def test_signals_are_linked_both_ways() -> None:
    by_type = {source["type"]: source for source in datasources()}
    prometheus, loki, tempo = by_type["prometheus"], by_type["loki"], by_type["tempo"]
    exemplars = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert {link["datasourceUid"] for link in exemplars} == {tempo["uid"]}
    derived = loki["jsonData"]["derivedFields"]
    assert {field["datasourceUid"] for field in derived} == {tempo["uid"]}
    assert tempo["jsonData"]["tracesToLogsV2"]["datasourceUid"] == loki["uid"]
    assert sum(source.get("isDefault", False) for source in datasources()) == 1


def test_trace_id_derived_fields_match_our_log_lines() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    line = f'{{"level":"info","trace_id":"{trace_id}","span_id":"00f067aa0ba902b7"}}'
    for field in loki_derived_fields():
        if field.get("matcherType", "regex") == "regex":
            match = re.search(field["matcherRegex"], line)
            assert match
            assert match.group(1) == trace_id
        else:
            assert field["matcherRegex"] == "trace_id", "the structured-metadata key"


def loki_derived_fields() -> list[dict[str, Any]]:
    loki = next(source for source in datasources() if source["type"] == "loki")
    fields: list[dict[str, Any]] = loki["jsonData"]["derivedFields"]
    return fields


def test_grafana_reaches_every_datasource() -> None:
    hosts = {urlsplit(source["url"]).hostname or "" for source in datasources()}
    assert_hosts_are_compose_services(DATASOURCES, hosts, "grafana")


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    provider = load(DASHBOARD_PROVIDERS)["providers"][0]
    mounts = compose_services()["grafana"]["volumes"]
    assert f"../infra/grafana/dashboards:{provider['options']['path']}:ro" in mounts


# --- OpenTelemetry collector -------------------------------------------------------------


def test_collector_pipelines_use_only_defined_components() -> None:
    config = load(OTEL_CONFIG)
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{name}: {kind[:-1]} {component} undefined"
        assert pipeline["processors"][0] == "memory_limiter", f"{name}: memory_limiter first"


def test_collector_exports_to_compose_services() -> None:
    exporters = load(OTEL_CONFIG)["exporters"].values()
    hosts = {
        urlsplit(e["endpoint"] if "://" in e["endpoint"] else f"//{e['endpoint']}").hostname or ""
        for e in exporters
    }
    assert hosts == {"tempo", "prometheus", "loki"}
    assert_hosts_are_compose_services(OTEL_CONFIG, hosts, "otel-collector")


def test_prometheus_accepts_what_the_collector_pushes() -> None:
    assert "--web.enable-otlp-receiver" in compose_services()["prometheus"]["command"]


def test_services_send_telemetry_to_the_collector() -> None:
    receiver = load(OTEL_CONFIG)["receivers"]["otlp"]["protocols"]
    for name, service in compose_services().items():
        endpoint = service.get("environment", {}).get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint:
            parts = urlsplit(endpoint)
            assert parts.hostname == "otel-collector", name
            protocol = service["environment"]["OTEL_EXPORTER_OTLP_PROTOCOL"]
            listening = receiver["grpc" if protocol == "grpc" else "http"]["endpoint"]
            assert listening.endswith(f":{parts.port}"), f"{name}: {endpoint} vs {listening}"


# --- log shipping -------------------------------------------------------------------------


def test_promtail_and_alloy_ship_the_compose_project_to_loki() -> None:
    project = load(COMPOSE_FILE)["name"]
    promtail = load(PROMTAIL_CONFIG)
    filters = promtail["scrape_configs"][0]["docker_sd_configs"][0]["filters"]
    assert {"name": "label", "values": [f"com.docker.compose.project={project}"]} in filters
    assert f'"com.docker.compose.project={project}"' in ALLOY_CONFIG.read_text()
    hosts = {urlsplit(client["url"]).hostname or "" for client in promtail["clients"]}
    assert_hosts_are_compose_services(PROMTAIL_CONFIG, hosts, "promtail")


def test_only_low_cardinality_fields_become_labels() -> None:
    stages = load(PROMTAIL_CONFIG)["scrape_configs"][0]["pipeline_stages"]
    labels = next(stage["labels"] for stage in stages if "labels" in stage)
    metadata = next(
        stage["structured_metadata"] for stage in stages if "structured_metadata" in stage
    )
    assert {"request_id", "trace_id", "span_id"} <= set(metadata)
    assert not {"request_id", "trace_id", "span_id", "msg"} & set(labels)
    alloy = ALLOY_CONFIG.read_text()
    alloy_labels = re.search(r"stage\.labels \{(.*?)\n  \}", alloy, re.DOTALL)
    assert alloy_labels
    assert "trace_id" not in alloy_labels.group(1)
    assert re.search(r"stage\.structured_metadata \{[^}]*trace_id", alloy, re.DOTALL)


def test_alloy_config_braces_balance() -> None:
    # No Alloy binary here to parse it; at least every block is closed.
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', ALLOY_CONFIG.read_text())
    text = re.sub(r"//.*", "", text)
    assert text.count("{") == text.count("}")


# --- GitHub workflows ---------------------------------------------------------------------


def test_there_are_ci_and_release_workflows() -> None:
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "release.yml"}


@pytest.mark.parametrize(
    "schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"]
)
def test_workflows_match_the_schema(schema: str) -> None:
    result = subprocess.run(
        [venv_tool("check-jsonschema"), "--builtin-schema", schema, *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_local_actions_match_the_schema() -> None:
    result = subprocess.run(
        [
            venv_tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-actions",
            *map(str, ACTIONS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def workflow(path: Path) -> dict[str, Any]:
    # PyYAML reads the `on:` key as the boolean True.
    document: dict[Any, Any] = load(path)
    document["on"] = document.pop(True, document.get("on"))
    return document


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_permissions_are_least_privilege(path: Path) -> None:
    document = workflow(path)
    assert document["permissions"] == {"contents": "read"}, "top level: read-only"
    assert "concurrency" in document, "runs of the same ref must not pile up"
    for name, job in document["jobs"].items():
        granted = job.get("permissions", {})
        writes = {scope for scope, level in granted.items() if level == "write"}
        assert writes <= {"packages"}, f"{name} may write {writes}"


def test_release_pushes_images_only_from_the_release_workflow() -> None:
    for path in WORKFLOWS:
        for name, job in workflow(path)["jobs"].items():
            if job.get("permissions", {}).get("packages") == "write":
                assert path.name == "release.yml", f"{path.name}:{name} can push packages"


def test_all_green_needs_every_other_job() -> None:
    jobs = workflow(REPO / ".github" / "workflows" / "ci.yml")["jobs"]
    gate = jobs["all-green"]
    assert set(gate["needs"]) == set(jobs) - {"all-green"}
    assert gate["if"] == "always()"


def test_actions_are_pinned_to_a_major_version() -> None:
    for path in [*WORKFLOWS, *ACTIONS]:
        for key, value in walk(load(path)):
            if key == "uses" and not str(value).startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", str(value)), f"{path.name}: {value}"


def run_scripts() -> Iterator[tuple[str, str]]:
    for path in [*WORKFLOWS, *ACTIONS]:
        for index, (key, value) in enumerate(walk(load(path))):
            if key == "run":
                yield f"{path.name}#{index}", str(value)


@pytest.mark.parametrize(("where", "script"), list(run_scripts()), ids=lambda v: str(v)[:40])
def test_run_scripts_pass_shellcheck(where: str, script: str, tmp_path: Path) -> None:
    # `${{ ... }}` is expanded by Actions before bash sees the script: stand in a word.
    body = re.sub(r"\$\{\{.*?\}\}", "ACTIONS_EXPRESSION", script)
    target = tmp_path / "step.sh"
    target.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + body)
    result = subprocess.run(
        [venv_tool("shellcheck"), str(target)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{where}\n{result.stdout}"
