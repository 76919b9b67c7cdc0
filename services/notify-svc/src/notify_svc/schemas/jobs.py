"""Request and response bodies of the notification job endpoints."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from notify_svc.models import JobKind, JobStatus, JobType
from notify_svc.schemas.common import JsonObject
from taskhub_common.pages import Page
from taskhub_common.text import Instant, SafeText, instant_description
from taskhub_common.urls import HttpUrlText

# ARQ keeps deferred jobs in Redis; a bound keeps "send_at" a scheduling tool, not storage.
MAX_SCHEDULE_AHEAD = timedelta(days=366)


def _not_too_far(value: datetime | None) -> datetime | None:
    if value is not None and value - datetime.now(UTC) > MAX_SCHEDULE_AHEAD:
        raise ValueError("send_at must be within a year from now.")
    return value


SendAt = Annotated[Instant | None, AfterValidator(_not_too_far)]
# The length bounds run inside SafeText's check, so a lone surrogate gets its own message.
Subject = Annotated[str, StringConstraints(min_length=1, max_length=200), SafeText]
Body = Annotated[str, StringConstraints(min_length=1, max_length=20000), SafeText]


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    send_at: SendAt = Field(
        default=None,
        description=instant_description(
            "Deliver at this time, within a year; past or absent means now."
        ),
    )

    def fingerprint(self, job_type: JobType) -> str:
        """A digest of the request, to tell a replay from a different body under one key."""
        body = {"type": job_type.value, **self.model_dump(mode="json")}
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class EmailJobCreate(JobCreate):
    to: Annotated[EmailStr, Field(max_length=254), SafeText]
    subject: Subject
    body: Body


class WebhookJobCreate(JobCreate):
    url: HttpUrlText
    payload: JsonObject = Field(description="A JSON object, sent as the request body.")


class JobAccepted(BaseModel):
    id: uuid.UUID
    status: JobStatus


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: JobType
    kind: JobKind
    status: JobStatus
    attempts: int
    last_error: str | None
    task_id: uuid.UUID | None
    send_at: datetime | None
    created_at: datetime
    updated_at: datetime


class JobPage(Page[JobRead]):
    """A page of notification jobs."""


class DeadLetterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    job_id: uuid.UUID
    attempts: int
    last_error: str | None
    failed_at: datetime


class DeadLetterPage(Page[DeadLetterRead]):
    """A page of dead letters."""
