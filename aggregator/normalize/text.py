"""Text as it comes out of calendars and web pages, made clean: one line or many,
HTML sanitized for storing and republishing, or turned into plain text; URLs
kept only when they are http(s); slugs for feed names."""

from __future__ import annotations

import functools
import html
import re
import unicodedata

import nh3

ALLOWED_TAGS = {
    "p",
    "br",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ul",
    "ol",
    "li",
    "a",
    "h3",
    "h4",
    "blockquote",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
# "Lördag&nbsp;5&nbsp;december": entities without a tag are HTML too
_ENTITY_RE = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_BLOCK_END_RE = re.compile(r"<\s*(br\s*/?|/p|/li|/h\d|/div|/tr)\s*>", re.IGNORECASE)
# control and invisible format characters (not \t \n); what unicodedata calls Cc/Cf
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufff9-\ufffb]"
)
# the tags a title may carry as formatting; anything else in angle brackets is text
_INLINE_TAG_RE = re.compile(
    r"<\s*/?\s*(a|abbr|b|bdi|br|cite|del|em|font|i|ins|mark|q|s|small|span|strong|sub|sup|u)"
    r"(?:\s+[^<>]*)?\s*/?\s*>",
    re.IGNORECASE,
)
_SPACE_RE = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
# what str.splitlines() breaks at: in a one-line title each is a space between words
# ("Fest\rmed dans" is "Fest med dans"), never nothing, and never left in the line
_LINE_BREAK_RE = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_BLANK_LINES_RE = re.compile(r"\n\s*\n\s*\n+")


def clean_line(text: str) -> str:
    """Text that may carry HTML entities (``Rock &amp; Roll``) as one clean line: the
    entities decoded, then cleaned as a title is."""
    return clean_title(html.unescape(text) if "&" in text else text)


def clean_title(text: str) -> str:
    """A title that already is plain text, on one line: only control characters and runs
    of white space go. Nothing that looks like markup or an entity is touched, because in
    plain text ``<script>`` and ``&amp;`` are what the organizer wrote (RFC 5545 SUMMARY,
    JSON strings)."""
    text = _CONTROL_RE.sub("", _LINE_BREAK_RE.sub(" ", text))
    return _SPACE_RE.sub(" ", text).strip()


def html_title_to_text(markup: str) -> str:
    """A title that the format says is HTML (an RSS/Atom title of type html, a WordPress
    ``title.rendered``) as plain text.

    Only inline formatting tags are markup here (``Fest <i>med</i> dans``); any other
    ``<`` (``5 < 6``, ``<3``, a ``<script>`` the organizer typed) is kept as text, so
    nothing the organizer wrote disappears. Entities are decoded once, after the tags
    went: the HTML ``&lt;b&gt;`` is the text ``<b>``, and ``Rock &amp; Roll`` is
    ``Rock & Roll``.
    """
    text = _INLINE_TAG_RE.sub(lambda m: " " if m.group(1).lower() == "br" else "", markup)
    return clean_title(html.unescape(text) if "&" in text else text)


def clean_multiline(text: str) -> str:
    text = _CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACE_RE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip()


def looks_like_html(text: str) -> bool:
    return ("<" in text and bool(_TAG_RE.search(text))) or (
        "&" in text and bool(_ENTITY_RE.search(text))
    )


def sanitize_html(markup: str) -> str:
    """Safe HTML to store and republish: a small set of tags, links with rel=noopener."""
    cleaned = nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return cleaned.strip()


def html_to_text(markup: str) -> str:
    text = _BLOCK_END_RE.sub("\n", markup)
    text = nh3.clean(text, tags=set())
    return clean_multiline(html.unescape(text))


def human_size(size: int) -> str:
    """A byte count as an organizer reads it: ``512 byte``, ``1 kB``, ``1,5 MB`` (Swedish
    decimal comma, 1 kB = 1024 byte). Never rounds a non-zero size down to 0."""
    if size < 1024:
        return f"{size} byte"
    for unit, scale in (("kB", 1024), ("MB", 1024**2), ("GB", 1024**3)):
        value = size / scale
        if value < 1024 or unit == "GB":
            break
    shown = f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return f"{shown.removesuffix('.0').replace('.', ',')} {unit}"


def human_seconds(seconds: float) -> str:
    """A duration as an organizer reads it: ``1 sekund``, ``1,5 sekunder``, ``30 sekunder``
    (Swedish decimal comma), the one way every message says how long we waited."""
    shown = f"{seconds:g}".replace(".", ",")
    return f"{shown} sekund" if seconds == 1 else f"{shown} sekunder"


def clean_url(url: str) -> str:
    url = url.strip()
    if url.startswith(("http://", "https://")) and " " not in url and len(url) < 2000:
        return url
    return ""


@functools.lru_cache(maxsize=4096)
def slugify(text: str) -> str:
    """Lowercase ASCII slug: ``Västervik`` → ``vastervik``, ``Barn & familj`` → ``barn-familj``."""
    folded = unicodedata.normalize(
        "NFKD", text.replace("ß", "ss").replace("æ", "ae").replace("ø", "o")
    )
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:80]
