"""The admin screens (`/admin`): one web package whose modules call each domain's service and
queries, the same functions the admin API calls."""
