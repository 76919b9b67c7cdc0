from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.bulk_status_request import BulkStatusRequest
from ...models.bulk_status_result import BulkStatusResult
from ...models.error_response import ErrorResponse
from typing import cast



def _get_kwargs(
    *,
    body: BulkStatusRequest,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/tasks/bulk-status",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> BulkStatusResult | ErrorResponse | None:
    if response.status_code == 200:
        response_200 = BulkStatusResult.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[BulkStatusResult | ErrorResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: BulkStatusRequest,

) -> Response[BulkStatusResult | ErrorResponse]:
    """ Set the status of many tasks

     Up to 100 unique ids. Tasks the caller may not change (not owner, assignee or admin) and unknown ids
    are reported in `not_found`; `updated` lists the others, whether or not their status was already the
    requested one.

    Args:
        body (BulkStatusRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BulkStatusResult | ErrorResponse]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: BulkStatusRequest,

) -> BulkStatusResult | ErrorResponse | None:
    """ Set the status of many tasks

     Up to 100 unique ids. Tasks the caller may not change (not owner, assignee or admin) and unknown ids
    are reported in `not_found`; `updated` lists the others, whether or not their status was already the
    requested one.

    Args:
        body (BulkStatusRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BulkStatusResult | ErrorResponse
     """


    return sync_detailed(
        client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: BulkStatusRequest,

) -> Response[BulkStatusResult | ErrorResponse]:
    """ Set the status of many tasks

     Up to 100 unique ids. Tasks the caller may not change (not owner, assignee or admin) and unknown ids
    are reported in `not_found`; `updated` lists the others, whether or not their status was already the
    requested one.

    Args:
        body (BulkStatusRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BulkStatusResult | ErrorResponse]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: BulkStatusRequest,

) -> BulkStatusResult | ErrorResponse | None:
    """ Set the status of many tasks

     Up to 100 unique ids. Tasks the caller may not change (not owner, assignee or admin) and unknown ids
    are reported in `not_found`; `updated` lists the others, whether or not their status was already the
    requested one.

    Args:
        body (BulkStatusRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BulkStatusResult | ErrorResponse
     """


    return (await asyncio_detailed(
        client=client,
body=body,

    )).parsed
