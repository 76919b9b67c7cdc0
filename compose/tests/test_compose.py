"""Static checks of compose/docker-compose.yml and the service Dockerfiles.

No Docker engine is needed: the compose file is validated against the compose-spec schema
and read as data, the Dockerfiles are linted with hadolint, and each image's builder stage
is replayed with uv in a scratch folder (the same files, the same `uv sync` commands).
The images are built and the stack is started for real in CI (.github/workflows/ci.yml).
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from taskhub_stack.credentials import credential_keys
from taskhub_stack.environment import TEST_BED_ONLY, build_service_env
from taskhub_stack.layout import StackLayout
from taskhub_stack.ports import StackPorts
from taskhub_stack.postgres import LOG_SETTINGS, STATISTICS_SETTINGS

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
GATEWAY_TEMPLATE = REPO / "gateway" / "nginx.conf.template"

# Every container the design names (ARCHITECTURE.md, "Docker Compose").
REQUIRED_SERVICES = frozenset(
    {
        "nginx", "auth-svc", "task-svc", "notify-svc", "celery-worker", "celery-beat",
        "arq-worker", "auth-db", "task-db", "notify-db", "redis", "prometheus", "grafana",
        "loki", "promtail", "otel-collector", "tempo",
    }
)  # fmt: skip
# The only services on the `public` network, and the only ones publishing ports.
PUBLIC_SERVICES = frozenset({"nginx", "grafana"})
# Host paths outside the repository that a container may mount.
ALLOWED_HOST_MOUNTS = frozenset({"/var/run/docker.sock"})
STANDARD_DB_PORTS = frozenset({5432, 6379})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
VALID_CONDITIONS = frozenset(
    {"service_started", "service_healthy", "service_completed_successfully"}
)
# A service without a healthcheck must say why under this extension key.
NO_HEALTHCHECK_KEY = "x-taskhub-no-healthcheck"


@dataclass(frozen=True)
class OurImage:
    """One of the images built from this repository."""

    name: str  # as in the compose image reference, e.g. `auth-svc`
    package: str  # the workspace member, e.g. `taskhub-auth`
    module: str  # its Python package, e.g. `auth_svc`
    env_prefix: str  # its settings prefix, e.g. `AUTH_`

    @property
    def dockerfile(self) -> Path:
        return DOCKERFILE

    @property
    def build_args(self) -> dict[str, str]:
        """What services/Dockerfile must be told to build this image."""
        return {"SERVICE": self.name, "PACKAGE": self.package, "APP": f"{self.module}.main:app"}

    @property
    def settings_class(self) -> type[BaseSettings]:
        settings: type[BaseSettings] = importlib.import_module(
            f"{self.module}.core.config"
        ).Settings
        return settings


# One recipe for the three images, told apart by build arguments.
DOCKERFILE = REPO / "services" / "Dockerfile"
OUR_IMAGES = (
    OurImage("auth-svc", "taskhub-auth", "auth_svc", "AUTH_"),
    OurImage("task-svc", "taskhub-tasks", "task_svc", "TASKS_"),
    OurImage("notify-svc", "taskhub-notify", "notify_svc", "NOTIFY_"),
)


# --- helpers ------------------------------------------------------------------------------


def venv_tool(name: str) -> str:
    """A command-line tool installed in the workspace venv; missing is a failure, not a skip."""
    bin_dir = Path(sys.executable).parent
    found = shutil.which(name, path=str(bin_dir))
    if found is None:
        pytest.fail(f"`{name}` is not in {bin_dir}; install the dev group: uv sync --all-packages")
    return found


def uv_binary() -> str:
    # `uv run` exports its own path as UV; otherwise look on PATH.
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("`uv` is not on PATH; it is needed to replay the images' builder stage")
    return found


# Compose's interpolation: $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err},
# ${NAME?err} and $NAME.
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)


class MissingVariable(KeyError):
    """A `${NAME:?...}` variable without a value."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        missing = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if missing else str(value)
        if op in (":?", "?") and missing:
            raise MissingVariable(name)
        return value or ""

    return _VARIABLE.sub(substitute, text)


