"""The public page of one merged event (``/events/<id>``), the link every feed carries.

Swedish, ``lang="sv"``, server-rendered, every value escaped; the description is the
HTML ``normalize`` already sanitized. schema.org JSON-LD in the page lets other sites
and search engines read the event back.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from html import escape

from aggregator.model import CANCELLED, Settings
from aggregator.publish import PublishedEvent, iso_local, local_time, swedish_when

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1d1d1b}h1{margin-bottom:.25rem}.status{color:#a40000;font-weight:bold}"
    ".meta{color:#444}.sources li{margin:.2rem 0}footer{margin-top:2rem;font-size:.9rem}"
)


def _clock(value: datetime | date | None, settings: Settings) -> str:
    if isinstance(value, datetime):
        return local_time(value, settings).strftime("%H:%M")
    return ""


def when_text(event: PublishedEvent, settings: Settings) -> str:
    """ "lör 12 dec 2026 19:00–21:00", or the dates of an all-day event."""
    text = swedish_when(event, settings)
    if isinstance(event.end, datetime) and isinstance(event.start, datetime):
        same_day = (
            local_time(event.end, settings).date() == local_time(event.start, settings).date()
        )
        if same_day:
            return f"{text}–{_clock(event.end, settings)}"
        end = PublishedEvent(**{**_fields(event), "start": event.end})
        return f"{text} – {swedish_when(end, settings)}"
    if isinstance(event.end, date) and not isinstance(event.end, datetime):
        last_day = event.end - timedelta(days=1)
        if last_day > event.start:
            end = PublishedEvent(**{**_fields(event), "start": last_day})
            return f"{text} – {swedish_when(end, settings)}"
    return text


def _fields(event: PublishedEvent) -> dict[str, object]:
    return {name: getattr(event, name) for name in PublishedEvent.__slots__}


def schema_org(event: PublishedEvent, settings: Settings, page_url: str) -> dict[str, object]:
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "@id": page_url,
        "name": event.title,
        "startDate": iso_local(event.start, settings),
        "eventStatus": "https://schema.org/EventCancelled"
        if event.status == CANCELLED
        else "https://schema.org/EventScheduled",
        "url": event.url or page_url,
    }
    if event.end is not None:
        data["endDate"] = iso_local(event.end, settings)
    if event.description:
        data["description"] = event.description
    if event.location:
        place: dict[str, object] = {"@type": "Place", "name": event.place.name or event.location}
        address = {
            "@type": "PostalAddress",
            "streetAddress": event.place.street,
            "addressLocality": event.place.locality,
            "addressRegion": event.place.municipality,
            "addressCountry": "SE",
        }
        place["address"] = {k: v for k, v in address.items() if v}
        if event.place.latitude is not None:
            place["geo"] = {
                "@type": "GeoCoordinates",
                "latitude": event.place.latitude,
                "longitude": event.place.longitude,
            }
        data["location"] = place
    if event.organizer_name:
        data["organizer"] = {"@type": "Organization", "name": event.organizer_name}
    if event.image:
        data["image"] = event.image
    return data


def render_event_page(
    event: PublishedEvent, settings: Settings, source_names: dict[str, str], page_url: str
) -> str:
    title = escape(event.title)
    parts = [
        "<!doctype html>",
        '<html lang="sv"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title} – {escape(settings.calendar_name)}</title>",
        f"<style>{STYLE}</style>",
        '<script type="application/ld+json">'
        + json.dumps(schema_org(event, settings, page_url), ensure_ascii=False).replace(
            "</", "<\\/"
        )
        + "</script>",
        "</head><body><main>",
    ]
    if event.status == CANCELLED:
        parts.append('<p class="status">INSTÄLLT</p>')
    parts.append(f"<h1>{title}</h1>")
    start = iso_local(event.start, settings)
    parts.append(
        f'<p class="meta when"><time datetime="{escape(start)}">'
        f"{escape(when_text(event, settings))}</time></p>"
    )
    if event.location:
        parts.append(f'<p class="meta where">{escape(event.location)}</p>')
    if event.description_html:
        parts.append(f'<div class="description">{event.description_html}</div>')
    elif event.description:
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in event.description.split("\n\n") if p)
        parts.append(f'<div class="description">{paragraphs.replace(chr(10), "<br>")}</div>')
    if event.organizer_name:
        organizer = escape(event.organizer_name)
        if event.organizer_url:
            organizer = f'<a href="{escape(event.organizer_url)}">{organizer}</a>'
        parts.append(f'<p class="meta">Arrangör: {organizer}</p>')
    if event.categories:
        parts.append(f'<p class="meta">Kategorier: {escape(", ".join(event.categories))}</p>')
    if event.url:
        parts.append(f'<p><a href="{escape(event.url)}">Mer information</a></p>')
    items = []
    for source_id, url in event.sources:
        name = escape(source_names.get(source_id, source_id))
        items.append(f'<li><a href="{escape(url)}">{name}</a></li>' if url else f"<li>{name}</li>")
    parts.append("<h2>Källor</h2>")
    parts.append(f'<ul class="sources">{"".join(items)}</ul>')
    parts.append(
        '<footer><a href="/feeds/all.ics">Prenumerera på hela kalendern</a> · '
        f"{escape(settings.calendar_name)}</footer>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def render_message_page(title: str, message: str, settings: Settings) -> str:
    return (
        '<!doctype html>\n<html lang="sv"><head><meta charset="utf-8">'
        f"<title>{escape(title)} – {escape(settings.calendar_name)}</title>"
        f"<style>{STYLE}</style></head><body><main><h1>{escape(title)}</h1>"
        f'<p>{escape(message)}</p><p><a href="/feeds/all.ics">Hela kalendern</a></p>'
        "</main></body></html>\n"
    )
