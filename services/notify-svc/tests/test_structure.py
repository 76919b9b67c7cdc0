"""notify-svc has the shape every service shares (docs/conventions.md, "Where things
live"), and its services never reach into its workers."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import package_imports, service_shape_problems

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "notify_svc"
# Besides the wiring every service has: the workers' entry modules build their Celery app
# and ARQ settings at import.
OWN_WIRING = ("worker/celery_app.py", "worker/arq_worker.py")


def test_the_package_keeps_every_shared_rule() -> None:
    tests = Path(__file__).resolve().parent
    assert service_shape_problems(PACKAGE, tests, also_wiring=OWN_WIRING) == {}


def test_services_and_repositories_never_import_the_workers() -> None:
    # The workers consume what the services decide; the producers of their messages live
    # with them (worker/dispatch.py), and the API calls those after its commits.
    imports = package_imports(PACKAGE)
    reaching_in = {
        module: sorted(target for target in targets if target.startswith("notify_svc.worker"))
        for module, targets in imports.items()
        if module.startswith(("notify_svc.services", "notify_svc.repositories"))
    }
    assert {module: found for module, found in reaching_in.items() if found} == {}
