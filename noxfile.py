"""TaskHub's task runner: start/stop the native stack, lint, type-check, test, e2e, benchmarks.

Run every session through uv so the locked workspace venv is used: `uv run nox -s NAME`.
Sessions do not build venvs of their own (`venv_backend="none"`): the one venv that `uv`
syncs from `uv.lock` is the only environment, locally and in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nox
from nox.command import CommandFailed

from taskhub_stack.ports import StackPorts

ROOT = Path(__file__).resolve().parent
REPORTS = ROOT / "reports"

nox.options.default_venv_backend = "none"
nox.options.sessions = ["lint", "helm", "typecheck", "tests", "e2e"]
nox.options.error_on_external_run = False

# Each service's package, tests and the coverage it must keep.
SERVICE_TESTS = {
    "common": ("taskhub_common", "services/common/tests"),
    "auth-svc": ("auth_svc", "services/auth-svc/tests"),
    "task-svc": ("task_svc", "services/task-svc/tests"),
    "notify-svc": ("notify_svc", "services/notify-svc/tests"),
    "client": ("taskhub_client", "services/client/tests"),
}
COVERAGE_FLOOR = 90
# Tests of the repository's own tooling and configs (gateway, compose, infra, the native
# stack's tools, e2e library).
TOOLING_TESTS = ["gateway/tests", "compose/tests", "infra/tests", "infra/native/tests", "e2e/tests"]
TYPED_PATHS = [
    "services/client/src",
    "services/common/src",
    "services/auth-svc/src",
    "services/task-svc/src",
    "services/notify-svc/src",
    "services/template-svc/src",
    "e2e/src",
    "infra/native/src",
    "noxfile.py",
]
# The Helm chart's offline checks (`helm` session; helm and kubectl come from a pinned wheel).
HELM_TESTS = "infra/helm/tests"
# The gateway's merged OpenAPI document and the client generated from it (`client` session).
GATEWAY_PUBLIC = "gateway/public"
CLIENT_CONFIG = "services/client/openapi-python-client.yaml"
GENERATED_CLIENT = ROOT / "services/client/src/taskhub_client/generated"


def _generate_client(session: nox.Session, output: Path) -> None:
    """The pinned generator's client of the gateway's document, into `output`."""
    session.run(
        "openapi-python-client",
        "generate",
        "--path",
        str(ROOT / GATEWAY_PUBLIC / "openapi.json"),
        "--config",
        str(ROOT / CLIENT_CONFIG),
        "--meta",
        "none",
        "--output-path",
        str(output),
        "--overwrite",
    )


def _stack(session: nox.Session, *args: str, env: dict[str, str] | None = None) -> None:
    session.run("taskhub-stack", *args, env=env)


def _stack_env(*args: str) -> dict[str, str]:
    """The environment the native stack gives its processes (`--test`: the test databases)."""
    output = subprocess.run(
        ["taskhub-stack", "env", *args], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    pairs = (line.split("=", 1) for line in output.splitlines() if "=" in line)
    return {key.strip(): value for key, value in pairs}


def _stack_is_running() -> bool:
    """Every program of the native stack is up (`status` exits 0 only then)."""
    result = subprocess.run(
        ["taskhub-stack", "status"], cwd=ROOT, check=False, stdout=subprocess.DEVNULL
    )
    return result.returncode == 0


@nox.session
def up(session: nox.Session) -> None:
    """Start the whole native stack (PostgreSQL, Redis, Nginx, services, workers, Prometheus)."""
    _stack(session, "up", *session.posargs)


@nox.session
def down(session: nox.Session) -> None:
    """Stop every process of the native stack; data stays in .stack/."""
    _stack(session, "down")


@nox.session
def status(session: nox.Session) -> None:
    """Show the native stack's processes."""
    _stack(session, "status")


