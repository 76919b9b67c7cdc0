from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
from uuid import UUID
import datetime






T = TypeVar("T", bound="ParkedEventRead")



@_attrs_define
class ParkedEventRead:
    """ 
        Attributes:
            id (UUID):
            event_type (str):
            task_id (UUID):
            attempts (int):
            last_error (None | str):
            created_at (datetime.datetime):
            parked_at (datetime.datetime):
     """

    id: UUID
    event_type: str
    task_id: UUID
    attempts: int
    last_error: None | str
    created_at: datetime.datetime
    parked_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        event_type = self.event_type

        task_id = str(self.task_id)

        attempts = self.attempts

        last_error: None | str
        last_error = self.last_error

        created_at = self.created_at.isoformat()

        parked_at = self.parked_at.isoformat()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "event_type": event_type,
            "task_id": task_id,
            "attempts": attempts,
            "last_error": last_error,
            "created_at": created_at,
            "parked_at": parked_at,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))




        event_type = d.pop("event_type")

        task_id = UUID(d.pop("task_id"))




        attempts = d.pop("attempts")

        def _parse_last_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        last_error = _parse_last_error(d.pop("last_error"))


        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        parked_at = datetime.datetime.fromisoformat(d.pop("parked_at"))




        parked_event_read = cls(
            id=id,
            event_type=event_type,
            task_id=task_id,
            attempts=attempts,
            last_error=last_error,
            created_at=created_at,
            parked_at=parked_at,
        )


        parked_event_read.additional_properties = d
        return parked_event_read

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
