"""Fixtures for taskhub-common's tests: a small app built by the real factory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel, ConfigDict, Field

from taskhub_common.app import create_app
from taskhub_common.errors import Conflict, RateLimited
from taskhub_common.settings import ServiceSettings
from taskhub_common.tracing import configure_tracing

# These tests read spans from the process's provider, as a collector would: record them
# all (without a collector, TaskHub records none).
os.environ.setdefault("OTEL_TRACES_SAMPLER", "parentbased_always_on")


@pytest.fixture(scope="session")
def finished_spans() -> Iterator[InMemorySpanExporter]:
    """Spans of the process-wide provider, collected in memory for the session."""
    configure_tracing("demo-svc")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture
def spans(finished_spans: InMemorySpanExporter) -> InMemorySpanExporter:
    """The spans finished while the test runs."""
    finished_spans.clear()
    return finished_spans


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=10)
    count: int = Field(ge=0)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/demo")

    @router.post("/items", status_code=201)
    async def create_item(item: Item) -> Item:
        return item

    @router.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.get("/conflict")
    async def conflict() -> None:
        raise Conflict("That name is taken.")

    @router.get("/limited")
    async def limited() -> None:
        raise RateLimited(7)

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: SELECT * FROM users")

    return router


class DemoSettings(ServiceSettings):
    service_name: str = "demo-svc"


@pytest.fixture(scope="session")
def readiness_state() -> dict[str, bool]:
    return {"database": True}


@pytest.fixture(scope="session")
def demo_app(readiness_state: dict[str, bool]) -> FastAPI:
    async def database_check() -> None:
        if not readiness_state["database"]:
            raise ConnectionError("down")

    return create_app(
        DemoSettings(),
        prefix="/demo",
        title="Demo",
        description="A service used only by taskhub-common's tests.",
        routers=[build_router()],
        readiness={"database": database_check},
    )


@pytest.fixture
async def client(demo_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=demo_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def database_url() -> str:
    """Any TaskHub test database will do: these tests create only temporary tables."""
    url = os.environ.get("AUTH_DATABASE_URL")
    if not url:
        pytest.fail("Set AUTH_DATABASE_URL to a test database (nox -s tests does this).")
    return url
