"""Every table of DutyDesk; behaviour lives in the domain packages."""

from dutydesk.models.catalog import Category, ConfigurationItem, Service
from dutydesk.models.incident import (
    Attachment,
    Comment,
    IdempotencyRecord,
    Incident,
    IncidentEvent,
    IncidentLink,
)
from dutydesk.models.people import (
    AgentCustomer,
    ApiToken,
    Customer,
    GroupMember,
    LoginAttempt,
    SupportGroup,
    User,
)
from dutydesk.models.system import Counter, Setting

__all__ = [
    "AgentCustomer",
    "ApiToken",
    "Attachment",
    "Category",
    "Comment",
    "ConfigurationItem",
    "Counter",
    "Customer",
    "GroupMember",
    "IdempotencyRecord",
    "Incident",
    "IncidentEvent",
    "IncidentLink",
    "LoginAttempt",
    "Service",
    "Setting",
    "SupportGroup",
    "User",
]
