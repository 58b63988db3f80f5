"""Routing: business rules, assignment within a group, service requests."""
