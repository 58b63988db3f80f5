"""Domain errors: each carries its HTTP status; one handler turns them into problem details."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}


class NotFound(DomainError):
    status_code = 404
    title = "Not found"


class Forbidden(DomainError):
    status_code = 403
    title = "Forbidden"


class Unauthorized(DomainError):
    status_code = 401
    title = "Unauthorized"


class Conflict(DomainError):
    status_code = 409
    title = "Conflict"


class InvalidInput(DomainError):
    status_code = 422
    title = "Invalid input"


class PreconditionFailed(DomainError):
    status_code = 412
    title = "Precondition failed"


class PreconditionRequired(DomainError):
    status_code = 428
    title = "Precondition required"


class PayloadTooLarge(DomainError):
    status_code = 413
    title = "Payload too large"


class TooManyRequests(DomainError):
    status_code = 429
    title = "Too many requests"


class Gone(DomainError):
    status_code = 410
    title = "Gone"
