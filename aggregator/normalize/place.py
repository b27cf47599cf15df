"""Where an event is: "Name, Street 4, 598 30 Locality" split into its parts, the
locality found in the gazetteer, and the municipality it lies in."""

from __future__ import annotations

import functools
import re

from aggregator.model import Place, Settings
from aggregator.normalize.gazetteer import LOCALITIES
from aggregator.normalize.text import clean_line

_POSTCODE_RE = re.compile(r"^\s*(\d{3}\s?\d{2})\s+(.+)$")
_STREET_RE = re.compile(
    r"(gatan|gata|vägen|väg|gränd|torget|torg|backen|stigen|allén|plan|leden)\b.*\d|\s\d+\s?[A-Za-z]?$",
    re.IGNORECASE,
)


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
