"""Notifications: the outbox written with each change, its templates, channels and worker job."""
