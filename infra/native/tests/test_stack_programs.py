"""Program and instance names of the native stack with TASKHUB_REPLICAS."""

from __future__ import annotations

import pytest

from taskhub_stack.ports import instance_port
from taskhub_stack.programs import (
    INFRA_PROGRAMS,
    REPLICATED_PROGRAMS,
    instances,
    program,
    replicas_from,
    split_instance,
    stack_programs,
)


def test_one_replica_keeps_the_plain_names() -> None:
    assert "task-svc-2" not in stack_programs(1)
    assert stack_programs(1).count("task-svc") == 1


def test_further_instances_follow_their_first_and_beat_stays_one() -> None:
    names = stack_programs(2)
    assert names.index("task-svc-2") == names.index("task-svc") + 1
    assert names.count("celery-beat") == 1
    # The infrastructure (databases, gateway, Prometheus, Alertmanager, exporters) runs once.
    assert all(names.count(name) == 1 for name in INFRA_PROGRAMS)
    assert {name for name in names if name.endswith("-2")} == {
        f"{name}-2" for name in REPLICATED_PROGRAMS
    }
    assert {"celery-worker-2", "celery-webhooks-2", "arq-worker-2", "auth-svc-2"} <= set(names)


def test_instance_names_and_ports() -> None:
    assert split_instance("task-svc-2") == ("task-svc", 2)
    assert split_instance("task-svc") == ("task-svc", 1)
    # Only replicated programs have instances.
    assert split_instance("celery-beat-2") == ("celery-beat-2", 1)
    assert instance_port(5000, 1) == 5000
    assert instance_port(5000, 3) == 5020
    assert program("arq-worker-2").name == "arq-worker"
    with pytest.raises(KeyError):
        program("celery-beat-2")


def test_a_plain_name_means_every_instance_and_an_instance_name_one() -> None:
    running = ["task-svc-2", "nginx", "task-svc", "auth-svc"]
    assert instances("task-svc", running) == ["task-svc", "task-svc-2"]
    assert instances("task-svc-2", running) == ["task-svc-2"]
    # `-1` names the first instance alone (supervisord's `task-svc`).
    assert instances("task-svc-1", running) == ["task-svc"]
    assert instances("nginx", running) == ["nginx"]
    # Nothing running yet: the plain name itself.
    assert instances("notify-svc", []) == ["notify-svc"]


@pytest.mark.parametrize(("raw", "expected"), [("", 1), ("1", 1), ("2", 2), ("8", 8)])
def test_replicas_come_from_the_environment(raw: str, expected: int) -> None:
    assert replicas_from({"TASKHUB_REPLICAS": raw}) == expected


@pytest.mark.parametrize("raw", ["0", "9", "two", "-1"])
def test_impossible_replica_counts_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="TASKHUB_REPLICAS"):
        replicas_from({"TASKHUB_REPLICAS": raw})
