"""The native stack: every TaskHub process from OS packages and the venv, under one supervisord.

`NativeStack(root).up()` is idempotent: the first run creates `.stack/` (cluster, roles,
databases, credentials); later runs start what is not running and wait until it is healthy.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from taskhub_stack.configs import UPSTREAM_FAIL_TIMEOUT_SECONDS, StackConfig, render_all
from taskhub_stack.credentials import (
    MONITOR_DB_PASSWORD,
    REDIS_PASSWORD,
    SERVICE_DATABASES,
    TEST_SUFFIX,
    load_or_create_credentials,
    write_env_file,
)
from taskhub_stack.environment import build_service_env
from taskhub_stack.layout import (
    PgLocation,
    StackLayout,
    choose_pg_location,
    find_repo_root,
    nginx_temp_dir,
    nginx_worker_user,
    orphaned_cluster,
    pg_run_as,
)
from taskhub_stack.migrations import SERVICE_MIGRATIONS, needs_migration
from taskhub_stack.ports import StackPorts, env_name, instance_port
from taskhub_stack.postgres import PostgresCluster
from taskhub_stack.prereqs import SystemPrograms, find_system_programs
from taskhub_stack.probes import http_status, port_is_open, redis_answers
from taskhub_stack.programs import (
    INFRA_PROGRAMS,
    explicit_name,
    instance_name,
    instances,
    program,
    replicas_from,
    split_instance,
    stack_programs,
    start_order,
)
from taskhub_stack.supervisor import (
    ACTIVE_STATES,
    FATAL,
    RUNNING,
    STARTING,
    ProcessInfo,
    SupervisorClient,
)

# Programs with no dependency on the databases' schema start without waiting for migrations.
# (postgres-exporter's role exists once `ensure_databases` ran, before any app starts.)
SCHEMA_FREE_PROGRAMS = (
    "nginx",
    "prometheus",
    "postgres-exporter",
    "redis-exporter",
    "nginx-exporter",
    "alertmanager",
)
INFRA_TIMEOUT_SECONDS = 30.0
HEALTH_TIMEOUT_SECONDS = 120.0
DOWN_TIMEOUT_SECONDS = 90.0
POLL_SECONDS = 0.1
# How long a restarted instance needs to be taken back by the gateway (its fail_timeout).
REJOIN_SECONDS = UPSTREAM_FAIL_TIMEOUT_SECONDS + 1.0
LOG_TAIL_LINES = 15


# The API services and their URL prefixes (docs/conventions.md).
SERVICE_PREFIXES = {"auth-svc": "auth", "task-svc": "tasks", "notify-svc": "notify"}


class StackError(RuntimeError):
    """The stack could not be brought to the requested state; the message says why."""


@dataclass
class UpReport:
    seconds: float
    first_run: bool
    notes: list[str] = field(default_factory=list)
    # Program (or "migrate <service>") -> what went wrong, with the tail of its log.
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return f"(no log at {path})"
    with path.open("rb") as file:
        file.seek(0, os.SEEK_END)
        file.seek(max(0, file.tell() - 64 * 1024))
        text = file.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


# The port (a `StackPorts` field) each program listens on (its first instance: see
# `NativeStack.port_of`).
PROGRAM_PORTS = {
    "postgres": "pg",
    "redis": "redis",
    "nginx": "gateway",
    "auth-svc": "auth",
    "task-svc": "tasks",
    "notify-svc": "notify",
    "celery-worker": "celery_metrics",
    "arq-worker": "arq_metrics",
    "prometheus": "prometheus",
    "postgres-exporter": "postgres_exporter",
    "redis-exporter": "redis_exporter",
    "nginx-exporter": "nginx_exporter",
    "alertmanager": "alertmanager",
}


class NativeStack:
    """Controls the native stack of the checkout at `root` (default: the one around cwd)."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        say: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.layout = StackLayout((root or find_repo_root()).resolve())
        self.environ = dict(os.environ if environ is None else environ)
        self.ports = StackPorts.from_env(self.environ)
        try:
            # What `up` renders; a running stack's own count is `running_replicas()`.
            self.replicas = replicas_from(self.environ)
        except ValueError as error:
            raise StackError(str(error)) from error
        self.supervisor = SupervisorClient(self.layout.supervisor_socket)
        self.say = say
        # The venv this code runs in holds uvicorn, celery, arq and the services.
        self.venv_bin = Path(sys.executable).parent

    # --- facts -------------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        return f"http://localhost:{self.ports.gateway}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    def log_path(self, name: str) -> Path:
        program(name)  # rejects unknown names
        return self.layout.log_path(instance_name(*split_instance(name)))

    def env(self, *, test: bool = False) -> dict[str, str]:
        """The service environment of the stack (`test`: the `_test` databases, Redis 10-13)."""
        credentials = load_or_create_credentials(self.layout.credentials_file)
        return build_service_env(self.ports, credentials, self.layout, test=test)

    def is_running(self) -> bool:
        return self.supervisor.is_running()

    def status(self) -> dict[str, ProcessInfo]:
        return self.supervisor.processes() if self.is_running() else {}

    def program_names(self) -> tuple[str, ...]:
        """The running stack's programs (in start order), else those `up` would start."""
        running = self.status()
        if running:
            return tuple(sorted(running, key=start_order))
        return stack_programs(self.replicas)

    def running_replicas(self) -> int:
        """How many instances of each service the running stack has (0: not running)."""
        return sum(1 for name in self.status() if split_instance(name)[0] == "task-svc")

    def port_of(self, name: str) -> int | None:
        """The port program (or instance) `name` listens on, if any."""
        base, number = split_instance(name)
        port_name = PROGRAM_PORTS.get(base)
        if port_name is None:
            return None
        return instance_port(getattr(self.ports, port_name), number)

    def instance_url(self, name: str) -> str:
        """The base URL of one instance of an API service (`task-svc-2`), bypassing the gateway."""
        port = self.port_of(name)
        if split_instance(name)[0] not in SERVICE_PREFIXES or port is None:
            raise StackError(f"{name} is not an instance of an API service")
        return f"http://127.0.0.1:{port}"

    # --- chaos -------------------------------------------------------------------------

    def _instances(self, name: str) -> list[str]:
        """What `name` means here: every instance for a service's plain name."""
        program(name)  # rejects unknown names
        running = list(self.status())
        names = instances(name, running)
        absent = [each for each in names if running and each not in running]
        if absent:
            raise StackError(
                f"this stack has no {name}: it runs {self.running_replicas()} instance(s) of "
                "each service (TASKHUB_REPLICAS at `taskhub-stack up`)"
            )
        return names

    def stop(self, name: str) -> None:
        """Stop `name`: all instances of it at once for a plain name (`task-svc`: the
        service is down), one for an instance name (`task-svc-1`, `task-svc-2`)."""
        names = self._instances(name)
        for each in names:
            self.supervisor.stop(each, wait=False)

        def stopped() -> bool:
            states = self.status()
            return not any(states[n].state in ACTIVE_STATES for n in names if n in states)

        self._wait_until(stopped, DOWN_TIMEOUT_SECONDS, f"{name} to stop")

    def start(self, name: str, *, timeout: float = HEALTH_TIMEOUT_SECONDS) -> None:
        """Start `name` (every instance for a plain name) and return once it RUNS and its
        health endpoints (if any) answer 200."""
        module = program(name).module
        if module and not module_exists(module):
            raise StackError(f"{name} cannot start: module {module} does not exist (yet)")
        names = self._instances(name)
        for each in names:
            self._refuse_held_port(each)
        for each in names:
            self.supervisor.start(each, wait=False)
        checks = self._http_checks(self.program_names())
        urls = [url for url, owner in checks.items() if owner in names]

        def answering() -> bool:
            states = self.status()
            fatal = [n for n in names if n in states and states[n].state == FATAL]
            if fatal:
                failure = self._failure(fatal[0], FATAL)
                raise StackError(f"{', '.join(fatal)} could not start: {failure}")
            running = all(n in states and states[n].state == RUNNING for n in names)
            return running and all(http_status(url) == 200 for url in urls)

        self._wait_until(answering, timeout, f"{name} to answer")

    def _refuse_held_port(self, name: str) -> None:
        """Say so when the port `name` listens on is held while supervisord runs no `name`:
        an orphan (workers of a master killed before they could follow it, another stack)
        would make the start fail with a bind error in a log instead."""
        port = self.port_of(name)
        info = self.status().get(name)
        if port is None or (info is not None and info.state in ACTIVE_STATES):
            return
        if port_is_open(port):
            port_name = PROGRAM_PORTS[split_instance(name)[0]]
            raise StackError(
                f"{name} cannot start: port {port} is still held by another process. "
                f"Find it with `ss -ltnp 'sport = :{port}'` and stop it, or choose another "
                f"port with {env_name(port_name)}."
            )

    def restart(self, name: str) -> None:
        """Restart `name`; a plain name with several instances restarts them one after the
        other, each back and healthy before the next stops (a rolling restart)."""
        names = self._instances(name)
        for number, each in enumerate(names):
            if number:
                # The gateway skips an instance that refused connections for its
                # fail_timeout: the one just restarted must be back in its rotation before
                # the next one stops, or nothing would be left to answer.
                time.sleep(REJOIN_SECONDS)
            self.stop(explicit_name(each))
            self.start(explicit_name(each))

    # --- up ----------------------------------------------------------------------------

    def up(self, *, infra_only: bool = False) -> UpReport:
        started = time.monotonic()
        programs = find_system_programs()
        self.make_dirs()
        new_stack = not self.layout.credentials_file.exists()
        credentials = load_or_create_credentials(self.layout.credentials_file)
        cluster = self._cluster(programs)
        if new_stack and orphaned_cluster(cluster.location, self.layout.stack_dir):
            self.say(f"Removing the cluster an earlier stack left in {cluster.location.data_dir}")
            shutil.rmtree(cluster.location.data_dir)
            shutil.rmtree(cluster.location.socket_dir, ignore_errors=True)
        report = UpReport(seconds=0.0, first_run=not cluster.is_initialised())
        if cluster.location.note:
            report.notes.append(cluster.location.note)
        if not self.is_running():
            self._start_supervisor(programs, cluster, credentials, report)
        elif self.replicas != self.running_replicas() and self.replicas != 1:
            report.notes.append(
                f"the running stack has {self.running_replicas()} instance(s) of each service; "
                f"TASKHUB_REPLICAS={self.replicas} applies after `taskhub-stack down`"
            )
        self._wait_infra(cluster, credentials[REDIS_PASSWORD])
        cluster.ensure_databases(credentials)
        if not infra_only:
            self._start_apps(cluster, report)
        self._wait_healthy(INFRA_PROGRAMS if infra_only else self.program_names(), report)
        report.seconds = time.monotonic() - started
        return report

    def _python_environ(self) -> dict[str, str]:
        """Our environment for the stack's Python programs, with bytecode caching on.

        Importing FastAPI, SQLAlchemy and Celery from source costs each program seconds of
        CPU more than from cached bytecode, so a PYTHONDONTWRITEBYTECODE in the caller's
        environment would make every start slow; the caches go to `.stack/pycache`.
        """
        environ = {k: v for k, v in self.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        return environ | {"PYTHONPYCACHEPREFIX": str(self.layout.pycache_dir)}

    def _pg_location(self) -> PgLocation:
        return choose_pg_location(self.layout.stack_dir, pg_run_as(), environ=self.environ)

    def _cluster(self, programs: SystemPrograms) -> PostgresCluster:
        return PostgresCluster(programs.pg_bindir, self._pg_location(), self.ports.pg, pg_run_as())

    def make_dirs(self) -> None:
        """Every folder of `.stack/` owner-only: passwords, tokens and keys live inside.

        Earlier stacks made some of them 0755, hence the chmod of existing ones. Programs
        that run as another user when the stack is started by root (PostgreSQL, the nginx
        workers) cannot enter `.stack/` then, so layout.py gives them a folder elsewhere.
        """
        for folder in self.layout.private_dirs:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder.chmod(0o700)
        # Logs and run files an earlier stack created world-readable (supervisord's umask
        # makes new ones owner-only).
        for folder in (self.layout.log_dir, self.layout.run_dir):
            for path in folder.iterdir():
                if path.is_file() and not path.is_symlink():
                    path.chmod(0o600)

    def _start_supervisor(
        self,
        programs: SystemPrograms,
        cluster: PostgresCluster,
        credentials: dict[str, str],
        report: UpReport,
    ) -> None:
        self._refuse_busy_ports()
        if report.first_run:
            self.say(f"First run: creating the PostgreSQL cluster in {cluster.location.data_dir}")
            cluster.initdb()
        else:
            cluster.prepare_dirs()
        nginx_user, nginx_group = nginx_worker_user()
        temp_dir = nginx_temp_dir(self.layout.stack_dir, nginx_user)
        temp_dir.mkdir(parents=True, exist_ok=True)
        self.write_configs(
            programs,
            credentials,
            cluster.location,
            pg_user=cluster.run_as,
            nginx_user=f"{nginx_user} {nginx_group}",
            nginx_temp=temp_dir,
        )
        # supervisord opens its own log before its umask applies: create it owner-only.
        supervisor_log = self.layout.log_path("supervisord")
        supervisor_log.touch(mode=0o600)
        supervisor_log.chmod(0o600)
        subprocess.run(
            [str(self.venv_bin / "supervisord"), "-c", str(self.layout.supervisor_conf)],
            check=True,
            env=self._python_environ(),
        )
        self._wait_until(self.supervisor.is_running, INFRA_TIMEOUT_SECONDS, "supervisord to start")

    def write_configs(
        self,
        programs: SystemPrograms,
        credentials: dict[str, str],
        pg: PgLocation,
        *,
        pg_user: str,
        nginx_user: str,
        nginx_temp: Path,
    ) -> StackConfig:
        """Write `.stack/env` and every config the programs read (all owner-only)."""
        config = StackConfig(
            layout=self.layout,
            ports=self.ports,
            programs=programs,
            pg=pg,
            pg_user=pg_user,
            nginx_user=nginx_user,
            nginx_temp_dir=nginx_temp,
            service_env=build_service_env(self.ports, credentials, self.layout),
            redis_password=credentials[REDIS_PASSWORD],
            monitor_db_password=credentials[MONITOR_DB_PASSWORD],
            replicas=self.replicas,
        )
        write_env_file(
            self.layout.env_file, config.service_env, "The native stack's service environment."
        )
        render_all(config, self.venv_bin)
        return config

    def _stack_ports(self) -> list[tuple[str, int]]:
        """Every port the stack listens on, each instance's included."""
        extra = [
            (name, port)
            for name in stack_programs(self.replicas)
            if split_instance(name)[1] > 1 and (port := self.port_of(name)) is not None
        ]
        return [*self.ports.items(), *extra]

    def _refuse_busy_ports(self) -> None:
        busy = [f"{name} {port}" for name, port in self._stack_ports() if port_is_open(port)]
        if busy:
            raise StackError(
                f"ports already in use by another program: {', '.join(busy)}. "
                "Stop it, or choose other ports with TASKHUB_<NAME>_PORT."
            )

    def _wait_infra(self, cluster: PostgresCluster, redis_password: str) -> None:
        deadline = time.monotonic() + INFRA_TIMEOUT_SECONDS
        while not (cluster.is_ready() and redis_answers(self.ports.redis, redis_password)):
            states = {name: info.state for name, info in self.status().items()}
            fatal = [name for name in INFRA_PROGRAMS if states.get(name) == FATAL]
            if fatal or time.monotonic() > deadline:
                details = "\n".join(
                    f"{name}: {self._failure(name, states.get(name, 'missing'))}"
                    for name in fatal or INFRA_PROGRAMS
                )
                raise StackError(f"PostgreSQL and Redis did not come up:\n{details}")
            time.sleep(POLL_SECONDS)

    def _start_apps(self, cluster: PostgresCluster, report: UpReport) -> None:
        states = {name: info.state for name, info in self.status().items()}
        apps = [name for name in self.program_names() if name not in INFRA_PROGRAMS]
        idle = [name for name in apps if states.get(name) not in (RUNNING, STARTING)]
        if not idle:
            return
        for name in idle:
            if name in SCHEMA_FREE_PROGRAMS:
                self.supervisor.start(name, wait=False)
        report.failures |= self.migrate(cluster)
        for name in idle:
            base, number = split_instance(name)
            if base == "celery-worker":
                # Samples of a previous run's processes would be summed into the new ones.
                folder = self.layout.celery_instance_multiproc_dir(number)
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(mode=0o700, parents=True)
        for name in idle:
            if name in SCHEMA_FREE_PROGRAMS:
                continue
            module = program(name).module
            if module and not module_exists(module):
                # It would only crash-loop and eat the CPU the other programs start with.
                report.failures[name] = f"not started: module {module} does not exist (yet)"
                continue
            self.supervisor.start(name, wait=False)

    def migrate(self, cluster: PostgresCluster | None = None) -> dict[str, str]:
        """Upgrade every service database and its `_test` twin that is behind, all at once.

        Returns the failures (label -> exit status and the tail of the output).
        """
        cluster = cluster or self._cluster(find_system_programs())
        if not cluster.is_ready():
            raise StackError("PostgreSQL is not running: start it with `taskhub-stack up`")
        running: dict[str, subprocess.Popen[str]] = {}
        for test in (False, True):
            env = self._python_environ() | self.env(test=test)
            for service in SERVICE_MIGRATIONS:
                database = SERVICE_DATABASES[service.prefix] + (TEST_SUFFIX if test else "")
                applied = cluster.applied_revisions(database)
                if not needs_migration(self.layout.root / service.alembic_ini, applied):
                    continue
                self.say(f"Migrating {database}")
                running[f"migrate {database}"] = subprocess.Popen(
                    [str(self.venv_bin / service.command), "migrate"],
                    env=env,
                    cwd=self.layout.root,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
        failures: dict[str, str] = {}
        for label, process in running.items():
            output, _ = process.communicate()
            if process.returncode != 0:
                last = "\n".join(output.splitlines()[-LOG_TAIL_LINES:])
                failures[label] = f"exit status {process.returncode}:\n{last}"
        return failures

    def _wait_healthy(self, names: tuple[str, ...], report: UpReport) -> None:
        """Wait until every program RUNS and every endpoint answers 200, or a program is FATAL.

        Programs already in `report.failures` (not started) are not waited for.
        """
        names = tuple(name for name in names if name not in report.failures)
        checks = self._http_checks(names)
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        while True:
            states = {name: info.state for name, info in self.status().items()}
            given_up = {name for name in names if states.get(name) == FATAL}
            pending = [
                name for name in names if name not in given_up and states.get(name) != RUNNING
            ]
            # Probing only running programs leaves the CPU to those still starting.
            failing_urls = [
                url
                for url, owner in checks.items()
                if owner not in given_up
                and (states.get(owner) != RUNNING or http_status(url) != 200)
            ]
            if not pending and not failing_urls:
                break
            if time.monotonic() > deadline:
                given_up |= set(pending) | {checks[url] for url in failing_urls}
                break
            time.sleep(POLL_SECONDS)
        for name in sorted(given_up, key=start_order):
            report.failures[name] = self._failure(name, states.get(name, "missing"))

    def _http_checks(self, names: tuple[str, ...]) -> dict[str, str]:
        """Health URL -> the program whose failure explains it."""
        gateway = f"http://127.0.0.1:{self.ports.gateway}"
        checks = {
            f"{gateway}/healthz": "nginx",
            f"{gateway}/auth/healthz": "auth-svc",
            f"{gateway}/tasks/healthz": "task-svc",
            f"{gateway}/notify/healthz": "notify-svc",
            f"{self.prometheus_url}/-/ready": "prometheus",
            f"{self.alertmanager_url}/-/ready": "alertmanager",
            # The exporters' landing pages: cheaper than a scrape, polled as often.
            f"http://127.0.0.1:{self.ports.postgres_exporter}/": "postgres-exporter",
            f"http://127.0.0.1:{self.ports.redis_exporter}/": "redis-exporter",
            f"http://127.0.0.1:{self.ports.nginx_exporter}/": "nginx-exporter",
        }
        # Every instance directly too: through the gateway one answering instance would do.
        for name in names:
            base = split_instance(name)[0]
            if base in SERVICE_PREFIXES:
                checks[f"{self.instance_url(name)}/{SERVICE_PREFIXES[base]}/healthz"] = name
        return {url: owner for url, owner in checks.items() if owner in names}

    def _failure(self, name: str, state: str) -> str:
        log = self.layout.log_path(name)
        body = "\n".join(f"    {line}" for line in tail(log).splitlines())
        return f"{state}; last lines of {log}:\n{body}"

    # --- down --------------------------------------------------------------------------

    def down(self) -> None:
        """Stop every program and supervisord; return once every port of the stack is free."""
        if self.is_running():
            # Wait for the ports of every instance it runs, whatever TASKHUB_REPLICAS says now.
            self.replicas = max(self.replicas, self.running_replicas())
            pid = self.supervisor.pid()
            # supervisord's own shutdown stops one program after the other.
            apps = tuple(name for name in self.status() if name not in INFRA_PROGRAMS)
            self._stop_together(apps, "the services and workers to stop")
            self._stop_together(INFRA_PROGRAMS, "PostgreSQL and Redis to shut down")
            self.supervisor.shutdown()
            self._wait_until(
                lambda: not _process_exists(pid), DOWN_TIMEOUT_SECONDS, "supervisord to exit"
            )
            # PostgreSQL removes its pid file last thing in a clean shutdown.
            pid_file = self._pg_location().data_dir / "postmaster.pid"
            if pid_file.exists():
                raise StackError(f"PostgreSQL did not shut down cleanly: {pid_file} remains")
        self._wait_until(lambda: not self._busy_ports(), 10.0, "the stack's ports to be released")

    def _stop_together(self, names: tuple[str, ...], what: str) -> None:
        """Signal every program in `names` at once, then wait until all have stopped."""
        for name, info in self.status().items():
            if name in names and info.state in ACTIVE_STATES:
                self.supervisor.stop(name, wait=False)

        def stopped() -> bool:
            states = self.status()
            return not any(states[n].state in ACTIVE_STATES for n in names if n in states)

        self._wait_until(stopped, DOWN_TIMEOUT_SECONDS, what)

    def _busy_ports(self) -> list[int]:
        return [port for _name, port in self._stack_ports() if port_is_open(port)]

    def _wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                busy = self._busy_ports()
                extra = f" (ports still open: {busy})" if busy else ""
                raise StackError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
            time.sleep(POLL_SECONDS)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
