"""Clean-up every harvested Event goes through: text, HTML, place, municipality, categories.

Pure functions of (event, source, settings): no I/O, no clock.

    text.py        lines, HTML (sanitized or as text), URLs, slugs
    place.py       place parts, locality, municipality
    categories.py  categories of the source and the event
    gazetteer.py   localities and their municipalities;  timezones.py, urls.py
"""

from __future__ import annotations

from dataclasses import replace

from aggregator.model import Event, Settings, Source
from aggregator.normalize.categories import merge_categories
from aggregator.normalize.place import find_locality, municipality_for, parse_place
from aggregator.normalize.text import (
    clean_line,
    clean_multiline,
    clean_title,
    clean_url,
    html_title_to_text,
    html_to_text,
    looks_like_html,
    sanitize_html,
    slugify,
)

__all__ = [
    "clean_line",
    "clean_multiline",
    "clean_title",
    "clean_url",
    "find_locality",
    "html_title_to_text",
    "html_to_text",
    "looks_like_html",
    "merge_categories",
    "municipality_for",
    "normalize_event",
    "parse_place",
    "sanitize_html",
    "slugify",
]

MAX_TITLE = 300
MAX_DESCRIPTION = 20_000


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
        # each harvester hands over its title as plain text (it knows whether its format
        # carries HTML); guessing here would eat a literal "<script>" or "a<b>c"
        title=clean_title(event.title)[:MAX_TITLE] or "Namnlöst evenemang",
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
