from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_response import ErrorResponse
from ...models.task_page import TaskPage
from ...models.task_status import TaskStatus
from ...types import UNSET, Unset
from typing import cast
from uuid import UUID
import datetime



def _get_kwargs(
    *,
    status: list[TaskStatus] | Unset = UNSET,
    tag: list[str] | Unset = UNSET,
    assignee_id: None | Unset | UUID = UNSET,
    due_before: datetime.datetime | None | Unset = UNSET,
    due_after: datetime.datetime | None | Unset = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    json_status: list[str] | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = []
        for status_item_data in status:
            status_item = status_item_data.value
            json_status.append(status_item)


    params["status"] = json_status

    json_tag: list[str] | Unset = UNSET
    if not isinstance(tag, Unset):
        json_tag = tag


    params["tag"] = json_tag

    json_assignee_id: None | str | Unset
    if isinstance(assignee_id, Unset):
        json_assignee_id = UNSET
    elif isinstance(assignee_id, UUID):
        json_assignee_id = str(assignee_id)
    else:
        json_assignee_id = assignee_id
    params["assignee_id"] = json_assignee_id

    json_due_before: None | str | Unset
    if isinstance(due_before, Unset):
        json_due_before = UNSET
    elif isinstance(due_before, datetime.datetime):
        json_due_before = due_before.isoformat()
    else:
        json_due_before = due_before
    params["due_before"] = json_due_before

    json_due_after: None | str | Unset
    if isinstance(due_after, Unset):
        json_due_after = UNSET
    elif isinstance(due_after, datetime.datetime):
        json_due_after = due_after.isoformat()
    else:
        json_due_after = due_after
    params["due_after"] = json_due_after

    params["page"] = page

    params["limit"] = limit


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/tasks",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorResponse | TaskPage | None:
    if response.status_code == 200:
        response_200 = TaskPage.from_dict(response.json())



        return response_200

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = ErrorResponse.from_dict(response.json())



        return response_403

    if response.status_code == 422:
        response_422 = ErrorResponse.from_dict(response.json())



        return response_422

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorResponse | TaskPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: list[TaskStatus] | Unset = UNSET,
    tag: list[str] | Unset = UNSET,
    assignee_id: None | Unset | UUID = UNSET,
    due_before: datetime.datetime | None | Unset = UNSET,
    due_after: datetime.datetime | None | Unset = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> Response[ErrorResponse | TaskPage]:
    """ List the caller's tasks

     Tasks the caller owns or is assigned to (an admin: all), newest first (`created_at` desc, then `id`
    desc). `status` and `tag` are repeatable: any of the statuses, and ALL of the tags.
    `due_before`/`due_after` are exclusive bounds. `limit` is 1..100 (more is a 422).

    Args:
        status (list[TaskStatus] | Unset): Repeatable; any of the statuses.
        tag (list[str] | Unset): Repeatable. A task matches when it has ALL of the given tags
            (tags are compared after trimming and lower-casing).
        assignee_id (None | Unset | UUID):
        due_before (datetime.datetime | None | Unset): due_at < this. An ISO 8601 date-time with
            offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
        due_after (datetime.datetime | None | Unset): due_at > this. An ISO 8601 date-time with
            offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
        page (int | Unset):  Default: 1.
        limit (int | Unset):  Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | TaskPage]
     """


    kwargs = _get_kwargs(
        status=status,
tag=tag,
assignee_id=assignee_id,
due_before=due_before,
due_after=due_after,
page=page,
limit=limit,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    status: list[TaskStatus] | Unset = UNSET,
    tag: list[str] | Unset = UNSET,
    assignee_id: None | Unset | UUID = UNSET,
    due_before: datetime.datetime | None | Unset = UNSET,
    due_after: datetime.datetime | None | Unset = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> ErrorResponse | TaskPage | None:
    """ List the caller's tasks

     Tasks the caller owns or is assigned to (an admin: all), newest first (`created_at` desc, then `id`
    desc). `status` and `tag` are repeatable: any of the statuses, and ALL of the tags.
    `due_before`/`due_after` are exclusive bounds. `limit` is 1..100 (more is a 422).

    Args:
        status (list[TaskStatus] | Unset): Repeatable; any of the statuses.
        tag (list[str] | Unset): Repeatable. A task matches when it has ALL of the given tags
            (tags are compared after trimming and lower-casing).
        assignee_id (None | Unset | UUID):
        due_before (datetime.datetime | None | Unset): due_at < this. An ISO 8601 date-time with
            offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
        due_after (datetime.datetime | None | Unset): due_at > this. An ISO 8601 date-time with
            offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
        page (int | Unset):  Default: 1.
        limit (int | Unset):  Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | TaskPage
     """


    return sync_detailed(
        client=client,
status=status,
tag=tag,
assignee_id=assignee_id,
due_before=due_before,
due_after=due_after,
page=page,
limit=limit,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: list[TaskStatus] | Unset = UNSET,
    tag: list[str] | Unset = UNSET,
    assignee_id: None | Unset | UUID = UNSET,
    due_before: datetime.datetime | None | Unset = UNSET,
    due_after: datetime.datetime | None | Unset = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> Response[ErrorResponse | TaskPage]:
    """ List the caller's tasks

     Tasks the caller owns or is assigned to (an admin: all), newest first (`created_at` desc, then `id`
    desc). `status` and `tag` are repeatable: any of the statuses, and ALL of the tags.
    `due_before`/`due_after` are exclusive bounds. `limit` is 1..100 (more is a 422).

    Args:
        status (list[TaskStatus] | Unset): Repeatable; any of the statuses.
        tag (list[str] | Unset): Repeatable. A task matches when it has ALL of the given tags
            (tags are compared after trimming and lower-casing).
        assignee_id (None | Unset | UUID):
        due_before (datetime.datetime | None | Unset): due_at < this. An ISO 8601 date-time with
            offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
        due_after (datetime.datetime | None | Unset): due_at > this. An ISO 8601 date-time with
            offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
        page (int | Unset):  Default: 1.
        limit (int | Unset):  Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | TaskPage]
     """


    kwargs = _get_kwargs(
        status=status,
tag=tag,
assignee_id=assignee_id,
due_before=due_before,
due_after=due_after,
page=page,
limit=limit,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    status: list[TaskStatus] | Unset = UNSET,
    tag: list[str] | Unset = UNSET,
    assignee_id: None | Unset | UUID = UNSET,
    due_before: datetime.datetime | None | Unset = UNSET,
    due_after: datetime.datetime | None | Unset = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> ErrorResponse | TaskPage | None:
    """ List the caller's tasks

     Tasks the caller owns or is assigned to (an admin: all), newest first (`created_at` desc, then `id`
    desc). `status` and `tag` are repeatable: any of the statuses, and ALL of the tags.
    `due_before`/`due_after` are exclusive bounds. `limit` is 1..100 (more is a 422).

    Args:
        status (list[TaskStatus] | Unset): Repeatable; any of the statuses.
        tag (list[str] | Unset): Repeatable. A task matches when it has ALL of the given tags
            (tags are compared after trimming and lower-casing).
        assignee_id (None | Unset | UUID):
        due_before (datetime.datetime | None | Unset): due_at < this. An ISO 8601 date-time with
            offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
        due_after (datetime.datetime | None | Unset): due_at > this. An ISO 8601 date-time with
            offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
        page (int | Unset):  Default: 1.
        limit (int | Unset):  Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | TaskPage
     """


    return (await asyncio_detailed(
        client=client,
status=status,
tag=tag,
assignee_id=assignee_id,
due_before=due_before,
due_after=due_after,
page=page,
limit=limit,

    )).parsed
