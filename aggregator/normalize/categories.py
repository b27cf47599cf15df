"""Categories: the source's and the event's own, one per name, capitalised."""

from __future__ import annotations

from aggregator.normalize.text import clean_line, slugify


def merge_categories(*groups: tuple[str, ...]) -> tuple[str, ...]:
    """Categories in first-seen order, one per case-insensitive name, capitalised."""
    seen: dict[str, str] = {}
    for group in groups:
        for raw in group:
            name = clean_line(raw)[:60]
            if name and slugify(name) and name.casefold() not in seen:
                seen[name.casefold()] = name[0].upper() + name[1:]
    return tuple(seen.values())
