"""The programs of the native stack, in start order (commands: the supervisord template)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Program:
    name: str
    # Started with supervisord itself; everything else waits for the migrations.
    infra: bool = False
    # The Python module the program imports, to explain a failure when it does not exist yet.
    module: str | None = None


PROGRAMS: tuple[Program, ...] = (
    Program("postgres", infra=True),
    Program("redis", infra=True),
    Program("nginx"),
    Program("auth-svc", module="auth_svc.main"),
    Program("task-svc", module="task_svc.main"),
    Program("notify-svc", module="notify_svc.main"),
    Program("celery-worker", module="notify_svc.worker.celery_app"),
    Program("celery-webhooks", module="notify_svc.worker.celery_app"),
    Program("celery-beat", module="notify_svc.worker.celery_app"),
    Program("arq-worker", module="notify_svc.worker.arq_worker"),
    Program("prometheus"),
    Program("postgres-exporter"),
    Program("redis-exporter"),
    Program("nginx-exporter"),
    Program("alertmanager"),
)

PROGRAM_NAMES = tuple(program.name for program in PROGRAMS)
INFRA_PROGRAMS = tuple(program.name for program in PROGRAMS if program.infra)
APP_PROGRAMS = tuple(program.name for program in PROGRAMS if not program.infra)


def program(name: str) -> Program:
    for candidate in PROGRAMS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown program {name!r}; known: {', '.join(PROGRAM_NAMES)}")
