"""RFC 9110 conditional requests, content coding and ranges, as pure functions.

Phones and CDNs poll every hour with ``If-None-Match``/``If-Modified-Since``; answering
them right (a 304 that really means "unchanged") is what keeps thousands of
subscribers cheap. Each rule here names its section of RFC 9110.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime

MAX_VALIDATORS = 64  # an If-None-Match list longer than this is not a real client


class Outcome(enum.StrEnum):
    """What the preconditions decided (RFC 9110 13.2.2)."""

    PROCEED = "proceed"  # evaluate Range, answer 200/206
    NOT_MODIFIED = "not_modified"  # 304
    FAILED = "failed"  # 412


@dataclass(frozen=True, slots=True)
class Validators:
    """The current representation's validators."""

    etag: str  # strong, quoted
    last_modified: int | None  # Unix seconds


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def http_date(seconds: int) -> str:
    return formatdate(seconds, usegmt=True)


def parse_http_date(value: str) -> int | None:
    """Unix seconds of an HTTP-date, or None: an invalid date is ignored (RFC 9110 13.1.3)."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp())


def entity_tags(header: str) -> list[str] | None:
    """The entity-tags of an If-None-Match/If-Match list; None for ``*``, [] if unusable."""
    value = header.strip()
    if value == "*":
        return None
    tags = []
    for part in value.split(","):
        tag = part.strip()
        if tag:
            tags.append(tag)
        if len(tags) > MAX_VALIDATORS:
            return []
    return tags


def opaque(tag: str) -> str:
    """The opaque-tag without the weakness prefix (RFC 9110 8.8.3.2, weak comparison)."""
    return tag[2:] if tag.startswith("W/") else tag


def weak_match(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: ``W/"x"`` matches ``"x"`` (RFC 9110 13.1.2)."""
    tags = entity_tags(header)
    if tags is None:
        return True  # "*": any current representation
    return opaque(etag) in {opaque(t) for t in tags}


def strong_match(header: str, etag: str) -> bool:
    """If-Match and If-Range use the strong comparison: a weak tag never matches."""
    tags = entity_tags(header)
    if tags is None:
        return True
    return any(not t.startswith("W/") and t == etag for t in tags)


def evaluate(headers: dict[str, str], current: Validators, *, safe: bool = True) -> Outcome:
    """RFC 9110 13.2.2, steps 1–4, for a representation that exists.

    ``If-None-Match`` wins over ``If-Modified-Since``: the date is looked at only
    when no entity-tag was sent (a proxy may have rewritten one, never both).
    """
    if_match = headers.get("if-match")
    if if_match is not None:
        if not strong_match(if_match, current.etag):
            return Outcome.FAILED
    else:
        since = headers.get("if-unmodified-since")
        stamp = parse_http_date(since) if since is not None else None
        if (
            stamp is not None
            and current.last_modified is not None
            and current.last_modified > stamp
        ):
            return Outcome.FAILED
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if weak_match(if_none_match, current.etag):
            return Outcome.NOT_MODIFIED if safe else Outcome.FAILED
        return Outcome.PROCEED
    modified_since = headers.get("if-modified-since")
    if safe and modified_since is not None and current.last_modified is not None:
        stamp = parse_http_date(modified_since)
        if stamp is not None and current.last_modified <= stamp:
            return Outcome.NOT_MODIFIED
    return Outcome.PROCEED


def coding_weights(header: str | None) -> dict[str, float]:
    """Accept-Encoding as {coding: q}; an unparsable q counts as 0 (refused)."""
    weights: dict[str, float] = {}
    if header is None:
        return weights
    for part in header.split(","):
        name, _, params = part.partition(";")
        coding = name.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        weights[coding] = q
    return weights


@functools.lru_cache(maxsize=512)  # clients send a handful of distinct headers
def choose_coding(header: str | None, available_gzip: bool) -> str | None:
    """ "gzip", "identity", or None when nothing acceptable is available (→ 406).

    RFC 9110 12.5.3: no header means any coding; ``gzip;q=0`` refuses gzip; identity
    is acceptable unless refused by ``identity;q=0`` or by ``*;q=0`` without a
    more specific entry for it.
    """
    if header is None:
        return "identity"  # no header: keep it simple for old clients
    weights = coding_weights(header)
    star = weights.get("*")
    gzip_q = weights.get("gzip", weights.get("x-gzip", star if star is not None else 0.0))
    identity_q = weights.get("identity", star if star is not None else 1.0)
    if not weights:
        identity_q = 1.0  # an empty header: identity only
    identity_named = "identity" in weights  # an implicit identity never outranks gzip
    if available_gzip and gzip_q > 0 and (gzip_q >= identity_q or not identity_named):
        return "gzip"
    if identity_q > 0:
        return "identity"
    if available_gzip and gzip_q > 0:
        return "gzip"
    return None


def parse_range(header: str | None, size: int) -> ByteRange | bool | None:
    """The one byte range asked for; None when there is none to honour (serve 200);
    False when it cannot be satisfied (416). Several ranges are answered whole,
    which RFC 9110 14.2 allows."""
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return False
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if start >= size:
        return False
    end = size - 1 if last == "" else min(int(last), size - 1)
    if end < start:
        return None  # invalid range-spec: ignore the header
    return ByteRange(start, end)


def if_range_allows(header: str | None, current: Validators) -> bool:
    """If-Range: apply the Range only if the client's copy is still current (RFC 9110 13.1.5)."""
    if header is None:
        return True
    value = header.strip()
    if value.startswith(('"', "W/")):
        return strong_match(value, current.etag)
    stamp = parse_http_date(value)
    return stamp is not None and stamp == current.last_modified
