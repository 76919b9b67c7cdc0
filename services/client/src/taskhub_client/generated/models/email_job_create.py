from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="EmailJobCreate")



@_attrs_define
class EmailJobCreate:
    """ 
        Attributes:
            to (str):
            subject (str):
            body (str):
            send_at (datetime.datetime | None | Unset): Deliver at this time, within a year; past or absent means now. An
                ISO 8601 date-time with offset, from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive (in UTC).
     """

    to: str
    subject: str
    body: str
    send_at: datetime.datetime | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        to = self.to

        subject = self.subject

        body = self.body

        send_at: None | str | Unset
        if isinstance(self.send_at, Unset):
            send_at = UNSET
        elif isinstance(self.send_at, datetime.datetime):
            send_at = self.send_at.isoformat()
        else:
            send_at = self.send_at


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "to": to,
            "subject": subject,
            "body": body,
        })
        if send_at is not UNSET:
            field_dict["send_at"] = send_at

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        to = d.pop("to")

        subject = d.pop("subject")

        body = d.pop("body")

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


        email_job_create = cls(
            to=to,
            subject=subject,
            body=body,
            send_at=send_at,
        )

        return email_job_create