@nox.session
def logs(session: nox.Session) -> None:
    """Follow the native stack's logs (`-- NAME` for one process)."""
    _stack(session, "logs", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, format check, gateway (gixy), Dockerfiles, shell scripts, workflows, compose;
    then the `helm` session."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # The committed API description and client are what the code and the generator make.
    session.run("python", "-m", "taskhub_common.openapi", "--check", "--output", GATEWAY_PUBLIC)
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "generated"
        _generate_client(session, fresh)
        session.run("diff", "-r", "-x", "__pycache__", str(fresh), str(GENERATED_CLIENT))
    # gixy on the gateway config as compose and the native stack render it.
    session.run("pytest", "gateway/tests", "-q", "-k", "gixy", "-p", "no:cacheprovider")
    session.run("hadolint", "services/Dockerfile")
    scripts = [".ci/run", *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("**/*.sh"))]
    session.run("shellcheck", *[s for s in scripts if ".venv" not in s and ".nox" not in s])
    workflows = sorted(str(p) for p in ROOT.glob(".github/workflows/*.yml"))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    session.run(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.compose-spec",
        "compose/docker-compose.yml",
    )
    # The Helm chart's checks follow (CI's lint job runs them too).
    session.notify("helm")


@nox.session
def client(session: nox.Session) -> None:
    """Rebuild gateway/public (the merged OpenAPI document) and regenerate the client from it."""
    session.run("python", "-m", "taskhub_common.openapi", "--output", GATEWAY_PUBLIC)
    _generate_client(session, GENERATED_CLIENT)


