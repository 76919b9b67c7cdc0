from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.task_priority import TaskPriority
from ..models.task_status import TaskStatus
from typing import cast
from uuid import UUID






T = TypeVar("T", bound="TaskRead")



@_attrs_define
class TaskRead:
    """ 
        Attributes:
            id (UUID):
            title (str):
            description (None | str):
            status (TaskStatus):
            priority (TaskPriority):
            due_at (None | str):
            tags (list[str]):
            assignee_id (None | UUID):
            owner_id (UUID):
            webhook_url (None | str):
            created_at (str):
            updated_at (str):
     """

    id: UUID
    title: str
    description: None | str
    status: TaskStatus
    priority: TaskPriority
    due_at: None | str
    tags: list[str]
    assignee_id: None | UUID
    owner_id: UUID
    webhook_url: None | str
    created_at: str
    updated_at: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        title = self.title

        description: None | str
        description = self.description

        status = self.status.value

        priority = self.priority.value

        due_at: None | str
        due_at = self.due_at

        tags = self.tags



        assignee_id: None | str
        if isinstance(self.assignee_id, UUID):
            assignee_id = str(self.assignee_id)
        else:
            assignee_id = self.assignee_id

        owner_id = str(self.owner_id)

        webhook_url: None | str
        webhook_url = self.webhook_url

        created_at = self.created_at

        updated_at = self.updated_at


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "title": title,
            "description": description,
            "status": status,
            "priority": priority,
            "due_at": due_at,
            "tags": tags,
            "assignee_id": assignee_id,
            "owner_id": owner_id,
            "webhook_url": webhook_url,
            "created_at": created_at,
            "updated_at": updated_at,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = UUID(d.pop("id"))




        title = d.pop("title")

        def _parse_description(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        description = _parse_description(d.pop("description"))


        status = TaskStatus(d.pop("status"))




        priority = TaskPriority(d.pop("priority"))




        def _parse_due_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        due_at = _parse_due_at(d.pop("due_at"))


        tags = cast(list[str], d.pop("tags"))


        def _parse_assignee_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                assignee_id_type_0 = UUID(data)



                return assignee_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        assignee_id = _parse_assignee_id(d.pop("assignee_id"))


        owner_id = UUID(d.pop("owner_id"))




        def _parse_webhook_url(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url"))


        created_at = d.pop("created_at")

        updated_at = d.pop("updated_at")

        task_read = cls(
            id=id,
            title=title,
            description=description,
            status=status,
            priority=priority,
            due_at=due_at,
            tags=tags,
            assignee_id=assignee_id,
            owner_id=owner_id,
            webhook_url=webhook_url,
            created_at=created_at,
            updated_at=updated_at,
        )


        task_read.additional_properties = d
        return task_read

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
