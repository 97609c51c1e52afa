"""What the emulator refuses, as data: the HTTP status Mithril would answer with, the message, the field."""

from __future__ import annotations


class EmulatorError(Exception):
    """A request the real API would refuse; `status` is the HTTP status it would use."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class NotFound(EmulatorError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(404, f"{kind} {ident!r} not found")
        self.kind = kind
        self.ident = ident


class Conflict(EmulatorError):
    """The request is well formed, but the resource's state forbids it (a terminated bid, an attached volume)."""

    def __init__(self, message: str) -> None:
        super().__init__(409, message)


class Unprocessable(EmulatorError):
    """Mithril's validation refuses the request (HTTP 422), naming the field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(422, message, field)
