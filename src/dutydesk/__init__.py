"""DutyDesk: ITIL incident management for service desks and on-call engineers."""

__version__ = "0.1.0"
