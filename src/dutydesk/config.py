"""Settings: every knob DutyDesk reads from the environment (prefix DUTYDESK_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUTYDESK_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/dutydesk.db",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db.",
    )
    sqlite_synchronous: str = Field(
        "FULL",
        description="SQLite PRAGMA synchronous in WAL mode: FULL keeps every acknowledged "
        "commit after a power loss, NORMAL is faster and only safe against process crashes.",
    )
    storage_dir: Path = Field(
        Path("./var/attachments"), description="Directory where attachment files are stored."
    )
    max_attachment_bytes: int = Field(
        10 * 1024 * 1024, description="Largest accepted attachment upload, in bytes."
    )
    max_body_bytes: int = Field(
        1024 * 1024, description="Largest accepted JSON request body, in bytes (413 above)."
    )
    require_if_match: bool = Field(
        True,
        description="When true, PATCH and actions without If-Match answer 428; "
        "when false they apply to the current version.",
    )
    reopen_window_days: int = Field(
        7,
        description="Days after resolution during which a rejection reopens the same "
        "incident; later a new incident linked to the old one is created.",
    )
    login_max_failures: int = Field(
        5, description="Failed logins per account and address before login is refused."
    )
    login_window_seconds: int = Field(
        900, description="Window in which failed logins are counted, in seconds."
    )
    idempotency_retention_hours: int = Field(
        24, description="How long Idempotency-Key records are kept before they may be pruned."
    )
    token_touch_seconds: int = Field(
        60, description="An API token's last-used time is written at most this often."
    )
    write_concurrency: int = Field(
        0,
        description="Writer threads per process, each committing batches of concurrent "
        "writes (group commit); 0 picks 1 for SQLite (no busy waits) and 2 for PostgreSQL.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
