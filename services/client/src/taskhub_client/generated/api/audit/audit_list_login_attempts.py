from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_response import ErrorResponse
from ...models.page_login_audit_read import PageLoginAuditRead
from ...types import UNSET, Unset
from typing import cast
from uuid import UUID



def _get_kwargs(
    *,
    user_id: None | Unset | UUID = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    json_user_id: None | str | Unset
    if isinstance(user_id, Unset):
        json_user_id = UNSET
    elif isinstance(user_id, UUID):
        json_user_id = str(user_id)
    else:
        json_user_id = user_id
    params["user_id"] = json_user_id

    params["page"] = page

    params["limit"] = limit


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/auth/audit",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorResponse | PageLoginAuditRead | None:
    if response.status_code == 200:
        response_200 = PageLoginAuditRead.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorResponse | PageLoginAuditRead]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    user_id: None | Unset | UUID = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> Response[ErrorResponse | PageLoginAuditRead]:
    """ List Login Attempts

     Login attempts, newest first; `user_id` narrows them to one account.

    Args:
        user_id (None | Unset | UUID):
        page (int | Unset): 1-based page number. Default: 1.
        limit (int | Unset): Items per page (at most 100). Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | PageLoginAuditRead]
     """


    kwargs = _get_kwargs(
        user_id=user_id,
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
    user_id: None | Unset | UUID = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> ErrorResponse | PageLoginAuditRead | None:
    """ List Login Attempts

     Login attempts, newest first; `user_id` narrows them to one account.

    Args:
        user_id (None | Unset | UUID):
        page (int | Unset): 1-based page number. Default: 1.
        limit (int | Unset): Items per page (at most 100). Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | PageLoginAuditRead
     """


    return sync_detailed(
        client=client,
user_id=user_id,
page=page,
limit=limit,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    user_id: None | Unset | UUID = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> Response[ErrorResponse | PageLoginAuditRead]:
    """ List Login Attempts

     Login attempts, newest first; `user_id` narrows them to one account.

    Args:
        user_id (None | Unset | UUID):
        page (int | Unset): 1-based page number. Default: 1.
        limit (int | Unset): Items per page (at most 100). Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | PageLoginAuditRead]
     """


    kwargs = _get_kwargs(
        user_id=user_id,
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
    user_id: None | Unset | UUID = UNSET,
    page: int | Unset = 1,
    limit: int | Unset = 20,

) -> ErrorResponse | PageLoginAuditRead | None:
    """ List Login Attempts

     Login attempts, newest first; `user_id` narrows them to one account.

    Args:
        user_id (None | Unset | UUID):
        page (int | Unset): 1-based page number. Default: 1.
        limit (int | Unset): Items per page (at most 100). Default: 20.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | PageLoginAuditRead
     """


    return (await asyncio_detailed(
        client=client,
user_id=user_id,
page=page,
limit=limit,

    )).parsed