@nox.session
def helm(session: nox.Session) -> None:
    """The Helm chart, offline: `helm lint` and `helm template` of the defaults, values-dev and
    values-prod, every object against the Kubernetes schemas of the oldest and newest
    supported version, and the policy tests per workload (infra/helm/tests)."""
    session.run("pytest", HELM_TESTS, "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package and its tests."""
    session.run("mypy", *TYPED_PATHS)
    for _, tests in SERVICE_TESTS.values():
        session.run("mypy", tests)
    session.run("mypy", *TOOLING_TESTS, "e2e/scenarios")
    session.run("mypy", HELM_TESTS)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit + integration tests per service on the real PostgreSQL and Redis, with coverage."""
    REPORTS.mkdir(exist_ok=True)
    _stack(session, "up", "--infra-only")
    env = _stack_env("--test")
    selected = session.posargs or list(SERVICE_TESTS)
    for name in selected:
        if name not in SERVICE_TESTS:
            continue
        package, path = SERVICE_TESTS[name]
        session.log(f"== {name}")
        session.run(
            "pytest",
            path,
            f"--cov={package}",
            "--cov-report=term-missing:skip-covered",
            f"--cov-report=xml:{REPORTS / f'coverage-{name}.xml'}",
            f"--cov-fail-under={COVERAGE_FLOOR}",
            f"--junitxml={REPORTS / f'junit-{name}.xml'}",
            "-q",
            env=env,
        )
    if not session.posargs or "tooling" in session.posargs:
        session.log("== tooling (gateway, compose, infra, the native stack's tools, e2e library)")
        session.run("pytest", *TOOLING_TESTS, "-q", f"--junitxml={REPORTS / 'junit-tooling.xml'}")


# An hour of the alert rules' windows lasts 10 s on the stack `nox -s e2e` starts
# (stack/alerting.py: none shorter than 15 s).
E2E_ALERT_TIME_SCALE = "360"


def _e2e_stack_env(replicas: int) -> dict[str, str]:
    """The native stack of an e2e pass: `replicas` instances, alert windows of seconds (for
    the alert scenario, docs/observability.md)."""
    scale = os.environ.get("TASKHUB_ALERT_TIME_SCALE") or E2E_ALERT_TIME_SCALE
    return {"TASKHUB_REPLICAS": str(replicas), "TASKHUB_ALERT_TIME_SCALE": scale}


def _is_native_gateway(base_url: str) -> bool:
    """`base_url` is the native stack's gateway on loopback (its port moved or not)."""
    return StackPorts.from_env().is_gateway(base_url)


def _split_e2e_args(posargs: list[str]) -> tuple[bool, list[str]]:
    """(`--keep-stack` given, the arguments for pytest)."""
    keep = "--keep-stack" in posargs
    return keep, [arg for arg in posargs if arg != "--keep-stack"]


@nox.session
def e2e(session: nox.Session) -> None:
    """The Gherkin suite through the gateway.

    Without `--base-url` it targets the native stack, starting it when it is not running and
    stopping it afterwards (unless `--keep-stack`). With `--base-url URL` (or
    TASKHUB_BASE_URL) it runs against that deployment and touches nothing else; a
    TASKHUB_BASE_URL that is this checkout's gateway (TASKHUB_GATEWAY_PORT) is the native
    stack.
    """
    keep_stack, pytest_args = _split_e2e_args(list(session.posargs))
    base_url = os.environ.get("TASKHUB_BASE_URL", "")
    external = any(a.startswith("--base-url") for a in pytest_args) or bool(
        base_url and not _is_native_gateway(base_url)
    )
    passes = _e2e_passes(pytest_args)
    started_here = False
    replicas = passes[0][2]
    if not external and not _stack_is_running():
        # What runs of it (the infrastructure `nox -s tests` leaves up) was configured
        # without this session's settings: start it afresh with them.
        _stack(session, "down")
        _stack(session, "up", env=_e2e_stack_env(replicas))
        started_here = True
    REPORTS.mkdir(exist_ok=True)
    began = time.monotonic()
    try:
        for label, args, wanted in passes:
            if wanted != replicas and started_here:
                # A stack this session started is its own to change; another one is used
                # as it is (its @scale scenarios skip when it runs one instance).
                session.log(f"== the native stack again, with TASKHUB_REPLICAS={wanted}")
                _stack(session, "down")
                _stack(session, "up", env=_e2e_stack_env(wanted))
                replicas = wanted
            session.log(f"== e2e: {label}")
            session.run("pytest", "e2e/scenarios", *args)
        if not external and not pytest_args:
            session.log("== every PromQL expression of the dashboards and rules, live")
            session.run(
                "pytest",
                "infra/tests/test_promql.py",
                "-q",
                f"--junitxml={REPORTS / 'promql-junit.xml'}",
            )
    finally:
        session.log(f"e2e suite took {time.monotonic() - began:.1f} s")
        if started_here and not keep_stack:
            _stack(session, "down")


# The parallel pass runs against this many instances of every service and worker, so the
# whole suite also proves that they behave as one (docs/scaling.md).
E2E_PARALLEL_REPLICAS = 2


def _e2e_passes(pytest_args: list[str]) -> list[tuple[str, list[str], int]]:
    """(label, pytest arguments, TASKHUB_REPLICAS of the native stack) of each run.

    The given arguments as one run (TASKHUB_REPLICAS as exported, default 1). By default
    every scenario serially against one instance (chaos included), then all but chaos in
    parallel against two, then, serially against two, the @scale scenarios that restart
    instances.
    """
    reports = [
        f"--junitxml={REPORTS / 'e2e-junit.xml'}",
        f"--cucumberjson={REPORTS / 'cucumber.json'}",
    ]
    if pytest_args:
        return [
            ("as asked", [*reports, *pytest_args], int(os.environ.get("TASKHUB_REPLICAS") or 1))
        ]
    return [
        ("serial, every scenario, one instance of each service", reports, 1),
        (
            f"parallel (-n auto), all but chaos, {E2E_PARALLEL_REPLICAS} instances",
            [
                "-n",
                "auto",
                "-m",
                "not chaos",
                f"--junitxml={REPORTS / 'e2e-parallel-junit.xml'}",
                f"--reports-dir={REPORTS / 'parallel'}",
            ],
            E2E_PARALLEL_REPLICAS,
        ),
        (
            f"serial, @scale scenarios that restart instances, {E2E_PARALLEL_REPLICAS} instances",
            [
                "-m",
                "scale and chaos",
                f"--junitxml={REPORTS / 'e2e-scale-junit.xml'}",
                f"--reports-dir={REPORTS / 'scale'}",
            ],
            E2E_PARALLEL_REPLICAS,
        ),
    ]


@nox.session
def load(session: nox.Session) -> None:
    """A realistic mix through the gateway with k6; prints RPS, p50/p95/p99 and errors.

    `-- --rate 20 --duration 60s` changes the load; TASKHUB_BASE_URL targets another stack.
    """
    if not os.environ.get("TASKHUB_BASE_URL") and not _stack_is_running():
        _stack(session, "up")
    session.run(
        sys.executable,
        "-m",
        "taskhub_stack.load",
        *(session.posargs or ["--rate", "10", "--duration", "30s"]),
    )


@nox.session
def fuzz(session: nox.Session) -> None:
    """Schemathesis against each service's OpenAPI through the gateway (all checks, with
    authentication), then targeted edge cases for every field by type: zero 5xx and zero
    schema violations is the bar (`-- --edges-only` / `-- --no-edges` for one phase)."""
    started_here = not _stack_is_running()
    if started_here:
        _stack(session, "up")
    REPORTS.mkdir(exist_ok=True)
    try:
        session.run("taskhub-fuzz", "--reports-dir", str(REPORTS), *session.posargs)
    finally:
        if started_here:
            _stack(session, "down")


@nox.session
def backup(session: nox.Session) -> None:
    """pg_dump every service database (custom format, timestamped) into backups/."""
    session.run("taskhub-backup", *session.posargs)


@nox.session
def restore(session: nox.Session) -> None:
    """Restore one database from a dump: `nox -s restore -- FILE [--database-url URL]`."""
    if not session.posargs:
        session.error("usage: nox -s restore -- FILE [--database-url URL]")
    session.run("taskhub-restore", *session.posargs)


@nox.session
def check(session: nox.Session) -> None:
    """Everything CI runs: lint, the Helm chart, typecheck, tests, e2e (serially, then in
    parallel)."""
    session.notify("lint")
    session.notify("helm")
    session.notify("typecheck")
    session.notify("tests")
    session.notify("e2e")


# The benchmarks drive more traffic from one address than the default limits allow, and
# seed 1000 tasks through the API: the stack runs with these raised while they run.
BENCH_STACK_ENV = {
    "TASKS_CREATE_RATE_LIMIT": "1000000/minute",
    "TASKHUB_GATEWAY_RATE_LIMIT": "100000r/s",
    "TASKHUB_GATEWAY_RATE_BURST": "100000",
    "TASKHUB_GATEWAY_CONN_LIMIT": "4096",
}
BENCHMARKS = {
    "login (auth-svc)": ["services/auth-svc/benchmarks/bench_login.py"],
    "task list (task-svc)": [
        "services/task-svc/benchmarks/bench_list.py",
        "--register",
        "--email",
        f"bench-{os.getpid()}@example.com",
        "--password",
        "bench-password-123",
    ],
    "done to notification (notify-svc)": ["services/notify-svc/benchmarks/bench_done_to_ok.py"],
    "pipeline: 500 tasks done in five bulk calls": [
        "services/notify-svc/benchmarks/bench_done_to_ok.py",
        "--tasks",
        "500",
        "--bulk-calls",
        "5",
    ],
    "pipeline: the same with notify-svc restarted midway": [
        "services/notify-svc/benchmarks/bench_done_to_ok.py",
        "--tasks",
        "500",
        "--bulk-calls",
        "5",
        "--restart-notify",
    ],
    "mix: many users list, read and change": [
        "services/task-svc/benchmarks/bench_mix.py",
        "--rounds",
        "3",
    ],
    "status: one user changes statuses": [
        "services/task-svc/benchmarks/bench_mix.py",
        "--rounds",
        "3",
        "--write-share",
        "1",
        "--users",
        "1",
        "--connections",
        "16",
    ],
}


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks through the gateway of the native stack; prints figures, asserts nothing.

    Restarts the native stack with raised limits (BENCH_STACK_ENV) and stops it afterwards.
    `-- NAME...` runs only the benchmarks whose name contains one of the words. A benchmark
    that fails (a missed target exits 1) does not stop the others: the session names them
    all at the end, and fails.
    """
    if _stack_is_running():
        _stack(session, "down")
    session.run("taskhub-stack", "up", env=BENCH_STACK_ENV)
    # The stack's own gateway port: a checkout may run its stack on other ports.
    base_url = StackPorts.from_env().url("gateway")
    failed: list[str] = []
    try:
        for name, (script, *args) in BENCHMARKS.items():
            if session.posargs and not any(word in name for word in session.posargs):
                continue
            session.log(f"== {name}")
            try:
                session.run(sys.executable, script, "--base-url", base_url, *args)
            except CommandFailed:
                failed.append(name)
    finally:
        _stack(session, "down")
    if failed:
        session.error(f"failed or missed their targets: {'; '.join(failed)}")


@nox.session
def clean(session: nox.Session) -> None:
    """Stop the stack and delete its data (.stack/) and reports."""
    if _stack_is_running():
        _stack(session, "down")
    for path in (ROOT / ".stack", REPORTS):
        shutil.rmtree(path, ignore_errors=True)
