"""Moving incidents between installations: JSON lines carrying their full, verifiable history."""

from dutydesk.incidents.transfer.exporting import AttachmentMissing, export_incidents
from dutydesk.incidents.transfer.format import (
    FORMAT,
    NESTED,
    REFERENCES,
    VERSION,
    EventRecord,
    IncidentRecord,
)
from dutydesk.incidents.transfer.importing import ImportReport, import_incidents

__all__ = [
    "FORMAT",
    "NESTED",
    "REFERENCES",
    "VERSION",
    "AttachmentMissing",
    "EventRecord",
    "ImportReport",
    "IncidentRecord",
    "export_incidents",
    "import_incidents",
]
