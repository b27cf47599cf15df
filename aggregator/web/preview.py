"""What we would read from a calendar an organizer is about to register, in Swedish.

The preview fetches through the same guard and limits as a harvest (``fetch.fetch_url``:
size cap, timeouts, redirects, the SSRF check at every hop) but always with private
addresses refused, whatever ``allow_private_hosts`` says: that setting is the operator's
trust in their own sources.yaml, not in an anonymous visitor. It then parses with the
pipeline's own ``parse_source_bytes``, so what the preview shows is what a harvest stores.

When nothing is found the organizer gets a reason and a hint that fits the address:
Google Calendar's "secret address in iCal format", a WordPress events feed, a Facebook
export instead of a Facebook page.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime

from aggregator import fetch
from aggregator.config import Config
from aggregator.errors import FetchError, FetchFailure, ParseError, SourceError
from aggregator.model import Event, HarvestResult, Settings, Source
from aggregator.normalize.urls import host_of
from aggregator.pipeline import parse_source_bytes
from aggregator.publish import published_from_event
from aggregator.store.codec import event_span, iso
from aggregator.store.registrations import Upload
from aggregator.web.pages import when_text
from aggregator.web.submission import MAX_UPLOAD

log = logging.getLogger(__name__)

PREVIEW_SOURCE_ID = "registrering"
PREVIEW_EVENTS = 10  # shown to the organizer
PREVIEW_MAX_PAGES = 10  # detail pages a preview of a website may follow
PREVIEW_TIMEOUT = 15.0  # seconds; the organizer is waiting

KIND_NAMES = {
    "ical": "iCal-kalender",
    "feed": "RSS/Atom-flöde",
    "html": "webbplats med evenemang",
    "facebook": "Facebook-export",
}


@dataclass(frozen=True, slots=True)
class PreviewEvent:
    title: str
    when: str  # "lör 12 dec 2026 19:00–21:00"
    start: str  # ISO 8601, for machines
    place: str
    url: str
    cancelled: bool


@dataclass(frozen=True, slots=True)
class Preview:
    """``found``: a calendar was read (even an empty one); else ``reason`` says why not."""

    found: bool
    kind: str | None = None
    events: tuple[PreviewEvent, ...] = ()
    total: int = 0
    upcoming: int = 0
    reason: str = ""
    hint: str = ""
    detail: str = ""  # the technical message behind a reason, for the curious
    warnings: tuple[str, ...] = ()

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind or "", "")

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["kind_name"] = self.kind_name
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preview:
        data = json.loads(text or "{}")
        if "found" not in data:
            return cls(found=False, reason="Ingen förhandsvisning sparad.")
        events = tuple(PreviewEvent(**e) for e in data.get("events", ()))
        return cls(
            found=bool(data["found"]),
            kind=data.get("kind"),
            events=events,
            total=int(data.get("total", 0)),
            upcoming=int(data.get("upcoming", 0)),
            reason=str(data.get("reason", "")),
            hint=str(data.get("hint", "")),
            detail=str(data.get("detail", "")),
            warnings=tuple(data.get("warnings", ())),
        )


def guarded_config(config: Config, *, max_bytes: int | None = None) -> Config:
    """The configuration a visitor's address is fetched with: private hosts refused
    (only ``trusted_hosts`` excepted), a shorter timeout, the same size cap."""
    settings = replace(
        config.settings,
        allow_private_hosts=False,
        timeout=min(config.settings.timeout, PREVIEW_TIMEOUT),
        max_bytes=min(config.settings.max_bytes, max_bytes or config.settings.max_bytes),
    )
    return replace(config, settings=settings)


def preview_source(url: str, name: str, municipality: str, categories: tuple[str, ...]) -> Source:
    return Source(
        id=PREVIEW_SOURCE_ID,
        name=name or "Förhandsvisning",
        url=url or None,
        municipality=municipality or None,
        categories=categories,
        max_pages=PREVIEW_MAX_PAGES,
    )


def preview_url(url: str, source: Source, config: Config, now: datetime) -> Preview:
    """Fetch ``url`` as a harvest would (guarded), parse it and describe what we found."""
    guarded = guarded_config(config)
    session = fetch.new_session(guarded.settings)
    try:
        try:
            fetched = fetch.fetch_url(
                url, guarded.settings, source_id=PREVIEW_SOURCE_ID, session=session
            )
        except FetchError as exc:
            reason, hint = explain_fetch_error(exc, url)
            return Preview(found=False, reason=reason, hint=hint, detail=exc.message)
        try:
            result = parse_source_bytes(
                fetched.content, source, guarded, now, fetched.content_type, session=session
            )
        except SourceError as exc:
            return _not_a_calendar(exc, url, fetched.content)
    finally:
        session.close()
    return describe(result, guarded.settings, now, url=url, content=fetched.content)


def preview_upload(upload: Upload, source: Source, config: Config, now: datetime) -> Preview:
    """Parse an uploaded Facebook export with the upload's own caps."""
    guarded = guarded_config(config, max_bytes=MAX_UPLOAD)
    export = replace(source, url=None, path=upload.name, kind="facebook")
    try:
        result = parse_source_bytes(upload.data, export, guarded, now)
    except SourceError as exc:
        return Preview(
            found=False,
            kind="facebook",
            reason="Vi kunde inte läsa filen som en export från Facebook.",
            hint=EXPORT_HINT,
            detail=exc.message,
        )
    return describe(result, guarded.settings, now)


