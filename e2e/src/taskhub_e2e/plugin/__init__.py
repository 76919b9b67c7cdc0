"""The pytest plugin of the e2e suite: target options, tags, fixtures, and the reports.

Loaded by `e2e/scenarios/conftest.py` (or `-p taskhub_e2e.plugin`). It registers the step
modules and its own three parts: `options` (the command line, the target, which scenarios
it can run), `fixtures` (what scenarios use) and `reporting` (each scenario's requests and
steps, and `reports/living-doc.html` once the run is over).
"""

from __future__ import annotations

import pkgutil

from taskhub_e2e import steps

# Every module of `taskhub_e2e.steps` is a step library: a new area needs only a new module.
pytest_plugins = [
    "taskhub_e2e.plugin.options",
    "taskhub_e2e.plugin.fixtures",
    "taskhub_e2e.plugin.reporting",
    *(f"{steps.__name__}.{module.name}" for module in pkgutil.iter_modules(steps.__path__)),
]
