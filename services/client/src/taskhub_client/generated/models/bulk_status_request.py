from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.task_status import TaskStatus
from typing import cast
from uuid import UUID






T = TypeVar("T", bound="BulkStatusRequest")



@_attrs_define
class BulkStatusRequest:
    """ 
        Attributes:
            ids (list[UUID]):
            status (TaskStatus):
     """

    ids: list[UUID]
    status: TaskStatus





    def to_dict(self) -> dict[str, Any]:
        ids = []
        for ids_item_data in self.ids:
            ids_item = str(ids_item_data)
            ids.append(ids_item)



        status = self.status.value


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "ids": ids,
            "status": status,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        ids = []
        _ids = d.pop("ids")
        for ids_item_data in (_ids):
            ids_item = UUID(ids_item_data)



            ids.append(ids_item)


        status = TaskStatus(d.pop("status"))




        bulk_status_request = cls(
            ids=ids,
            status=status,
        )

        return bulk_status_request

