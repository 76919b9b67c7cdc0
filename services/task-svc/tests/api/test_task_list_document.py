"""The list's JSON, rendered by PostgreSQL, is exactly what its response model describes.

The page document is built in SQL (`read_models.task_list`), not by pydantic: these tests
hold it to `TaskPage`, the model the endpoint declares, and each item to what `GET
/tasks/{id}` (pydantic from the row) answers for the same task, field by field, for tasks
with every optional field set and with none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from task_svc.schemas.tasks import TaskPage, TaskRead

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


async def test_the_rendered_page_is_a_task_page_and_each_item_the_task_as_read_alone(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    owner, assignee = make_user(), make_user()
    await create_task(owner, title="bare")
    await create_task(
        owner,
        title='full \u00e9\u6f22\U0001f600 "quoted" \\ back',
        description="line one\nline two\ttab",
        priority="high",
        status="in_progress",
        due_at="2031-02-03T04:05:06.789012Z",
        tags=["Zeta", "alpha", "m\u00fc"],
        assignee_id=str(assignee.id),
        webhook_url="https://example.com/hook?a=1&b=2",
    )
    response = await client.get("/tasks", headers=owner.headers)
    assert response.status_code == 200

    document = response.json()
    page = TaskPage.model_validate_json(response.content)
    # Nothing missing, nothing extra, every value in the model's own format.
    assert document == page.model_dump(mode="json")
    assert [set(item) for item in document["items"]] == [set(TaskRead.model_fields)] * 2

    for item in document["items"]:
        alone = await client.get(f"/tasks/{item['id']}", headers=owner.headers)
        assert alone.status_code == 200
        assert item == alone.json()


async def test_every_page_carries_the_total_also_past_the_end_and_for_filters(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    owner, assignee = make_user(), make_user()
    for number in range(5):
        await create_task(owner, title=f"t{number}", tags=["even"] if number % 2 == 0 else [])
    await create_task(assignee, title="theirs", assignee_id=str(owner.id), tags=["even"])
    cases: list[tuple[dict[str, Any], int, int]] = [
        ({"limit": 2}, 6, 2),
        ({"limit": 2, "page": 3}, 6, 2),
        ({"limit": 4, "page": 2}, 6, 2),
        ({"limit": 2, "page": 4}, 6, 0),  # past the end: no items, the total still right
        ({"page": 1000}, 6, 0),
        ({"tag": "even", "limit": 1, "page": 2}, 4, 1),
        ({"tag": "even", "page": 5}, 4, 0),
    ]
    for params, total, shown in cases:
        response = await client.get("/tasks", params=params, headers=owner.headers)
        assert response.status_code == 200
        page = response.json()
        assert (page["total"], len(page["items"])) == (total, shown), params
