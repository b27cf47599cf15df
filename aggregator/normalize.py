"""Clean-up every harvested Event goes through: text, HTML, place, municipality, categories.

Pure functions of (event, source, settings): no I/O, no clock.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import replace

import nh3

from aggregator.gazetteer import LOCALITIES
from aggregator.model import Event, Place, Settings, Source

MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
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
_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
# "Lördag&nbsp;5&nbsp;december": entities without a tag are HTML too
_ENTITY_RE = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_BLOCK_END_RE = re.compile(r"<\s*(br\s*/?|/p|/li|/h\d|/div|/tr)\s*>", re.IGNORECASE)
# control and invisible format characters (not \t \n); what unicodedata calls Cc/Cf
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufff9-\ufffb]"
)
_SPACE_RE = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_BLANK_LINES_RE = re.compile(r"\n\s*\n\s*\n+")
_POSTCODE_RE = re.compile(r"^\s*(\d{3}\s?\d{2})\s+(.+)$")
_STREET_RE = re.compile(
    r"(gatan|gata|vägen|väg|gränd|torget|torg|backen|stigen|allén|plan|leden)\b.*\d|\s\d+\s?[A-Za-z]?$",
    re.IGNORECASE,
)


def normalize_event(event: Event, source: Source, settings: Settings) -> Event:
    """The canonical form of a harvested event, ready to store."""
    description_html = ""
    raw_description = event.description
    if event.description_html:
        description_html = sanitize_html(event.description_html)
    elif looks_like_html(raw_description):
        description_html = sanitize_html(raw_description)
    description = (
        html_to_text(description_html) if description_html else clean_multiline(raw_description)
    )
    place = parse_place(event.location_text, event.place)
    municipality = municipality_for(place, event.location_text, source.municipality, settings)
    place = replace(place, municipality=municipality or "")
    return replace(
        event,
        title=clean_line(
            html_to_text(event.title) if looks_like_html(event.title) else event.title
        )[:MAX_TITLE]
        or "Namnlöst evenemang",
        description=description[:MAX_DESCRIPTION],
        description_html=description_html[:MAX_DESCRIPTION],
        url=clean_url(event.url),
        organizer_url=clean_url(event.organizer_url),
        image=clean_url(event.image),
        organizer_name=clean_line(event.organizer_name) or source.name,
        place=place,
        location_text=clean_line(event.location_text),
        categories=merge_categories(source.categories, event.categories),
    )


def clean_line(text: str) -> str:
    text = html.unescape(text) if "&" in text else text
    text = _CONTROL_RE.sub("", text)
    return _SPACE_RE.sub(" ", text.replace("\n", " ")).strip()


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


def clean_url(url: str) -> str:
    url = url.strip()
    if url.startswith(("http://", "https://")) and " " not in url and len(url) < 2000:
        return url
    return ""


def parse_place(location: str, known: Place | None = None) -> Place:
    """Split "Name, Street 4, 598 30 Locality" into its parts where they can be told apart."""
    known = known or Place()
    text = clean_line(location)
    if not text:
        return known
    parts = [p.strip() for p in re.split(r"\s*[,;\n]\s*", text) if p.strip()]
    name = street = locality = ""
    rest: list[str] = []
    for part in parts:
        postcode = _POSTCODE_RE.match(part)
        if postcode and not locality:
            locality = postcode.group(2).strip()
        elif (not street and _STREET_RE.search(part) and part != parts[0]) or (
            not street and _STREET_RE.search(part) and len(parts) > 1 and parts[0] == part
        ):
            street = part
        else:
            rest.append(part)
    if rest:
        name = rest[0]
        if not locality and len(rest) > 1 and find_locality(rest[-1]):
            locality = rest[-1]
        if not locality and len(rest) > 1 and rest[-1] not in ("Sverige", "Sweden"):
            locality = rest[-1] if len(rest[-1]) < 40 else ""
    if not locality:
        locality = find_locality(text) or ""
    if locality in ("Sverige", "Sweden"):
        locality = ""
    return Place(
        name=name or street or locality,
        street=street,
        locality=locality,
        municipality=known.municipality,
        latitude=known.latitude,
        longitude=known.longitude,
    )


@functools.lru_cache(maxsize=1)
def _locality_pattern() -> re.Pattern[str]:
    names = sorted(LOCALITIES, key=len, reverse=True)
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(rf"(?<![\wåäöÅÄÖ])({alternatives})(?![\wåäöÅÄÖ])", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _localities_folded() -> dict[str, str]:
    return {name.casefold(): name for name in LOCALITIES}


def find_locality(text: str) -> str | None:
    """The last gazetteer locality named in ``text`` (addresses end with the town)."""
    matches = _locality_pattern().findall(text)
    if not matches:
        return None
    return _localities_folded()[matches[-1].casefold()]


def municipality_for(
    place: Place, location_text: str, default: str | None, settings: Settings
) -> str | None:
    """The municipality the event's own place names, else the source's default."""
    configured = {m.casefold(): m for m in settings.municipalities}
    for text in (place.locality, location_text, place.name):
        if not text:
            continue
        locality = find_locality(text)
        if locality:
            municipality = LOCALITIES[locality]
            if municipality.casefold() in configured:
                return configured[municipality.casefold()]
    return default


def merge_categories(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Categories in first-seen order, one per case-insensitive name, capitalised."""
    seen: dict[str, str] = {}
    for group in groups:
        for raw in group:
            name = clean_line(raw)[:60]
            if name and slugify(name) and name.casefold() not in seen:
                seen[name.casefold()] = name[0].upper() + name[1:]
    return tuple(seen.values())


@functools.lru_cache(maxsize=4096)
def slugify(text: str) -> str:
    """Lowercase ASCII slug: ``Västervik`` → ``vastervik``, ``Barn & familj`` → ``barn-familj``."""
    folded = unicodedata.normalize(
        "NFKD", text.replace("ß", "ss").replace("æ", "ae").replace("ø", "o")
    )
    ascii_text = folded.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:80]
