""" Contains all the data models used in inputs/outputs """

from .api_key_create import ApiKeyCreate
from .api_key_created import ApiKeyCreated
from .api_key_read import ApiKeyRead
from .bulk_status_request import BulkStatusRequest
from .bulk_status_result import BulkStatusResult
from .dead_letter_page import DeadLetterPage
from .dead_letter_read import DeadLetterRead
from .email_job_create import EmailJobCreate
from .error_body import ErrorBody
from .error_response import ErrorResponse
from .field_error import FieldError
from .job_accepted import JobAccepted
from .job_kind import JobKind
from .job_page import JobPage
from .job_read import JobRead
from .job_status import JobStatus
from .job_type import JobType
from .jwks import Jwks
from .login_audit_read import LoginAuditRead
from .login_request import LoginRequest
from .page_api_key_read import PageApiKeyRead
from .page_login_audit_read import PageLoginAuditRead
from .page_parked_event_read import PageParkedEventRead
from .page_user_read import PageUserRead
from .parked_event_read import ParkedEventRead
from .public_jwk import PublicJwk
from .refresh_request import RefreshRequest
from .register_request import RegisterRequest
from .role import Role
from .role_update import RoleUpdate
from .scope import Scope
from .task_create import TaskCreate
from .task_page import TaskPage
from .task_priority import TaskPriority
from .task_read import TaskRead
from .task_status import TaskStatus
from .task_update import TaskUpdate
from .token_pair import TokenPair
from .user_read import UserRead
from .webhook_job_create import WebhookJobCreate
from .webhook_job_create_payload import WebhookJobCreatePayload

__all__ = (
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyRead",
    "BulkStatusRequest",
    "BulkStatusResult",
    "DeadLetterPage",
    "DeadLetterRead",
    "EmailJobCreate",
    "ErrorBody",
    "ErrorResponse",
    "FieldError",
    "JobAccepted",
    "JobKind",
    "JobPage",
    "JobRead",
    "JobStatus",
    "JobType",
    "Jwks",
    "LoginAuditRead",
    "LoginRequest",
    "PageApiKeyRead",
    "PageLoginAuditRead",
    "PageParkedEventRead",
    "PageUserRead",
    "ParkedEventRead",
    "PublicJwk",
    "RefreshRequest",
    "RegisterRequest",
    "Role",
    "RoleUpdate",
    "Scope",
    "TaskCreate",
    "TaskPage",
    "TaskPriority",
    "TaskRead",
    "TaskStatus",
    "TaskUpdate",
    "TokenPair",
    "UserRead",
    "WebhookJobCreate",
    "WebhookJobCreatePayload",
)
