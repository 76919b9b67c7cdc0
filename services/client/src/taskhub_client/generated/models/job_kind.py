from enum import StrEnum

class JobKind(StrEnum):
    MANUAL = "manual"
    REMINDER = "reminder"
    TASK_DONE = "task_done"

    def __str__(self) -> str:
        return str(self.value)
