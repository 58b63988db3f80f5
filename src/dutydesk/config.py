"""Settings: every knob DutyDesk reads from the environment (prefix DUTYDESK_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
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
    intake_max_pending: int = Field(
        2000,
        description="Monitoring events waiting for the database per process; above it the "
        "receivers answer 429 with Retry-After (overload protection).",
    )
    intake_payload_max_chars: int = Field(
        16_000, description="Characters of an alert's raw payload kept (the rest is cut)."
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
        "writes (group commit); 0 means the database's default: 1 on SQLite (one writer at "
        "a time anyway), 2 on PostgreSQL (a second batch runs while the first waits for "
        "the server).",
    )

    # --- the worker
    serve_worker: bool = Field(
        False,
        description="Run the worker inside the web server process (`dutydesk serve` sets this "
        "unless --no-worker).",
    )
    worker_poll_seconds: float = Field(
        1.0, description="How often an idle worker looks for due work (seconds)."
    )
    worker_batch: int = Field(
        100, description="Most items one job handles per transaction before committing."
    )
    # --- notifications
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="The address users reach DutyDesk at; links in notifications start with it.",
    )
    secret_key: str = Field(
        "",
        description="Key signing the confirm/reject/survey links (at least 32 characters); "
        "when empty, the random key made when the database was created (setting table) is used.",
    )
    # --- browser sign-in
    session_idle_minutes: int = Field(
        120, ge=1, description="A browser session ends after this many minutes without a request."
    )
    session_absolute_hours: int = Field(
        12, ge=1, description="A browser session ends this many hours after sign-in, used or not."
    )
    # --- live updates (server-sent events, incidents.live)
    live_poll_seconds: float = Field(
        1.0, gt=0, le=30, description="How often an open live stream asks the database for changes."
    )
    live_heartbeat_seconds: float = Field(
        15.0, gt=0, description="Seconds between keep-alive comments on an idle live stream."
    )
    live_max_seconds: float = Field(
        300.0,
        gt=0,
        description="A live stream ends after this long; the browser reconnects at once "
        "(so group or role changes reach open pages).",
    )
    live_max_streams: int = Field(
        200, ge=1, description="Open live streams per web process; more get 503 and retry."
    )
    cookie_secure: str = Field(
        "auto",
        description="Secure flag on the session and CSRF cookies: auto (when the request came "
        "over HTTPS, or public_base_url is https), always, or never.",
    )
    password_reset_minutes: int = Field(
        60, ge=5, description="How long an e-mailed password reset link can be used."
    )
    oidc_issuer: str = Field(
        "",
        description="OpenID Connect issuer URL for single sign-on (its "
        "/.well-known/openid-configuration is read); empty: single sign-on is off.",
    )
    oidc_client_id: str = Field("", description="OpenID Connect client id.")
    oidc_client_secret: str = Field("", description="OpenID Connect client secret.")
    oidc_create_users: bool = Field(
        True,
        description="Create a requester account on first single sign-on of an unknown e-mail "
        "address (false: only existing users, matched by e-mail, may sign in).",
    )
    smtp_host: str = Field(
        "", description="SMTP server for outgoing mail; empty: mail is not sent."
    )
    smtp_port: int = Field(25, description="SMTP port (587 with STARTTLS, 465 with TLS).")
    smtp_username: str = Field("", description="SMTP login; empty: no authentication.")
    smtp_password: str = Field("", description="SMTP password.")
    smtp_security: str = Field("none", description="none, starttls or tls.")
    smtp_timeout_seconds: float = Field(20.0, description="SMTP connect and command timeout.")
    mail_from: str = Field(
        "DutyDesk <dutydesk@localhost>", description="From address of outgoing mail."
    )
    mail_domain: str = Field(
        "dutydesk.localhost", description="Right-hand side of the Message-IDs DutyDesk mints."
    )
    notify_max_attempts: int = Field(
        8, description="Delivery attempts before a notification becomes a dead letter."
    )
    notify_backoff_seconds: float = Field(
        30.0, description="First retry delay; each retry doubles it (with jitter), up to 1 hour."
    )
    notify_lease_seconds: float = Field(
        120.0,
        description="How long a claimed notification is reserved for the worker sending it; "
        "a worker killed mid-send leaves it to be retried after this.",
    )
    weekly_report_weekday: int = Field(
        1,
        ge=1,
        le=7,
        description="ISO weekday (1 = Monday … 7 = Sunday) from which the weekly report of the "
        "previous ISO week is mailed to its subscribers.",
    )
    weekly_report_hour_utc: int = Field(
        7, ge=0, le=23, description="Hour (UTC) of that weekday from which the report is sent."
    )
    # --- user confirmation and closure
    auto_close_business_days: int = Field(
        3,
        ge=0,
        le=90,
        description="Business days (on the incident's SLA calendar) a resolved incident waits "
        "for the requester's answer before the worker closes it; 0 turns auto-close off.",
    )
    link_valid_days: int = Field(
        14, ge=1, le=365, description="Days the emailed confirm/reject/survey links stay valid."
    )
    # --- email in (intake/mail)
    mail_in_imap_host: str = Field(
        "", description="IMAP server the worker polls for incoming mail; empty: no polling."
    )
    mail_in_imap_port: int = Field(993, description="IMAP port (993 with TLS, 143 otherwise).")
    mail_in_imap_security: str = Field("tls", description="IMAP transport: tls, starttls or none.")
    mail_in_imap_username: str = Field("", description="IMAP login.")
    mail_in_imap_password: str = Field("", description="IMAP password.")
    mail_in_imap_folder: str = Field("INBOX", description="IMAP folder to read new mail from.")
    mail_in_imap_done_folder: str = Field(
        "",
        description="Folder processed mail is moved to after its commit; empty: it is "
        "flagged \\Seen and left in place.",
    )
    mail_in_imap_poll_seconds: float = Field(
        60,
        ge=0,
        description="Seconds between two IMAP polls of the mailbox (the due time is kept in "
        "the database, so several workers poll it once per interval); 0: every worker round.",
    )
    mail_in_imap_batch: int = Field(
        50, ge=1, le=1000, description="Messages fetched per IMAP round trip."
    )
    mail_in_addresses: str = Field(
        "",
        description="Comma-separated addresses of DutyDesk's own mailboxes (besides "
        "mail_from): mail from them is a loop and is ignored.",
    )
    mail_in_unknown_sender: str = Field(
        "hold",
        description="Mail from an address with no active user: create (a requester of "
        "mail_in_unknown_customer), hold (quarantine for an admin) or reject (record, ignore).",
    )
    mail_in_unknown_customer: str = Field(
        "", description="Customer name new requesters created from mail belong to."
    )
    mail_in_max_bytes: int = Field(
        25 * 1024 * 1024, description="Largest accepted message; larger ones are quarantined."
    )
    mail_in_max_attachments: int = Field(
        20, description="Attachments kept per message; the rest are listed in a note."
    )
    mail_in_auto_replies_per_hour: int = Field(
        10,
        description="Automatic mails to one sender per hour caused by their mail; above it "
        "their mail is still ingested but nothing automatic answers it.",
    )
    smtpd_host: str = Field("127.0.0.1", description="Address `dutydesk smtp` listens on.")
    smtpd_port: int = Field(8025, description="Port `dutydesk smtp` listens on.")
    # --- learned triage and similar incidents
    triage_auto_apply_confidence: float = Field(
        0.85,
        ge=0.0,
        le=1.0,
        description="A triage suggestion at least this confident is applied when an incident "
        "is created (logged, revertible); below it, it is only shown. 0 applies none (every "
        "suggestion is only shown).",
    )
    triage_min_confidence: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="Suggestions less confident than this are not stored or shown at all.",
    )
    triage_min_examples: int = Field(
        50,
        ge=2,
        description="Fewest labelled examples `dutydesk triage train` (and the worker) accept.",
    )
    triage_retrain_hours: int = Field(
        24,
        ge=0,
        description="The worker retrains the triage models from resolved incidents this "
        "often; 0 turns scheduled retraining off.",
    )
    triage_max_training_incidents: int = Field(
        200_000,
        ge=100,
        description="Newest resolved incidents one training reads at most.",
    )
    similar_refresh_seconds: int = Field(
        30,
        ge=0,
        description="How stale a process's similar-incident index may get before a query "
        "adds the incidents resolved since (0: checked on every query).",
    )

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("must be at least 32 characters (or empty to use the generated key)")
        return value

    @field_validator("cookie_secure")
    @classmethod
    def _secure_choice(cls, value: str) -> str:
        if value not in ("auto", "always", "never"):
            raise ValueError("must be auto, always or never")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
