"""ASGI entry point of TaskHub template-svc: `uvicorn template_svc.main:app`."""

from __future__ import annotations

from taskhub_common.app import create_app
from template_svc.api.routers import ROUTERS
from template_svc.core.config import get_settings
from template_svc.db.session import kit

# The service's own start-up and shutdown work goes in as arguments (see task-svc's main.py).
lifespan = kit.lifespan()

app = create_app(
    get_settings(),
    prefix="/template",
    title="TaskHub template-svc",
    description="The starting point of a new TaskHub service: notes of the caller.",
    routers=ROUTERS,
    readiness=kit.readiness,
    lifespan=lifespan,
)