def strings_in(node: object) -> Iterator[str]:
    """Every string value of a parsed YAML document (compose interpolates only values)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)


@dataclass(frozen=True)
class VariableUse:
    name: str
    op: str  # "", ":-", "-", ":?" or "?"
    arg: str


def variable_uses() -> set[VariableUse]:
    uses: set[VariableUse] = set()
    for text in strings_in(load_compose()):
        for match in _VARIABLE.finditer(text):
            if match.group(0) != "$$":
                name = match.group("name") or match.group("bare")
                uses.add(VariableUse(name, match.group("op") or "", match.group("arg") or ""))
    return uses


def read_env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def example_env() -> dict[str, str]:
    """.env.example with a stand-in for each required secret (URL-safe, like hex)."""
    required = {use.name for use in variable_uses() if use.op == ":?"}
    return {
        key: f"{key.lower()}-value" if key in required else value
        for key, value in read_env_example().items()
    }


@functools.cache
def load_compose() -> dict[str, Any]:
    """The parsed compose file (parsed once; callers must not modify it)."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = load_compose()["services"]
    return found


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.partition("=")[::2] for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def image_of(service: Mapping[str, Any]) -> OurImage | None:
    for image in OUR_IMAGES:
        if f"/{image.name}:" in str(service.get("image", "")):
            return image
    return None


def containers_of(image: OurImage) -> list[str]:
    return [name for name, service in services().items() if image_of(service) == image]


def is_one_shot(service: Mapping[str, Any]) -> bool:
    return service.get("restart") == "no"


def dependencies(service: Mapping[str, Any]) -> dict[str, Any]:
    raw = service.get("depends_on") or {}
    return dict.fromkeys(raw) if isinstance(raw, list) else dict(raw)


def published_host_ports(service: Mapping[str, Any], env: Mapping[str, str]) -> list[int]:
    ports: list[int] = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.append(int(interpolate(str(entry["published"]), env)))
            continue
        parts = interpolate(str(entry), env).split("/")[0].rsplit(":", 2)
        ports.append(int(parts[-2] if len(parts) > 1 else parts[-1]))
    return ports


def volume_sources(service: Mapping[str, Any]) -> Iterator[str]:
    for entry in service.get("volumes", []):
        yield entry["source"] if isinstance(entry, dict) else str(entry).split(":")[0]


# --- the compose file -----------------------------------------------------------------------


