from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.webhook_job_create_payload import WebhookJobCreatePayload





T = TypeVar("T", bound="WebhookJobCreate")



@_attrs_define
class WebhookJobCreate:
    """ 
        Attributes:
            url (str):
            payload (WebhookJobCreatePayload): A JSON object, sent as the request body.
            send_at (datetime.datetime | None | Unset): Deliver at this time, within a year; past or absent means now. An
                ISO 8601 date-time with offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
     """

    url: str
    payload: WebhookJobCreatePayload
    send_at: datetime.datetime | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.webhook_job_create_payload import WebhookJobCreatePayload # noqa: PLC0415
        url = self.url

        payload = self.payload.to_dict()

        send_at: None | str | Unset
        if isinstance(self.send_at, Unset):
            send_at = UNSET
        elif isinstance(self.send_at, datetime.datetime):
            send_at = self.send_at.isoformat()
        else:
            send_at = self.send_at


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "url": url,
            "payload": payload,
        })
        if send_at is not UNSET:
            field_dict["send_at"] = send_at

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_job_create_payload import WebhookJobCreatePayload # noqa: PLC0415
        d = dict(src_dict)
        url = d.pop("url")

        payload = WebhookJobCreatePayload.from_dict(d.pop("payload"))




        def _parse_send_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                send_at_type_0 = datetime.datetime.fromisoformat(data)



                return send_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        send_at = _parse_send_at(d.pop("send_at", UNSET))


        webhook_job_create = cls(
            url=url,
            payload=payload,
            send_at=send_at,
        )

        return webhook_job_create

