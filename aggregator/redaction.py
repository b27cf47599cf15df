"""Secrets never reach a log line, an error, the database or a feed.

Two nets, used together wherever text leaves the process or gets stored:

* the exact values of the tokens we hold (``remember_secret``: every ``token_env``
  value is registered when the configuration is read and when a header is built),
  in plain and URL-encoded form, wherever they appear;
* patterns for secrets we do not hold but that hostile or careless servers echo
  back: ``access_token=…`` and its relatives in URLs, forms and JSON, ``Bearer …``
  and ``Basic …`` credentials, passwords in ``scheme://user:password@host``, and
  the shape of Facebook tokens (``EAA…``).

This module sits below ``errors`` (every ``SourceError`` message passes through
``redact``) and imports nothing of the aggregator.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, unquote

MIN_SECRET = 8  # shorter values would blank ordinary words
_PLACEHOLDER = "[token]"
_lock = threading.Lock()
_secrets: set[str] = set()

_NAMES = (
    r"(?:access_token|token|id_token|refresh_token|api_key|apikey|key|secret|client_secret|"
    r"appsecret_proof|input_token|fb_exchange_token|password|passwd|pwd|signature|sig|"
    r"session|sessionid)"
)
# access_token=…, access_token%3D… (a URL inside a URL), in query strings and forms
_PARAM_RE = re.compile(rf"(?<![A-Za-z0-9_-])({_NAMES}(?:=|%3D))[^&\s#\"'<>,;}}]+", re.IGNORECASE)
# "access_token": "…" in JSON
_JSON_RE = re.compile(rf"(\"{_NAMES}\"\s*:\s*\"?)[^\"\s,}}]+", re.IGNORECASE)
# an echoed request header
_HEADER_RE = re.compile(
    r"(\b(?:authorization|proxy-authorization|x-api-key|cookie)\s*:\s*)[^\r\n\"']+",
    re.IGNORECASE,
)
_SCHEME_RE = re.compile(
    r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]{6,}"
    r"|\b(Basic)\s+(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}",
    re.IGNORECASE,
)
_USERINFO_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE)
_FACEBOOK_TOKEN_RE = re.compile(r"\bEAA[A-Za-z0-9]{20,}")
_HINTS = ("=", ":", "%3d", "bearer", "basic", "eaa")


def remember_secret(value: str | None) -> None:
    """Register a secret value (a token from the environment) for every later ``redact``."""
    value = (value or "").strip()
    if len(value) >= MIN_SECRET:
        with _lock:
            _secrets.add(value)


def remember_secrets_in(url: str) -> None:
    """Register the values of secret-looking query parameters of a URL an operator wrote
    (``?access_token=…``), so no log line or message shows them either."""
    for match in _PARAM_RE.finditer(url):
        value = url[match.end(1) : match.end()]
        remember_secret(unquote(value))
        remember_secret(value)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret and everything shaped like a credential blanked."""
    if not text:
        return text
    for secret in (*_known(), *extra):
        if secret and len(secret) >= MIN_SECRET and secret in text:
            text = text.replace(secret, _PLACEHOLDER)
        encoded = quote(secret, safe="") if secret else ""
        if encoded and encoded != secret and encoded in text:
            text = text.replace(encoded, _PLACEHOLDER)
    lowered = text.lower()
    if not any(hint in lowered for hint in _HINTS):
        return text
    text = _PARAM_RE.sub(rf"\1{_PLACEHOLDER}", text)
    text = _JSON_RE.sub(rf"\1{_PLACEHOLDER}", text)
    text = _HEADER_RE.sub(rf"\1{_PLACEHOLDER}", text)
    text = _SCHEME_RE.sub(lambda m: f"{m.group(1) or m.group(2)} {_PLACEHOLDER}", text)
    text = _USERINFO_RE.sub(rf"\1{_PLACEHOLDER}@", text)
    return _FACEBOOK_TOKEN_RE.sub(_PLACEHOLDER, text)


def redact_exact(text: str, extra: Iterable[str] = ()) -> str:
    """Only the known secret values blanked: for event data, where a pattern could
    damage an ordinary link (``?key=5``) but our own token must still never appear."""
    if not text:
        return text
    for secret in (*_known(), *extra):
        if secret and len(secret) >= MIN_SECRET:
            text = text.replace(secret, _PLACEHOLDER)
            encoded = quote(secret, safe="")
            if encoded != secret:
                text = text.replace(encoded, _PLACEHOLDER)
    return text


def _known() -> tuple[str, ...]:
    with _lock:
        return tuple(_secrets)


class RedactingFilter(logging.Filter):
    """Redacts every record a handler emits (urllib3 logs whole URLs at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the formatted line too, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Put the filter and the formatter on every handler of ``logger`` (the root logger)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
        current = handler.formatter
        if not isinstance(current, RedactingFormatter):
            fmt = current._fmt if current is not None else None
            datefmt = current.datefmt if current is not None else None
            handler.setFormatter(RedactingFormatter(fmt, datefmt))
