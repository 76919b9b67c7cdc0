"""The caller's notes: the template's one resource, behind an access token."""

from __future__ import annotations

from fastapi import APIRouter

from taskhub_common.errors import error_responses
from taskhub_common.pages import Page, PageNumber, PageSize
from template_svc.api.deps import CurrentUser, DbSession
from template_svc.schemas.notes import NoteRead
from template_svc.services import notes as notes_service

router = APIRouter(prefix="/template/notes", tags=["notes"])


@router.get("", name="list", response_model=Page[NoteRead], responses=error_responses(401, 422))
async def list_notes(
    user: CurrentUser, session: DbSession, page: PageNumber = 1, limit: PageSize = 20
) -> Page[NoteRead]:
    """The caller's notes, newest first."""
    items, total = await notes_service.list_notes(
        session, owner_id=user.user_id, page=page, limit=limit
    )
    return Page(
        items=[NoteRead.model_validate(item) for item in items],
        total=total,
        page=page,
        limit=limit,
    )
