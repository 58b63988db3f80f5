"""Exit 0 when the PostgreSQL server named by DUTYDESK_TEST_PG_URL answers, 1 otherwise."""

import os
import sys

import psycopg
from sqlalchemy.engine import make_url

url = make_url(
    os.environ.get("DUTYDESK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
)
try:
    psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        connect_timeout=3,
    ).close()
except psycopg.Error as exc:
    print(f"PostgreSQL check failed: {exc}".strip(), file=sys.stderr)
    sys.exit(1)
