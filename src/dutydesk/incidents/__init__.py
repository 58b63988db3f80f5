"""The incident domain: lifecycle, priority, logging, history."""