def describe(
    result: HarvestResult, settings: Settings, now: datetime, *, url: str = "", content: bytes = b""
) -> Preview:
    """The next events with date, time and place, or why there are none."""
    upcoming = sorted(
        (e for e in result.events if event_span(e)[1] >= iso(now)), key=lambda e: event_span(e)[0]
    )
    warnings = tuple(w.message for w in result.warnings[:10])
    shown = tuple(preview_event(e, settings, now) for e in upcoming[:PREVIEW_EVENTS])
    base = Preview(
        found=True,
        kind=result.kind,
        events=shown,
        total=len(result.events),
        upcoming=len(upcoming),
        warnings=warnings,
    )
    if not result.events:
        if result.kind == "html":
            # a web page without any event data is not a calendar: say so, with a hint
            return replace(
                base,
                found=False,
                reason="Vi hittade ingen kalender på sidan.",
                hint=hint_for(url, content),
            )
        return replace(
            base,
            reason="Vi hittade kalendern, men den har inga evenemang just nu.",
            hint="Lägg in ett kommande evenemang och titta igen, eller kontrollera att ni "
            "angav rätt kalender.",
        )
    if not upcoming:
        return replace(
            base,
            reason=f"Vi hittade {len(result.events)} evenemang, men alla har redan varit.",
            hint="Kontrollera att kalendern är den ni använder nu; kommande evenemang visas "
            "här så fort de finns i den.",
        )
    return base


def preview_event(event: Event, settings: Settings, now: datetime) -> PreviewEvent:
    stamp = iso(now)
    published = published_from_event("", event, (), stamp, stamp, 0)
    return PreviewEvent(
        title=event.title,
        when=when_text(published, settings),
        start=_start_text(event.start),
        place=event.place.text or event.location_text,
        url=event.url,
        cancelled=event.status == "cancelled",
    )


def _start_text(value: datetime | date) -> str:
    return value.isoformat()


# -- why nothing was found ------------------------------------------------------------------

EXPORT_HINT = (
    "Ladda ner exporten från Facebook igen: Inställningar → Ladda ned din information → "
    "välj bara ”Evenemang”, formatet JSON, och ladda upp zip-filen som den är."
)
NO_ANSWER = ("Sidan svarar inte.", "Kontrollera adressen, eller försök igen om en stund.")
FOLLOW_IN_BROWSER = "Öppna adressen i webbläsaren och kopiera den adress du hamnar på."
GENERIC_FETCH_REASON = (
    "Vi kunde inte hämta sidan.",
    "Kontrollera adressen, eller försök igen om en stund.",
)
GENERIC_HINT = (
    "Leta efter en länk som heter ”Prenumerera”, ”iCal”, ”ICS”, ”Lägg till i kalender” eller "
    "”RSS” på er kalendersida och klistra in den adressen i stället."
)
# (reason, hint) for each way a fetch fails that needs no more than the failure itself
_FETCH_REASONS: dict[FetchFailure, tuple[str, str]] = {
    FetchFailure.PRIVATE_ADDRESS: (
        "Adressen pekar på en dator i ett internt nätverk, och dit hämtar vi aldrig något.",
        "Ange kalenderns offentliga adress.",
    ),
    FetchFailure.HTTP_STATUS: ("Sidan svarar med ett fel.", "Försök igen om en stund."),
    FetchFailure.NO_ANSWER: NO_ANSWER,
    FetchFailure.UNREACHABLE: NO_ANSWER,
    FetchFailure.TOO_SLOW: ("Sidan svarar för långsamt.", "Försök igen om en stund."),
    FetchFailure.TOO_BIG: (
        "Filen är större än vi kan läsa.",
        "Ange ett flöde med bara kommande evenemang, om kalendern kan ge ett sådant.",
    ),
    FetchFailure.TLS: (
        "Sidans säkerhetscertifikat är ogiltigt, så vi kan inte hämta den säkert.",
        "Be den som sköter webbplatsen att förnya certifikatet.",
    ),
    FetchFailure.REDIRECT_LOOP: (
        "Sidan skickar oss vidare för många gånger.",
        FOLLOW_IN_BROWSER,
    ),
    FetchFailure.REDIRECT_NOT_WEB: (
        "Sidan skickar oss vidare till något som inte är en webbadress vi kan läsa.",
        FOLLOW_IN_BROWSER,
    ),
    FetchFailure.INSECURE_REDIRECT: (
        "Sidan skickar oss vidare från en säker adress (https) till en osäker (http), och dit "
        "följer vi inte: svaret skulle kunna läsas eller ändras på vägen.",
        "Finns kalendern bara på http, ange dess http-adress (den du hamnar på i webbläsaren).",
    ),
    FetchFailure.BAD_ADDRESS: (
        "Adressen går inte att läsa som en vanlig webbadress.",
        "Kopiera adressen direkt från webbläsarens adressfält.",
    ),
}


