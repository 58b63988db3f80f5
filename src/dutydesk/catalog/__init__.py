"""The catalog: services, configuration items and the category tree."""
