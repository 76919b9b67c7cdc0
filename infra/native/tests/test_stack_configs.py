"""The native stack's rendered configs: supervisord (parsed by supervisor itself), Redis, nginx."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest
from supervisor.datatypes import dict_of_key_value_pairs
from supervisor.options import ServerOptions

from taskhub_stack.configs import (
    GATEWAY_TEMPLATE,
    REDIS_TEMPLATE,
    SUPERVISOR_TEMPLATE,
    StackConfig,
    gateway_values,
    redis_values,
    render_supervisor_conf,
)
from taskhub_stack.credentials import credential_keys
from taskhub_stack.environment import build_service_env
from taskhub_stack.layout import PgLocation, StackLayout
from taskhub_stack.ports import StackPorts
from taskhub_stack.postgres import MONITOR_ROLE, server_options
from taskhub_stack.prereqs import PATH_PROGRAMS, SystemPrograms
from taskhub_stack.programs import INFRA_PROGRAMS, PROGRAM_NAMES, stack_programs
from taskhub_stack.render import render_file, write_private
from taskhub_stack.supervisor import supervisor_environment

ROOT = Path(__file__).resolve().parents[3]
# The ports of docs/conventions.md, as nothing overrides them.
DEFAULTS = StackPorts()
CREDENTIALS = {key: f"{key.lower()}-value" for key in credential_keys()}


def stack_config(
    tmp_path: Path, ports: StackPorts | None = None, *, replicas: int = 1
) -> StackConfig:
    layout = StackLayout(tmp_path)
    ports = ports or StackPorts()
    bins = {name: Path(f"/opt/bin/{name}") for name in PATH_PROGRAMS}
    return StackConfig(
        layout=layout,
        ports=ports,
        programs=SystemPrograms({**bins, "postgres": Path("/opt/pg/bin/postgres")}),
        pg=PgLocation(tmp_path / "pgdata", tmp_path / "pgsock"),
        pg_user="postgres",
        nginx_user="nobody nogroup",
        nginx_temp_dir=tmp_path / "nginx-temp",
        service_env=build_service_env(ports, CREDENTIALS, layout),
        redis_password=CREDENTIALS["REDIS_PASSWORD"],
        monitor_db_password=CREDENTIALS["MONITOR_DB_PASSWORD"],
        replicas=replicas,
    )


def render_supervisor(tmp_path: Path, config: StackConfig) -> ServerOptions:
    # supervisord checks that the folders of its log and pid files exist.
    config.layout.log_dir.mkdir(parents=True)
    config.layout.run_dir.mkdir(parents=True)
    target = tmp_path / "supervisord.conf"
    template = (ROOT / SUPERVISOR_TEMPLATE).read_text()
    write_private(target, render_supervisor_conf(template, config, Path("/venv/bin")))
    options = ServerOptions()
    options.configfile = str(target)
    options.process_config(do_usage=False)
    return options


def test_supervisord_runs_every_program_with_the_conventions_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    options = render_supervisor(tmp_path, stack_config(tmp_path, StackPorts(auth=18101)))
    programs = {group.name: group.process_configs[0] for group in options.process_group_configs}

    assert sorted(programs) == sorted(PROGRAM_NAMES)
    # The services run as in their images: gunicorn, the shared config, WEB_CONCURRENCY.
    assert programs["auth-svc"].command == (
        "/venv/bin/gunicorn auth_svc.main:app --config python:taskhub_common.gunicorn_conf"
    )
    assert programs["auth-svc"].environment["GUNICORN_BIND"] == "127.0.0.1:18101"
    assert programs["auth-svc"].environment["WEB_CONCURRENCY"] == "2"
    assert programs["auth-svc"].stopwaitsecs > 20  # gunicorn's graceful_timeout
    assert programs["celery-worker"].command == (
        "/venv/bin/celery -A notify_svc.worker.celery_app:app --quiet worker"
        " --loglevel INFO --concurrency 2 --hostname celery@%h"
    )
    assert programs["arq-worker"].command == (
        "/venv/bin/arq notify_svc.worker.arq_worker.WorkerSettings"
        " --custom-log-dict notify_svc.worker.arq_worker.LOG_CONFIG"
    )
    assert programs["postgres"].command == (
        f"/opt/pg/bin/postgres -D {tmp_path}/pgdata -p {DEFAULTS.pg} -k {tmp_path}/pgsock "
        + server_options()
    )
    assert programs["postgres"].uid is not None  # runs as `postgres`, not as root
    assert programs["nginx"].command.endswith(
        f'-c {tmp_path}/.stack/run/nginx.conf -g "daemon off;"'
    )
    # Only the infrastructure starts with supervisord; `up` starts the rest after migrating.
    assert sorted(n for n, p in programs.items() if p.autostart) == sorted(INFRA_PROGRAMS)
    for name, program in programs.items():
        assert program.stdout_logfile == f"{tmp_path}/.stack/logs/{name}.log"


def test_exporters_and_alertmanager_listen_on_loopback_with_secrets_out_of_argv(
    tmp_path: Path,
) -> None:
    ports = StackPorts(
        postgres_exporter=19187, redis_exporter=19121, nginx_exporter=19113, alertmanager=19093
    )
    config = stack_config(tmp_path, ports)
    options = render_supervisor(tmp_path, config)
    programs = {group.name: group.process_configs[0] for group in options.process_group_configs}

    listens = {
        "postgres-exporter": "--web.listen-address=127.0.0.1:19187",
        "redis-exporter": "-web.listen-address=127.0.0.1:19121",
        "nginx-exporter": "-web.listen-address=127.0.0.1:19113",
        "alertmanager": "--web.listen-address=127.0.0.1:19093",
    }
    for name, listen in listens.items():
        assert listen in programs[name].command.split(), name
        # `ps` shows command lines: no password in any of them.
        for secret in CREDENTIALS.values():
            assert secret not in programs[name].command, name
    assert "--cluster.listen-address=" in programs["alertmanager"].command.split()
    assert programs["nginx-exporter"].command.endswith(
        f"-nginx.scrape-uri=http://127.0.0.1:{ports.gateway_status}/stub_status"
        " -nginx.retries=30 -nginx.retry-interval=1s"
    )
    dsn = programs["postgres-exporter"].environment["DATA_SOURCE_NAME"]
    assert dsn.startswith(f"postgresql://{MONITOR_ROLE}:{CREDENTIALS['MONITOR_DB_PASSWORD']}@")
    assert programs["redis-exporter"].environment["REDIS_PASSWORD"] == CREDENTIALS["REDIS_PASSWORD"]
    assert "-check-single-keys=db2=celery,db2=webhooks,db3=arq:queue" in (
        programs["redis-exporter"].command.split()
    )


def test_every_program_gets_the_service_environment(tmp_path: Path) -> None:
    config = stack_config(tmp_path)
    options = render_supervisor(tmp_path, config)
    programs = {group.name: group.process_configs[0] for group in options.process_group_configs}

    for name, program in programs.items():
        for key, value in config.service_env.items():
            assert program.environment[key] == value, (name, key)
        assert program.environment["PATH"].startswith("/venv/bin:")
    # Each multi-process program pools its samples in a folder of its own.
    assert programs["celery-worker"].environment["PROMETHEUS_MULTIPROC_DIR"] == str(
        config.layout.celery_multiproc_dir
    )
    folders = {
        programs[name].environment["PROMETHEUS_MULTIPROC_DIR"]
        for name in ("auth-svc", "task-svc", "notify-svc", "celery-worker")
    }
    assert len(folders) == 4
    assert "PROMETHEUS_MULTIPROC_DIR" not in config.service_env


def test_supervisor_environment_round_trips_awkward_values() -> None:
    env = {"A": "x,y", "B": "100%", "C": '["http://localhost"]', "D": "", "E": "a b=c"}
    text = supervisor_environment(env)
    # supervisord expands %(...)s first, which turns %% back into %.
    assert dict_of_key_value_pairs(text.replace("%%", "%")) == env


@pytest.mark.parametrize("value", ['it\'s "both"', "line\nbreak", '"quoted"'])
def test_supervisor_environment_refuses_what_it_cannot_carry(value: str) -> None:
    with pytest.raises(ValueError, match="X"):
        supervisor_environment({"X": value})


def test_redis_listens_on_loopback_and_keeps_an_append_only_file(tmp_path: Path) -> None:
    layout = StackLayout(tmp_path)
    values = redis_values(layout, StackPorts(redis=6400), "redis-pw")
    target = render_file(ROOT / REDIS_TEMPLATE, tmp_path / "redis.conf", values)
    directives = dict(
        line.split(" ", 1) for line in target.read_text().splitlines() if line and line[0] != "#"
    )
    assert directives["bind"] == "127.0.0.1"
    assert directives["port"] == "6400"
    assert directives["appendonly"] == "yes"
    assert directives["dir"] == str(layout.redis_dir)
    assert directives["daemonize"] == "no"
    assert directives["requirepass"] == "redis-pw"
    result = subprocess.run(["redis-server", "--version"], capture_output=True, check=False)
    assert result.returncode == 0


def test_gateway_template_renders_into_a_config_nginx_accepts(tmp_path: Path) -> None:
    config = stack_config(tmp_path, StackPorts(gateway=18080))
    config.nginx_temp_dir.mkdir(parents=True)
    config.layout.log_dir.mkdir(parents=True)
    target = render_file(
        ROOT / GATEWAY_TEMPLATE, config.layout.run_dir / "nginx.conf", gateway_values(config)
    )
    text = target.read_text()
    assert "listen 127.0.0.1:18080 default_server;" in text
    assert f"server 127.0.0.1:{DEFAULTS.auth} max_fails=3 fail_timeout=3s;" in text
    assert not re.search(r"\$\{[A-Z]", text)
    check = subprocess.run(
        [
            "nginx",
            "-t",
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "nginx-t.log"),
            "-c",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_template_program_sections_match_the_program_table() -> None:
    parser = configparser.RawConfigParser()
    parser.read(ROOT / SUPERVISOR_TEMPLATE)
    sections = [
        s.removeprefix("program:").removesuffix("${INSTANCE_SUFFIX}")
        for s in parser.sections()
        if s.startswith("program:")
    ]
    assert sections == list(PROGRAM_NAMES)


def test_two_replicas_run_two_of_each_service_and_worker_and_one_beat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    config = stack_config(tmp_path, replicas=2)
    options = render_supervisor(tmp_path, config)
    programs = {group.name: group.process_configs[0] for group in options.process_group_configs}

    assert sorted(programs) == sorted(stack_programs(2))
    assert [name for name in programs if name.startswith("celery-beat")] == ["celery-beat"]
    # Each instance of a service: its own gunicorn master, port and metrics folder.
    for name, port, metrics in (
        ("auth-svc", 8101, "prom-auth-svc"),
        ("auth-svc-2", 8111, "prom-auth-svc-2"),
        ("task-svc", 8102, "prom-task-svc"),
        ("task-svc-2", 8112, "prom-task-svc-2"),
        ("notify-svc-2", 8113, "prom-notify-svc-2"),
    ):
        environment = programs[name].environment
        assert environment["GUNICORN_BIND"] == f"127.0.0.1:{port}", name
        assert environment["PROMETHEUS_MULTIPROC_DIR"] == str(config.layout.run_dir / metrics)
        assert programs[name].stdout_logfile == str(config.layout.log_path(name))
    # Each Celery worker: a distinct node name, metrics folder and port.
    assert programs["celery-worker-2"].command.endswith("--hostname celery-2@%h")
    assert programs["celery-webhooks-2"].command.endswith("--hostname webhooks-2@%h")
    worker_2 = programs["celery-worker-2"].environment
    assert worker_2["NOTIFY_CELERY_METRICS_PORT"] == "9111"
    assert worker_2["PROMETHEUS_MULTIPROC_DIR"] == str(config.layout.run_dir / "prom-celery-2")
    webhooks_2 = programs["celery-webhooks-2"].environment
    assert webhooks_2["PROMETHEUS_MULTIPROC_DIR"] == worker_2["PROMETHEUS_MULTIPROC_DIR"]
    assert programs["arq-worker-2"].environment["NOTIFY_ARQ_METRICS_PORT"] == "9112"
    assert programs["arq-worker"].environment["NOTIFY_ARQ_METRICS_PORT"] == str(
        DEFAULTS.arq_metrics
    )
    # Instance 2 calls instance 2 of its peers; instance 1 keeps the stack's environment.
    assert programs["task-svc-2"].environment["TASKS_NOTIFY_URL"] == "http://127.0.0.1:8113"
    assert programs["task-svc-2"].environment["TASKS_AUTH_URL"] == "http://127.0.0.1:8111"
    for name in ("notify-svc-2", "celery-worker-2", "celery-webhooks-2", "arq-worker-2"):
        environment = programs[name].environment
        assert environment["NOTIFY_AUTH_URL"] == "http://127.0.0.1:8111", name
        assert environment["NOTIFY_JWKS_URL"].startswith("http://127.0.0.1:8111/auth/"), name
    assert (
        programs["task-svc"].environment["TASKS_NOTIFY_URL"]
        == f"http://127.0.0.1:{DEFAULTS.notify}"
    )


def test_the_gateway_balances_over_every_instance(tmp_path: Path) -> None:
    config = stack_config(tmp_path, StackPorts(gateway=18080), replicas=3)
    config.nginx_temp_dir.mkdir(parents=True)
    config.layout.log_dir.mkdir(parents=True)
    target = render_file(
        ROOT / GATEWAY_TEMPLATE, config.layout.run_dir / "nginx.conf", gateway_values(config)
    )
    text = target.read_text()
    tasks = re.search(r"upstream tasks \{(.*?)\}", text, re.S)
    assert tasks is not None
    servers = re.findall(r"server (\S+) max_fails=3 fail_timeout=3s;", tasks.group(1))
    assert servers == [f"127.0.0.1:{DEFAULTS.tasks}", "127.0.0.1:8112", "127.0.0.1:8122"]
    assert "keepalive 16;" in tasks.group(1)
    check = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-e", str(tmp_path / "t.log"), "-c", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_cli_module_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "taskhub_stack", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for command in ("up", "down", "status", "logs", "stop", "start", "restart", "env"):
        assert command in result.stdout
