from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast
from uuid import UUID






T = TypeVar("T", bound="BulkStatusResult")



@_attrs_define
class BulkStatusResult:
    """ 
        Attributes:
            updated (list[UUID]):
            not_found (list[UUID]):
     """

    updated: list[UUID]
    not_found: list[UUID]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        updated = []
        for updated_item_data in self.updated:
            updated_item = str(updated_item_data)
            updated.append(updated_item)



        not_found = []
        for not_found_item_data in self.not_found:
            not_found_item = str(not_found_item_data)
            not_found.append(not_found_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "updated": updated,
            "not_found": not_found,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        updated = []
        _updated = d.pop("updated")
        for updated_item_data in (_updated):
            updated_item = UUID(updated_item_data)



            updated.append(updated_item)


        not_found = []
        _not_found = d.pop("not_found")
        for not_found_item_data in (_not_found):
            not_found_item = UUID(not_found_item_data)



            not_found.append(not_found_item)


        bulk_status_result = cls(
            updated=updated,
            not_found=not_found,
        )


        bulk_status_result.additional_properties = d
        return bulk_status_result

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
