"""Shared building blocks with no domain knowledge."""
