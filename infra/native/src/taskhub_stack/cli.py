"""`taskhub-stack`: start, stop and inspect the native stack (see `taskhub-stack --help`)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import xmlrpc.client
from collections.abc import Sequence

from taskhub_stack import prometheus
from taskhub_stack.layout import find_repo_root
from taskhub_stack.native import NativeStack, StackError, UpReport, tail
from taskhub_stack.ports import StackPorts
from taskhub_stack.postgres import PostgresError
from taskhub_stack.prereqs import MissingSystemPrograms
from taskhub_stack.programs import PROGRAM_NAMES, program, start_order
from taskhub_stack.render import MissingTemplateValue
from taskhub_stack.supervisor import RUNNING, SupervisorUnavailable

# `status` exit codes: 3 is what LSB init scripts answer for "not running".
EXIT_NOT_RUNNING = 3


PROGRAMS_HELP = (
    f"one of {', '.join(PROGRAM_NAMES)}, or an instance such as task-svc-2 (TASKHUB_REPLICAS)"
)


def program_name(name: str) -> str:
    """argparse's check of a program or instance name."""
    try:
        program(name)
    except KeyError as error:
        raise argparse.ArgumentTypeError(str(error.args[0])) from error
    return name


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="taskhub-stack",
        description="Run TaskHub natively: PostgreSQL, Redis, nginx, the services, the workers, "
        "Prometheus, Alertmanager and the exporters under one supervisord, with state in "
        ".stack/.",
    )
    commands = cli.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the stack (idempotent) and wait until healthy")
    up.add_argument("--infra-only", action="store_true", help="only PostgreSQL and Redis")
    commands.add_parser("down", help="stop every program and supervisord")
    commands.add_parser(
        "migrate", help="apply pending migrations to the service databases and the _test ones"
    )
    commands.add_parser("status", help="the state of every program")
    logs = commands.add_parser("logs", help="the tail of one program's log, or of all")
    logs.add_argument("program", nargs="?", type=program_name, help=PROGRAMS_HELP)
    logs.add_argument("-n", "--lines", type=int, default=30)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    for verb in ("stop", "start", "restart"):
        command = commands.add_parser(
            verb,
            help=f"{verb} one program (chaos scenarios): a service's name means every "
            "instance of it (`restart` one after the other), `task-svc-2` one instance",
        )
        command.add_argument("program", type=program_name, help=PROGRAMS_HELP)
    env = commands.add_parser(
        "env", help='the service environment as KEY=VALUE lines (`eval "$(taskhub-stack env)"`)'
    )
    env.add_argument(
        "--test", action="store_true", help="for the test session: _test databases, Redis 10-13"
    )
    url = commands.add_parser(
        "url",
        help="the URL of a native port (`taskhub-stack url gateway`), moved ports included",
    )
    url.add_argument("name", choices=StackPorts().names(), help="a port of docs/conventions.md")
    port = commands.add_parser(
        "port", help="the number of a native port (`psql -p $(taskhub-stack port pg)`)"
    )
    port.add_argument("name", choices=StackPorts().names(), help="a port of docs/conventions.md")
    compose = commands.add_parser(
        "prometheus-compose", help=f"regenerate {prometheus.COMPOSE_FILE} from its template"
    )
    compose.add_argument(
        "--check", action="store_true", help="only fail if the committed file is stale"
    )
    return cli


