"""Facebook access tokens: which value to look for, and scrubbing tokens out of events.

Messages and log lines are redacted by ``aggregator.redaction`` with every other
secret. Event data needs a narrower net, so that an ordinary link keeps its query
string: the exact token of the source's ``token_env`` and the parameters that
carry Facebook tokens (``access_token``, ``appsecret_proof`` …) or their shape
(``EAA…``), which a page or an export may quote.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from typing import Any

from aggregator.model import Event, Source
from aggregator.redaction import MIN_SECRET, redact_exact, remember_secret

_TOKEN_PARAM_RE = re.compile(
    r"((?:access_token|appsecret_proof|client_secret|input_token|fb_exchange_token)"
    r"(?:=|%3D|\"?\s*:\s*\"?))[^&\s#\"'<>,}]+",
    re.IGNORECASE,
)
_SECRET_WORDS = ("token", "secret", "proof")
_BARE_TOKEN_RE = re.compile(r"\bEAA[A-Za-z0-9]{20,}")  # the shape of Facebook user/page tokens
_SCRUBBED_FIELDS = ("title", "description", "url", "image", "location_text", "organizer_url")


def token_secrets(source: Source) -> tuple[str, ...]:
    """The source's token value, so redaction also removes it where no pattern would."""
    value = os.environ.get(source.token_env or "", "").strip() if source.token_env else ""
    if len(value) < MIN_SECRET:
        return ()
    remember_secret(value)
    return (value,)


def redact_tokens(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with Facebook tokens replaced by ``[token]``: query parameters, JSON
    fields, bare ``EAA…`` tokens and the exact ``secrets`` given."""
    text = redact_exact(text, secrets)
    if "EAA" in text or any(word in text.lower() for word in _SECRET_WORDS):
        text = _TOKEN_PARAM_RE.sub(r"\1[token]", text)
        return _BARE_TOKEN_RE.sub("[token]", text)
    return text


def scrub_event(event: Event, secrets: tuple[str, ...]) -> Event:
    """The event with any token-shaped text removed from its free-text and URL fields."""
    changes: dict[str, Any] = {}
    for name in _SCRUBBED_FIELDS:
        value = getattr(event, name)
        cleaned = redact_tokens(value, secrets) if value else value
        if cleaned != value:
            changes[name] = cleaned
    return replace(event, **changes) if changes else event
