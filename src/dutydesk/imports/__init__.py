"""Importing incident history: ServiceNow exports and audit logs, and any CSV with a mapping."""
