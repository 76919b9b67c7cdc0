"""What the notes API does: list a user's notes (the template's one piece of behaviour)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from template_svc.models import Note
from template_svc.repositories import notes as notes_repository


async def list_notes(
    session: AsyncSession, *, owner_id: uuid.UUID, page: int, limit: int
) -> tuple[Sequence[Note], int]:
    """One page of `owner_id`'s notes, newest first, and how many there are."""
    return await notes_repository.page_of_owner(
        session, owner_id=owner_id, offset=(page - 1) * limit, limit=limit
    )
