from enum import StrEnum

class JobStatus(StrEnum):
    CANCELED = "canceled"
    FAILED = "failed"
    OK = "ok"
    QUEUED = "queued"
    SCHEDULED = "scheduled"

    def __str__(self) -> str:
        return str(self.value)
