"""tasks.item: each task's JSON as the API shows it, kept current by the database

A page of the task list is then the aggregate of its rows' `item`s: rendering the JSON of
every row (its timestamps, its tags) on every list read cost more than half of a page's
statement. A trigger renders a task's item on every insert and update of the task, and
again when its tag links change, whichever code path writes: `tasks_render_item` is the
one definition, and the list's tests hold it to `TaskRead` (the JSON of
`GET /tasks/{id}`) after every kind of write.

Changing what `TaskRead` shows is a migration that replaces `tasks_render_item` and
renders every row again (`UPDATE tasks SET item = NULL`).

Revision ID: b7d31c5e9a24
Revises: 6a4c2e8f0b13
Create Date: 2026-12-05 06:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d31c5e9a24"
down_revision: str | None = "6a4c2e8f0b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# TaskRead's fields, in its order; timestamps as schemas.tasks.TIMESTAMP_FORMAT writes them.
# PL/pgSQL: a SQL function called from a trigger would be planned again on every call
# (0.5 ms a write); PL/pgSQL keeps its plans for the session.
RENDER_ON_WRITE = """
CREATE FUNCTION tasks_render_item() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tag_names json;
BEGIN
    -- An update that leaves `item` as it was keeps the task's tags from it: links change
    -- only by statements on task_tags, whose trigger asks for a whole render (item NULL).
    -- That spares a status change the tag lookup.
    IF TG_OP = 'UPDATE' AND NEW.item IS NOT NULL THEN
        tag_names := NEW.item -> 'tags';
    ELSE
        tag_names := coalesce(
            (SELECT json_agg(tags.name ORDER BY tags.name)
             FROM task_tags JOIN tags ON tags.id = task_tags.tag_id
             WHERE task_tags.task_id = NEW.id),
            '[]'::json);
    END IF;
    NEW.item := json_build_object(
        'id', NEW.id,
        'title', NEW.title,
        'description', NEW.description,
        'status', NEW.status,
        'priority', NEW.priority,
        'due_at', to_char(timezone('UTC', NEW.due_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'tags', tag_names,
        'assignee_id', NEW.assignee_id,
        'owner_id', NEW.owner_id,
        'webhook_url', NEW.webhook_url,
        'created_at', to_char(timezone('UTC', NEW.created_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'updated_at', to_char(timezone('UTC', NEW.updated_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    );
    RETURN NEW;
END
$$
"""

# Statement-level, from the links a statement added or removed: replacing a task's tags
# re-renders it once per statement, not once per tag.
RENDER_ON_TAG_LINKS = """
CREATE FUNCTION task_tags_render_items() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- NULL: the row trigger renders these items whole, their tags included.
    UPDATE tasks SET item = NULL WHERE id IN (SELECT task_id FROM changed_links);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.add_column("tasks", sa.Column("item", sa.JSON(), nullable=True))
    op.execute(RENDER_ON_WRITE)
    op.execute(RENDER_ON_TAG_LINKS)
    op.execute(
        "CREATE TRIGGER render_item BEFORE INSERT OR UPDATE ON tasks "
        "FOR EACH ROW EXECUTE FUNCTION tasks_render_item()"
    )
    for event, table in (("INSERT", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER render_items_on_{event.lower()} AFTER {event} ON task_tags "
            f"REFERENCING {table} TABLE AS changed_links "
            "FOR EACH STATEMENT EXECUTE FUNCTION task_tags_render_items()"
        )
    op.execute("UPDATE tasks SET item = NULL")  # the trigger renders every task's item whole
    op.alter_column("tasks", "item", nullable=False)


def downgrade() -> None:
    op.execute("DROP TRIGGER render_items_on_delete ON task_tags")
    op.execute("DROP TRIGGER render_items_on_insert ON task_tags")
    op.execute("DROP TRIGGER render_item ON tasks")
    op.execute("DROP FUNCTION task_tags_render_items()")
    op.execute("DROP FUNCTION tasks_render_item()")
    op.drop_column("tasks", "item")
