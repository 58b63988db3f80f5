"""Every table of DutyDesk; behaviour lives in the domain packages."""

from dutydesk.models.catalog import Category, ConfigurationItem, Service
from dutydesk.models.closure import ClosureCheck
from dutydesk.models.escalation import (
    EscalationLevel,
    EscalationPath,
    EscalationStep,
    IncidentEscalation,
)
from dutydesk.models.incident import (
    Attachment,
    Comment,
    IdempotencyRecord,
    Incident,
    IncidentEvent,
    IncidentLink,
)
from dutydesk.models.intake import Alert, Integration, MaintenanceWindow
from dutydesk.models.mail import MailboxState, MailMessage, MailQuarantine, MailSenderWindow
from dutydesk.models.notification import (
    Notification,
    NotifyEndpoint,
    NotifyPreference,
    NotifyTemplate,
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
from dutydesk.models.routing import (
    GroupRouting,
    RoutingRule,
    ServiceRequest,
    ServiceRequestEvent,
)
from dutydesk.models.sla import OlaPolicy, SlaCalendar, SlaClock, SlaPolicy
from dutydesk.models.system import Counter, Setting, WorkerHeartbeat
from dutydesk.models.triage import TriageModel, TriageSchedule, TriageSuggestion
from dutydesk.models.web import PasswordReset, SavedFilter, WebSession

__all__ = [
    "AgentCustomer",
    "Alert",
    "ApiToken",
    "Attachment",
    "Category",
    "ClosureCheck",
    "Comment",
    "ConfigurationItem",
    "Counter",
    "Customer",
    "EscalationLevel",
    "EscalationPath",
    "EscalationStep",
    "GroupMember",
    "GroupRouting",
    "IdempotencyRecord",
    "Incident",
    "IncidentEscalation",
    "IncidentEvent",
    "IncidentLink",
    "Integration",
    "LoginAttempt",
    "MailMessage",
    "MailQuarantine",
    "MailSenderWindow",
    "MailboxState",
    "MaintenanceWindow",
    "Notification",
    "NotifyEndpoint",
    "NotifyPreference",
    "NotifyTemplate",
    "OlaPolicy",
    "PasswordReset",
    "RoutingRule",
    "SavedFilter",
    "Service",
    "ServiceRequest",
    "ServiceRequestEvent",
    "Setting",
    "SlaCalendar",
    "SlaClock",
    "SlaPolicy",
    "SupportGroup",
    "TriageModel",
    "TriageSchedule",
    "TriageSuggestion",
    "User",
    "WebSession",
    "WorkerHeartbeat",
]
