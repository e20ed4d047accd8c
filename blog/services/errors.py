"""Domain errors raised by services; ``blog/errors.py`` maps them to HTTP statuses once."""
from __future__ import annotations


class ServiceError(Exception):
    """Base class: ``message`` is safe to show to the user."""

    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    status = 404


class NotAllowed(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    """Input that breaks a rule; ``fields`` maps field names to messages."""

    status = 422

    def __init__(self, message: str = "", fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}