def test_compose_file_matches_the_compose_spec() -> None:
    result = subprocess.run(
        [
            venv_tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_container_of_the_design_is_defined() -> None:
    assert set(services()) >= REQUIRED_SERVICES


def test_every_long_running_service_has_a_healthcheck_or_says_why_not() -> None:
    for name, service in services().items():
        if is_one_shot(service):
            continue
        check = service.get("healthcheck")
        if check is None:
            reason = service.get(NO_HEALTHCHECK_KEY)
            assert isinstance(reason, str), f"{name}: no healthcheck"
            assert reason.strip(), f"{name}: say why there is no healthcheck"
        else:
            assert not check.get("disable"), f"{name}: healthcheck disabled"
            assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: {check['test']}"


def test_every_dependency_waits_on_a_condition_its_target_can_meet() -> None:
    defined = services()
    for name, service in defined.items():
        for target, spec in dependencies(service).items():
            assert target in defined, f"{name} depends on unknown {target}"
            condition = (spec or {}).get("condition")
            assert condition in VALID_CONDITIONS, f"{name} -> {target}: no condition"
            if condition == "service_healthy":
                assert "healthcheck" in defined[target], f"{name} waits on {target}'s health"
            if condition == "service_completed_successfully":
                assert is_one_shot(defined[target]), f"{target} is not a one-shot job"


def test_our_services_wait_for_their_migrations() -> None:
    for image in OUR_IMAGES:
        jobs = [n for n in containers_of(image) if is_one_shot(services()[n])]
        assert len(jobs) == 1, f"{image.name}: one migration job expected, found {jobs}"
        for name in containers_of(image):
            if name not in jobs:
                condition = dependencies(services()[name])[jobs[0]]["condition"]
                assert condition == "service_completed_successfully", name


def test_only_the_gateway_and_grafana_are_public_or_publish_ports() -> None:
    for name, service in services().items():
        networks = set(service.get("networks") or ["default"])
        if name in PUBLIC_SERVICES:
            assert "public" in networks, name
        else:
            assert "public" not in networks, f"{name} must not be on the public network"
            assert not service.get("ports"), f"{name} must not publish ports"
        assert "default" not in networks, f"{name} must choose its networks"


def test_no_service_binds_the_standard_database_ports_on_the_host() -> None:
    env = example_env()
    for name, service in services().items():
        clash = STANDARD_DB_PORTS & set(published_host_ports(service, env))
        assert not clash, f"{name} publishes {clash} on the host"


def test_every_mounted_file_and_build_input_exists() -> None:
    declared = set(load_compose().get("volumes") or {})
    problems: list[str] = []
    for name, service in services().items():
        for source in volume_sources(service):
            if source.startswith("."):
                path = (COMPOSE_DIR / source).resolve()
                if not path.is_relative_to(REPO) or not path.exists():
                    problems.append(f"{name}: {source} is not a path in the repository")
            elif source.startswith("/"):
                if source not in ALLOWED_HOST_MOUNTS:
                    problems.append(f"{name}: mounts the host path {source}")
            elif source not in declared:
                problems.append(f"{name}: volume {source} is not declared")
        build = service.get("build")
        if build and not (COMPOSE_DIR / build["context"] / build["dockerfile"]).is_file():
            problems.append(f"{name}: no Dockerfile at {build}")
    assert problems == []


def test_every_variable_is_documented_in_env_example_and_nothing_else() -> None:
    used = {use.name for use in variable_uses()}
    documented = set(read_env_example())
    assert used - documented == set(), "used by compose, missing from .env.example"
    assert documented - used == set(), "in .env.example, unused by compose"


def test_secrets_are_required_and_ship_without_a_value() -> None:
    uses = variable_uses()
    required = {use.name for use in uses if use.op == ":?"}
    example = read_env_example()
    for name in required:
        assert example[name] == "", f"{name} is a secret: no value in .env.example"
        assert all(u.op == ":?" for u in uses if u.name == name), f"{name} has a default"
    for name, value in example.items():
        if value == "" and name not in required:
            # Optional and unset by default: only ever used with an empty default.
            assert all(u.op == ":-" and u.arg == "" for u in uses if u.name == name), name


def test_every_service_variable_of_the_native_stack_is_set_in_compose() -> None:
    # The native stack's environment is the list of what the services read.
    native = build_service_env(
        StackPorts(), dict.fromkeys(credential_keys(), "x"), StackLayout(root=REPO)
    )
    ours = {
        name: environment_of(services()[name]) for im in OUR_IMAGES for name in containers_of(im)
    }
    for key in native.keys() - TEST_BED_ONLY:
        image = next((im for im in OUR_IMAGES if key.startswith(im.env_prefix)), None)
        if image is None:
            assert any(key in env for env in ours.values()), f"{key} is set in no container"
            continue
        for name in containers_of(image):
            assert key in ours[name], f"{name} lacks {key}"


@pytest.mark.parametrize("image", OUR_IMAGES, ids=lambda image: image.name)
def test_settings_load_from_compose_and_point_at_no_loopback_address(
    image: OurImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a container 127.0.0.1 is the container itself: every URL must be overridden."""
    env = example_env()
    for name in containers_of(image):
        for key in [k for k in os.environ if k.startswith(image.env_prefix)]:
            monkeypatch.delenv(key)
        for key, value in environment_of(services()[name]).items():
            monkeypatch.setenv(key, interpolate(value, env))
        settings = image.settings_class(_env_file=None)
        for field, value in settings.model_dump().items():
            if isinstance(value, str) and "://" in value:
                host = urlsplit(value).hostname
                assert host not in LOOPBACK_HOSTS, f"{name}: {field} points at {host}"


def test_metric_folders_are_fresh_tmpfs_mounts() -> None:
    # Samples from a previous run in PROMETHEUS_MULTIPROC_DIR would be summed in again.
    for name, service in services().items():
        folder = environment_of(service).get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            assert folder in (service.get("tmpfs") or []), f"{name}: {folder} is not a tmpfs"


NOTIFY_IMAGE = next(image for image in OUR_IMAGES if image.name == "notify-svc")
PROMETHEUS_COMPOSE = REPO / "infra" / "prometheus" / "prometheus.compose.yml"


def scraped_hosts() -> set[str]:
    """The containers Prometheus scrapes directly in compose."""
    config = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())
    return {
        target.rsplit(":", 1)[0]
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }


def notify_settings_of(container: str, monkeypatch: pytest.MonkeyPatch) -> BaseSettings:
    for key in [k for k in os.environ if k.startswith(NOTIFY_IMAGE.env_prefix)]:
        monkeypatch.delenv(key)
    for key, value in environment_of(services()[container]).items():
        monkeypatch.setenv(key, interpolate(value, example_env()))
    return NOTIFY_IMAGE.settings_class(_env_file=None)


# The containers that serve metrics from `start_metrics_server` (not gunicorn's /metrics).
METRICS_SERVING_WORKERS = ("celery-worker", "arq-worker")


@pytest.mark.parametrize("container", METRICS_SERVING_WORKERS)
def test_scraped_workers_serve_metrics_on_their_private_address(
    container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Natively the default (loopback) applies; a container must listen beyond its own
    # loopback for Prometheus to reach it over `private`.
    assert container in scraped_hosts()
    settings = notify_settings_of(container, monkeypatch).model_dump()
    assert settings["metrics_address"] == "0.0.0.0"  # noqa: S104


@pytest.mark.parametrize(
    "name", [n for n, s in services().items() if str(s.get("image", "")).startswith("postgres:")]
)
def test_database_logs_hold_no_data_values(name: str) -> None:
    # The same settings as the native stack's PostgreSQL: no DETAIL, no statement after an
    # error, no bound parameters; pg_stat_statements preloaded.
    command = services()[name]["command"]
    assert command[0] == "postgres"
    flags, values = command[1::2], command[2::2]
    assert flags == ["-c"] * len(values)
    options = dict(value.split("=", 1) for value in values)
    assert options == LOG_SETTINGS | STATISTICS_SETTINGS


def test_every_scraped_exporter_and_alertmanager_is_a_private_service() -> None:
    defined = services()
    for name in ("postgres-exporter", "redis-exporter", "nginx-exporter", "alertmanager"):
        assert name in scraped_hosts(), f"Prometheus does not scrape {name}"
        assert defined[name]["networks"] == ["private"], name
        assert "ports" not in defined[name], f"{name} publishes a port"
    # nginx-exporter reads the stub_status listener, which the gateway does not publish.
    nginx_env = environment_of(defined["nginx"])
    assert nginx_env["TASKHUB_GATEWAY_STATUS_LISTEN"] == "8081"
    assert (
        "--nginx.scrape-uri=http://nginx:8081/stub_status" in defined["nginx-exporter"]["command"]
    )


@pytest.mark.parametrize("name", ["auth-db", "task-db", "notify-db"])
def test_each_database_bootstraps_statistics_and_the_monitoring_role(name: str) -> None:
    service = services()[name]
    assert (
        "../infra/postgres/init-monitoring.sh:/docker-entrypoint-initdb.d/10-monitoring.sh:ro"
        in service["volumes"]
    )
    assert "MONITOR_DB_PASSWORD" in environment_of(service)
    host = name.removesuffix("-db") + "-db:5432"
    dsn = environment_of(services()["postgres-exporter"])["DATA_SOURCE_NAME"]
    assert f"@{host}/postgres?" in dsn


def test_alertmanager_script_renders_a_valid_config(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    env = {
        **os.environ,
        "ALERT_WEBHOOK_URL": "https://pager.example/hook?a=1&b=2",
        "ALERTMANAGER_TEMPLATE": str(REPO / "infra/alertmanager/alertmanager.yml.template"),
        "ALERTMANAGER_CONFIG": str(config),
        # `true` stands in for the image's binary; amtool checks the file it would read.
        "ALERTMANAGER_BIN": "true",
    }
    script = REPO / "infra/alertmanager/run-compose.sh"
    subprocess.run(["sh", str(script)], env=env, check=True)
    checked = subprocess.run(
        ["amtool", "check-config", str(config)], capture_output=True, text=True, check=False
    )
    rendered = yaml.safe_load(config.read_text())

    assert checked.returncode == 0, checked.stdout + checked.stderr
    webhook = rendered["receivers"][0]["webhook_configs"][0]
    assert webhook["url"] == "https://pager.example/hook?a=1&b=2"
    assert rendered["route"]["group_wait"] == "30s"


def test_gateway_gets_a_value_for_every_template_placeholder() -> None:
    placeholders = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", GATEWAY_TEMPLATE.read_text()))
    nginx = services()["nginx"]
    env = environment_of(nginx)
    assert placeholders - set(env) == set(), "placeholders without a value"
    allowed = re.compile(env["NGINX_ENVSUBST_FILTER"])
    assert all(allowed.search(name) for name in placeholders), "filtered out by envsubst"
    template_mounts = [v for v in nginx["volumes"] if v.endswith(".template:ro")]
    assert template_mounts == [
        "../gateway/nginx.conf.template:/etc/nginx/templates/nginx.conf.template:ro"
    ]


# --- the Dockerfiles --------------------------------------------------------------------------


def test_compose_builds_each_image_from_the_one_dockerfile_with_its_arguments() -> None:
    for image in OUR_IMAGES:
        for name in containers_of(image):
            build = services()[name].get("build")
            if build is None:
                continue
            assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
            assert build.get("args") == image.build_args, name


def test_no_service_keeps_a_dockerfile_of_its_own() -> None:
    assert sorted(REPO.glob("services/*/Dockerfile")) == []


def test_the_release_workflow_builds_each_image_with_its_arguments() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text())
    matrix = workflow["jobs"]["image"]["strategy"]["matrix"]["include"]
    assert {
        entry["service"]: {
            "SERVICE": entry["service"],
            "PACKAGE": entry["package"],
            "APP": entry["app"],
        }
        for entry in matrix
    } == {image.name: image.build_args for image in OUR_IMAGES}


def test_dockerfile_passes_hadolint() -> None:
    # hadolint reads .hadolint.yaml from the working directory, if the repository has one.
    result = subprocess.run(
        [venv_tool("hadolint"), str(DOCKERFILE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass
class BuilderStage:
    """The builder stage of a Dockerfile: its ENV, its COPYs from the context, its uv syncs."""

    env: dict[str, str]
    copies: list[tuple[list[str], str]]
    uv_syncs: list[list[str]]


def logical_lines(dockerfile: Path) -> list[str]:
    """Instructions with their `\\` continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        if raw.lstrip().startswith("#"):
            continue
        pending += raw.rstrip().removesuffix("\\") + " "
        if not raw.rstrip().endswith("\\"):
            if pending.strip():
                lines.append(pending.strip())
            pending = ""
    return lines


def with_build_args(line: str, build_args: dict[str, str]) -> str:
    """`line` with `${NAME}` and `$NAME` of each build argument replaced, as docker does."""
    for name, value in build_args.items():
        line = re.sub(rf"\$(?:\{{{name}\}}|{name}\b)", value, line)
    return line


def parse_builder_stage(dockerfile: Path, build_args: dict[str, str]) -> BuilderStage:
    stage = BuilderStage(env={}, copies=[], uv_syncs=[])
    inside = False
    for line in logical_lines(dockerfile):
        line = with_build_args(line, build_args)
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            inside = rest.lower().endswith(" as builder")
        elif not inside:
            continue
        elif instruction.upper() == "ENV":
            stage.env.update(item.partition("=")[::2] for item in shlex.split(rest))
        elif instruction.upper() == "COPY" and "--from=" not in rest:
            *sources, target = shlex.split(rest)
            stage.copies.append((sources, target))
        elif instruction.upper() == "RUN":
            for command in rest.split("&&"):
                words = [w for w in shlex.split(command) if not w.startswith("--mount=")]
                if words[:2] == ["uv", "sync"]:
                    stage.uv_syncs.append(words)
    return stage


def replay_copies(stage: BuilderStage, workdir: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
    for sources, target in stage.copies:
        destination = workdir / target
        for source in sources:
            origin = REPO / source
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=ignore, dirs_exist_ok=True)
            elif target.endswith("/"):
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination / origin.name)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)


def executables_run_from(image: OurImage, dockerfile: Path) -> set[str]:
    """First words of the image's CMD and of every compose command and CMD healthcheck on it."""
    cmd = next(line for line in logical_lines(dockerfile) if line.startswith("CMD "))
    found = {yaml.safe_load(cmd.removeprefix("CMD "))[0]}
    for name in containers_of(image):
        service = services()[name]
        command = service.get("command", [])
        if command[:2] == ["sh", "-c"]:
            found.update(part.split()[0] for part in command[2].split("&&"))
        elif command:
            found.add(command[0])
        test = service.get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD"]:
            found.add(test[1])
        elif test[:1] == ["CMD-SHELL"]:
            found.add(test[1].split()[0])
    return found


@pytest.mark.parametrize("image", OUR_IMAGES, ids=lambda image: image.name)
def test_builder_stage_installs_a_runnable_service(image: OurImage, tmp_path: Path) -> None:
    """Replays the image's builder stage with uv: the lock, the copied files and the commands."""
    stage = parse_builder_stage(image.dockerfile, image.build_args)
    assert stage.uv_syncs, "the builder stage runs no `uv sync`"
    workdir, venv = tmp_path / "app", tmp_path / "venv"
    workdir.mkdir()
    replay_copies(stage, workdir)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith("UV_")}
    env |= stage.env | {
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON": sys.executable,
        "UV_COMPILE_BYTECODE": "0",  # the image compiles; the replay needs no bytecode
        "UV_LINK_MODE": "hardlink",  # the image copies (no cache there); here the cache is local
    }
    for words in stage.uv_syncs:
        result = subprocess.run(
            [uv_binary(), *words[1:]], cwd=workdir, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{shlex.join(words)}\n{result.stderr}"
    assert image.package in stage.uv_syncs[-1], "the last sync must install the service"

    scripts = tomllib.loads((REPO / "services" / image.name / "pyproject.toml").read_text())
    for executable in {
        *scripts["project"]["scripts"],
        *executables_run_from(image, image.dockerfile),
    }:
        assert (venv / "bin" / executable).is_file(), f"{executable} is not installed"

    # Imports what the containers run, and finds the migrations where `migrate` looks.
    probe = (
        f"import gunicorn, uvicorn_worker, taskhub_common.gunicorn_conf, {image.module}.main\n"
        "from alembic.config import Config\n"
        "from alembic.script import ScriptDirectory\n"
        f"from {image.module} import cli\n"
        "ScriptDirectory.from_config(Config(str(cli.ALEMBIC_INI))).get_heads()\n"
    )
    run_env = {k: v for k, v in env.items() if not k.startswith(image.env_prefix)}
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        cwd=tmp_path,
        env=run_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


# --- compose/init-env.sh ------------------------------------------------------------------

INIT_ENV = COMPOSE_DIR / "init-env.sh"


# Scripts compose runs in the stock images (their /bin/sh).
MOUNTED_SCRIPTS = (
    REPO / "infra/alertmanager/run-compose.sh",
    REPO / "infra/postgres/init-monitoring.sh",
)


def test_init_env_passes_shellcheck() -> None:
    result = subprocess.run(
        [venv_tool("shellcheck"), str(INIT_ENV), *map(str, MOUNTED_SCRIPTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_init_env_fills_exactly_the_required_secrets(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    subprocess.run(["bash", str(INIT_ENV), str(target)], check=True, capture_output=True)
    written = dict(
        line.split("=", 1)
        for line in target.read_text().splitlines()
        if line and not line.startswith("#")
    )
    required = {use.name for use in variable_uses() if use.op == ":?"}
    for key, value in read_env_example().items():
        if key in required:
            assert re.fullmatch(r"[0-9a-f]{64}", written[key]), key
        else:
            assert written[key] == value, key
    assert target.stat().st_mode & 0o077 == 0, "the file holds secrets: owner only"
    again = subprocess.run(["bash", str(INIT_ENV), str(target)], capture_output=True, check=False)
    assert again.returncode != 0, "an existing .env must never be overwritten"
