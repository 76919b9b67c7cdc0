"""tasks.item: each task's JSON as the API shows it, kept current by the database

A page of the task list is then the aggregate of its rows' `item`s: rendering the JSON of
every row (its timestamps, its tags) on every list read cost more than half of a page's
statement. The database renders a task's item on every insert and update of the task, and
again when its tag links change, whichever code path writes: `task_item` is the one
definition, and the list's tests hold it to `TaskRead` (the JSON of `GET /tasks/{id}`).

Changing what `TaskRead` shows is a migration that replaces `task_item` and re-renders
every row (`UPDATE tasks SET item = NULL`: the trigger renders it).

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
# PL/pgSQL, not SQL: a SQL function called from a trigger is planned again on every call
# (0.5 ms a write), a PL/pgSQL one keeps its plan for the session.
TASK_ITEM = """
CREATE FUNCTION task_item(task tasks) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
RETURN json_build_object(
    'id', task.id,
    'title', task.title,
    'description', task.description,
    'status', task.status,
    'priority', task.priority,
    'due_at', to_char(timezone('UTC', task.due_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'tags', coalesce(
        (SELECT json_agg(tags.name ORDER BY tags.name)
         FROM task_tags JOIN tags ON tags.id = task_tags.tag_id
         WHERE task_tags.task_id = task.id),
        '[]'::json),
    'assignee_id', task.assignee_id,
    'owner_id', task.owner_id,
    'webhook_url', task.webhook_url,
    'created_at', to_char(timezone('UTC', task.created_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'updated_at', to_char(timezone('UTC', task.updated_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
);
END
$$
"""

RENDER_ON_WRITE = """
CREATE FUNCTION tasks_render_item() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.item := task_item(NEW);
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
    -- The row trigger renders each item again.
    UPDATE tasks SET item = NULL WHERE id IN (SELECT task_id FROM changed_links);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.add_column("tasks", sa.Column("item", sa.JSON(), nullable=True))
    op.execute(TASK_ITEM)
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
    op.execute("UPDATE tasks SET item = NULL")  # the trigger renders every task's item
    op.alter_column("tasks", "item", nullable=False)


def downgrade() -> None:
    op.execute("DROP TRIGGER render_items_on_delete ON task_tags")
    op.execute("DROP TRIGGER render_items_on_insert ON task_tags")
    op.execute("DROP TRIGGER render_item ON tasks")
    op.execute("DROP FUNCTION task_tags_render_items()")
    op.execute("DROP FUNCTION tasks_render_item()")
    op.execute("DROP FUNCTION task_item(tasks)")
    op.drop_column("tasks", "item")
