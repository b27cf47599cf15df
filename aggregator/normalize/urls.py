"""URL helpers that never raise: hostile pages and headers hold URLs ``urllib`` refuses
(``http://[bad``), and one such link must not stop a harvest."""

from __future__ import annotations

from urllib.parse import SplitResult, urldefrag, urljoin, urlsplit


def join_url(base: str, href: str, *, drop_fragment: bool = False) -> str:
    """``href`` resolved against ``base``; "" when either cannot be parsed."""
    try:
        joined = urljoin(base, href) if base else href
        return urldefrag(joined)[0] if drop_fragment else joined
    except ValueError:
        return ""


def host_of(url: str) -> str:
    """The lowercase host of ``url``, or "" when it has none or cannot be parsed."""
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def split_url(url: str) -> SplitResult | None:
    """``urlsplit(url)``, or None when it cannot be parsed."""
    try:
        parts = urlsplit(url)
        _ = parts.hostname
    except ValueError:
        return None
    return parts
