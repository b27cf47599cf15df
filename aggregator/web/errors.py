"""Errors the web answers on purpose: JSON ``{"error", "field"}``, never a stack trace."""

from __future__ import annotations


class ApiError(Exception):
    """A request we refuse, with a sentence for the website's developer and the
    parameter at fault (None when it is not about one parameter)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
