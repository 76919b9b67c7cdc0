from enum import StrEnum

class Scope(StrEnum):
    NOTIFYREAD = "notify:read"
    NOTIFYWRITE = "notify:write"
    TASKSREAD = "tasks:read"
    TASKSWRITE = "tasks:write"

    def __str__(self) -> str:
        return str(self.value)
