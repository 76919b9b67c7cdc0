"""The programs of the native stack, in start order (commands: the supervisord template).

With `TASKHUB_REPLICAS=N` the API services and the workers run as N instances each: the
first keeps the plain name (`task-svc`), instance k >= 2 is `task-svc-k`
(docs/conventions.md). PostgreSQL, Redis, nginx, Celery beat and Prometheus run once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# The most instances of each service the native stack runs: instance ports step by 10
# (ports.instance_port), so eight stay below the e2e suite's receiver ports.
MAX_REPLICAS = 8
REPLICAS_VARIABLE = "TASKHUB_REPLICAS"


@dataclass(frozen=True)
class Program:
    name: str
    # Started with supervisord itself; everything else waits for the migrations.
    infra: bool = False
    # The Python module the program imports, to explain a failure when it does not exist yet.
    module: str | None = None
    # Runs once per replica (`TASKHUB_REPLICAS`); everything else runs exactly once.
    replicated: bool = False


PROGRAMS: tuple[Program, ...] = (
    Program("postgres", infra=True),
    Program("redis", infra=True),
    Program("nginx"),
    Program("auth-svc", module="auth_svc.main", replicated=True),
    Program("task-svc", module="task_svc.main", replicated=True),
    Program("notify-svc", module="notify_svc.main", replicated=True),
    Program("celery-worker", module="notify_svc.worker.celery_app", replicated=True),
    Program("celery-webhooks", module="notify_svc.worker.celery_app", replicated=True),
    # Exactly one beat, whatever the replicas: two would send every reminder scan twice.
    Program("celery-beat", module="notify_svc.worker.celery_app"),
    Program("arq-worker", module="notify_svc.worker.arq_worker", replicated=True),
    Program("prometheus"),
    Program("postgres-exporter"),
    Program("redis-exporter"),
    Program("nginx-exporter"),
    Program("alertmanager"),
)

PROGRAM_NAMES = tuple(program.name for program in PROGRAMS)
INFRA_PROGRAMS = tuple(program.name for program in PROGRAMS if program.infra)
APP_PROGRAMS = tuple(program.name for program in PROGRAMS if not program.infra)
REPLICATED_PROGRAMS = tuple(program.name for program in PROGRAMS if program.replicated)

# `task-svc-2`; `task-svc-1` names the first instance (supervisord's `task-svc`) on its own.
_INSTANCE = re.compile(r"^(?P<base>.+)-(?P<number>[1-9])$")


def replicas_from(environ: Mapping[str, str]) -> int:
    """The instances per replicated program `TASKHUB_REPLICAS` asks for (default 1)."""
    raw = environ.get(REPLICAS_VARIABLE, "").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_REPLICAS:
        raise ValueError(
            f"{REPLICAS_VARIABLE} must be a number from 1 to {MAX_REPLICAS}, not {raw!r}"
        )
    return int(raw)


def instance_name(name: str, number: int) -> str:
    """`task-svc`, 2 -> `task-svc-2`; the first instance keeps the plain name."""
    return name if number == 1 else f"{name}-{number}"


def split_instance(name: str) -> tuple[str, int]:
    """`task-svc-2` -> (`task-svc`, 2); `task-svc` and `task-svc-1` -> (`task-svc`, 1)."""
    match = _INSTANCE.match(name)
    if match and match["base"] in REPLICATED_PROGRAMS:
        return match["base"], int(match["number"])
    return name, 1


def program(name: str) -> Program:
    """The program `name` names, also for an instance name (`task-svc-2`)."""
    base, number = split_instance(name)
    for candidate in PROGRAMS:
        if candidate.name == base and number <= MAX_REPLICAS:
            return candidate
    raise KeyError(f"unknown program {name!r}; known: {', '.join(PROGRAM_NAMES)}")


def stack_programs(replicas: int) -> tuple[str, ...]:
    """Every program name of a stack with `replicas` instances, in start order."""
    names: list[str] = []
    for candidate in PROGRAMS:
        count = replicas if candidate.replicated else 1
        names.extend(instance_name(candidate.name, number) for number in range(1, count + 1))
    return tuple(names)


def instances(name: str, running: tuple[str, ...] | list[str]) -> list[str]:
    """The supervisord programs among `running` that `name` means: a plain name means every
    instance (`task-svc` -> `task-svc`, `task-svc-2`), an instance name that instance alone
    (`task-svc-1` -> `task-svc`, `task-svc-2` -> `task-svc-2`)."""
    base, number = split_instance(name)
    if name != base:
        return [instance_name(base, number)]
    if name not in REPLICATED_PROGRAMS:
        return [name]
    found = [other for other in running if split_instance(other)[0] == name]
    return sorted(found, key=lambda other: split_instance(other)[1]) or [name]


def explicit_name(name: str) -> str:
    """An instance's name that means it alone: `task-svc` -> `task-svc-1`."""
    base, number = split_instance(name)
    return f"{base}-{number}" if base in REPLICATED_PROGRAMS else name


def start_order(name: str) -> tuple[int, int]:
    """A sort key: programs in start order, the instances of one program together."""
    base, number = split_instance(name)
    position = PROGRAM_NAMES.index(base) if base in PROGRAM_NAMES else len(PROGRAM_NAMES)
    return position, number