def explain_fetch_error(exc: FetchError, url: str) -> tuple[str, str]:
    """(reason, hint) in Swedish for a failed fetch, by what failed (``exc.kind``) and the
    server's answer (``exc.status``); the fetch's own message stays as the detail."""
    if exc.status is not None:
        return _explain_status(exc.status, url)
    if exc.kind is FetchFailure.UNKNOWN_HOST:  # the name of the hop that failed, if known
        return (
            f"Adressen finns inte: namnet {host_of(exc.url or url)} hittas inte.",
            "Kontrollera stavningen, eller kopiera adressen direkt från webbläsaren.",
        )
    return _FETCH_REASONS.get(exc.kind, GENERIC_FETCH_REASON)


def _explain_status(status: int, url: str) -> tuple[str, str]:
    if status in (401, 403):
        hint = (
            google_hint()
            if "calendar.google.com" in url
            else "Kalendern måste vara öppen för alla; kontrollera att den är delad offentligt."
        )
        return (f"Sidan är inte öppen för oss (svar {status}).", hint)
    if status in (404, 410):
        return (
            f"Sidan finns inte (svar {status}).",
            "Kontrollera att adressen är rätt kopierad, hela vägen till slutet.",
        )
    if status == 429:
        return ("Sidan vill inte att vi hämtar så ofta just nu (svar 429).", "Försök igen senare.")
    return (f"Sidan svarar med ett fel (svar {status}).", "Försök igen om en stund.")


def _not_a_calendar(exc: SourceError, url: str, content: bytes) -> Preview:
    if isinstance(exc, FetchError):  # a page the parser followed could not be fetched
        reason, hint = explain_fetch_error(exc, url)
        return Preview(found=False, reason=reason, hint=hint, detail=exc.message)
    empty = isinstance(exc, ParseError) and "0 bytes" in exc.message
    return Preview(
        found=False,
        reason="Sidan är tom." if empty else "Vi hittade ingen kalender på sidan.",
        hint=hint_for(url, content),
        detail=exc.message,
    )


def google_hint() -> str:
    return (
        "I Google Kalender: öppna kalenderns inställningar → ”Integrera kalender” och kopiera "
        "”Hemlig adress i iCal-format” (eller den offentliga adressen i iCal-format om "
        "kalendern är offentlig)."
    )


def hint_for(url: str, content: bytes) -> str:
    """What to try instead, judged by the address and what the page looked like."""
    host = host_of(url)
    if host.endswith("calendar.google.com") or (host.endswith("google.com") and "/calendar" in url):
        return google_hint()
    if re.search(r"(^|\.)(facebook\.com|fb\.com|facebook\.se)$", host):
        return "Facebooksidor kan vi inte läsa direkt. " + EXPORT_HINT.replace("Ladda ner", "Hämta")
    if host.startswith("outlook.") or host.endswith(("office365.com", "outlook.com")):
        return (
            "I Outlook: Inställningar → Kalender → Delade kalendrar → ”Publicera en kalender” "
            "och kopiera ICS-länken."
        )
    if host.endswith("icloud.com"):
        return "I Apple Kalender: dela kalendern som offentlig och kopiera webcal-länken."
    head = content[:200_000].lower()
    if b"wp-content" in head or b"wp-json" in head:
        site = url.split("://", 1)[-1].split("/", 1)[0]
        return (
            "Sidan ser ut att vara byggd med WordPress. Med tillägget The Events Calendar finns "
            f"kalendern på https://{site}/?post_type=tribe_events&ical=1; annars kan ni prova "
            f"RSS-flödet https://{site}/feed/."
        )
    return GENERIC_HINT
