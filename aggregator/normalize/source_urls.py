"""One key per calendar, however its address is written, so a second registration of a
calendar we already read is recognised.

Organizers copy addresses from many places: the phone's ``webcal://`` link, the browser's
address bar with ``?utm_source=…`` from a newsletter, a Facebook link with ``fbclid``, a
Google Calendar embed code instead of its iCal address. ``url_key`` maps all of these to
the same text; it is a key for comparison, never an address to fetch.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode

from aggregator.normalize.urls import split_url

DEFAULT_PORTS = {80, 443}
# query parameters added by newsletters, ads and social sites; they never select content
TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "igshid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "__hstc",
    "__hssc",
    "__hsfp",
    "hsctatracking",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "wickedid",
    "s_cid",
    "ref_src",
    "ref_url",
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "matomo_", "piwik_")
FACEBOOK_HOSTS = re.compile(r"^(?:[a-z0-9-]+\.)?(?:facebook\.com|fb\.com|facebook\.se)$")
FACEBOOK_TAILS = ("events", "upcoming_hosted_events", "past_hosted_events", "about", "posts")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_GOOGLE_ICAL = re.compile(r"^/calendar/ical/([^/]+)/")


def fetchable_url(raw: str) -> str:
    """The address to fetch: ``webcal://`` (and ``feed://``) are https, as calendar apps read them."""
    text = raw.strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() in ("webcal", "webcals", "feed"):
        return "https://" + rest
    return text


def url_key(url: str) -> str:
    """The comparison key of a calendar address; "" when it cannot be parsed."""
    parts = split_url(fetchable_url(url))
    if parts is None or not parts.hostname:
        return ""
    host = _host_key(parts.hostname)
    try:
        port = parts.port
    except ValueError:
        return ""
    google = _google_calendar_id(host, parts.path, parts.query)
    if google:
        return f"google-calendar:{google}"
    path = _path_key(parts.path)
    query = _query_key(parts.query)
    if FACEBOOK_HOSTS.match(host):
        host, path, query = "facebook.com", _facebook_path(path), _facebook_query(query)
    netloc = host if port is None or port in DEFAULT_PORTS else f"{host}:{port}"
    return netloc + path + (f"?{query}" if query else "")


def _host_key(hostname: str) -> str:
    """Lowercase, no trailing dot, no ``www.``, international names in their ASCII form."""
    host = hostname.lower().rstrip(".")
    with contextlib.suppress(UnicodeError):  # not encodable: compare as written
        host = host.encode("idna").decode("ascii")
    return host.removeprefix("www.")


def _path_key(path: str) -> str:
    """Percent-encoding in one form, dot segments resolved, no empty or trailing slashes."""
    decoded = quote(unquote(path), safe=_PATH_SAFE)
    if not decoded:
        return ""
    collapsed = re.sub(r"/{2,}", "/", decoded)
    normal = posixpath.normpath(collapsed) if collapsed.startswith("/") else "/" + collapsed
    return "" if normal == "/" else normal.rstrip("/")


def _query_key(query: str) -> str:
    pairs = [
        (k, v)
        for k, v in parse_qsl(query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlencode(sorted(pairs))


def _facebook_path(path: str) -> str:
    """Page names are case-insensitive; ``/page/events`` is the same page as ``/page``."""
    segments = [s for s in path.lower().split("/") if s]
    if segments[:1] == ["pg"]:
        segments = segments[1:]
    while len(segments) > 1 and segments[-1] in FACEBOOK_TAILS:
        segments.pop()
    return "/" + "/".join(segments) if segments else ""


def _facebook_query(query: str) -> str:
    """Only ``profile.php?id=…`` selects a page; every other parameter is tracking or view."""
    return urlencode([(k, v) for k, v in parse_qsl(query) if k == "id"])


def _google_calendar_id(host: str, path: str, query: str) -> str:
    """The calendar id in a Google Calendar embed, iCal or "add by link" address."""
    if host not in ("calendar.google.com", "google.com"):
        return ""
    match = _GOOGLE_ICAL.match(path)
    if match:
        return unquote(match.group(1)).lower()
    params = parse_qsl(query)
    sources = sorted(unquote(v).lower() for k, v in params if k == "src")
    if sources:
        return ",".join(sources)
    for key, value in params:
        if key == "cid":
            return _google_cid(value)
    return ""


def _google_cid(value: str) -> str:
    """``cid`` is the calendar id, sometimes base64 encoded (the "add to calendar" links)."""
    if "@" in value or "%40" in value:
        return unquote(value).lower()
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return value.lower()
    return decoded.lower() if "@" in decoded else value.lower()