def print_up_report(stack: NativeStack, report: UpReport, *, infra_only: bool) -> None:
    for note in report.notes:
        print(f"note: {note}")
    what = "PostgreSQL and Redis" if infra_only else "TaskHub"
    first = " (first run)" if report.first_run else ""
    outcome = "up" if report.ok else "up WITH FAILURES"
    replicas = stack.running_replicas()
    each = f", {replicas} instances of each service" if replicas > 1 and not infra_only else ""
    print(f"{what} {outcome} in {report.seconds:.1f} s{first}{each}.")
    gateway = stack.gateway_url
    print(f"  PostgreSQL  127.0.0.1:{stack.ports.pg}    Redis 127.0.0.1:{stack.ports.redis}")
    if not infra_only:
        print(f"  gateway     {gateway}")
        docs = "  ".join(f"{gateway}/{svc}docs" for svc in ("", "auth/", "tasks/", "notify/"))
        print(f"  API docs    {docs}")
        print(f"  Prometheus  {stack.prometheus_url}    Alertmanager {stack.alertmanager_url}")
    print(f"  logs        {stack.layout.log_dir}/   environment {stack.layout.env_file}")
    for name, failure in report.failures.items():
        print(f"FAILED {name}: {failure}", file=sys.stderr)


def show_status(stack: NativeStack) -> int:
    processes = stack.status()
    if not processes:
        print("The native stack is not running.")
        return EXIT_NOT_RUNNING
    for info in sorted(processes.values(), key=lambda info: start_order(info.name)):
        print(f"{info.name:<17} {info.state:<9} {info.description}")
    return 0 if all(info.state == RUNNING for info in processes.values()) else 1


def show_logs(stack: NativeStack, name: str | None, lines: int, follow: bool) -> int:
    names = [name] if name else list(stack.program_names())
    paths = [stack.log_path(n) for n in names]
    if follow:
        existing = [str(path) for path in paths if path.exists()] or [str(paths[0])]
        os.execvp("tail", ["tail", "-n", str(lines), "-F", *existing])  # noqa: S606
    for path in paths:
        if not name:
            print(f"==> {path} <==")
        print(tail(path, lines))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "prometheus-compose":
        return regenerate_prometheus_compose(check=args.check)
    if args.command in ("url", "port"):
        ports = StackPorts.from_env()
        print(ports.url(args.name) if args.command == "url" else getattr(ports, args.name))
        return 0
    stack = NativeStack(say=print)
    match args.command:
        case "up":
            report = stack.up(infra_only=args.infra_only)
            print_up_report(stack, report, infra_only=args.infra_only)
            return 0 if report.ok else 1
        case "down":
            stack.down()
            print("The native stack is down.")
        case "migrate":
            failures = stack.migrate()
            for label, failure in failures.items():
                print(f"FAILED {label}: {failure}", file=sys.stderr)
            return 1 if failures else 0
        case "status":
            return show_status(stack)
        case "logs":
            return show_logs(stack, args.program, args.lines, args.follow)
        case "stop":
            stack.stop(args.program)
        case "start":
            stack.start(args.program)
        case "restart":
            stack.restart(args.program)
        case "env":
            for key, value in stack.env(test=args.test).items():
                print(f"{key}={shlex.quote(value)}")
    return 0


def regenerate_prometheus_compose(*, check: bool) -> int:
    root = find_repo_root()
    if not check:
        print(f"wrote {prometheus.write_compose(root)}")
        return 0
    if (root / prometheus.COMPOSE_FILE).read_text() != prometheus.render_compose(root):
        print(f"{prometheus.COMPOSE_FILE} is stale: run `taskhub-stack prometheus-compose`")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except xmlrpc.client.Fault as fault:
        # e.g. `start` of a program that exits at once: supervisord says why, its log says more.
        print(f"taskhub-stack: error: supervisord: {fault.faultString}", file=sys.stderr)
        if getattr(args, "program", None):
            print(f"see: taskhub-stack logs {args.program}", file=sys.stderr)
        return 1
    except SupervisorUnavailable:
        print("taskhub-stack: the native stack is not running (start it: taskhub-stack up)")
        return EXIT_NOT_RUNNING
    except MissingTemplateValue as exc:
        print(f"taskhub-stack: error: a template needs a value for {exc}", file=sys.stderr)
        return 1
    except (MissingSystemPrograms, StackError, PostgresError) as exc:
        print(f"taskhub-stack: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly, and keep Python's exit-time flush
        # from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
