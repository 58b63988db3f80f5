"""SLA clocks, calendars and policies."""
