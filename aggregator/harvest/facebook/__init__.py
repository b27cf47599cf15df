"""Facebook events → Events: Graph API JSON, "Download your information" exports, .ics.

Facebook gives organizers no feed, so every way event data really leaves it is
read here (see ``corpus/facebook/FACEBOOK_FORMATS.md``):

* Graph API ``/{page-id}/events`` answers, following ``paging.next``;
* DYI exports, as the ``.zip`` or the JSON inside it: UTF-8 text escaped as
  Latin-1, epoch timestamps, no event ids (read in ``export.py``);
* the ``.ics`` export, handed to the iCal harvester;
* a folder the operator drops any of these into (``fetch`` reads its files, and
  ``export.parse_folder`` reads them like the members of one zip).

The Graph API reader is ``graph.py``; what both share is in ``common.py``.

Identity: the Facebook event id is the key and ``facebook:{id}`` the uid, so an
event from the API and from an .ics export is one event. DYI items carry no id:
their key is ``dyi:`` + a hash of the repaired name and ``start_timestamp``
(stable across re-exports of the same event) and their uid stays empty, so
dedupe matches them by title, time and place.

Access tokens never leave the harvester as text: every warning and error is
redacted (``HarvestContext``), every event scrubbed (``redact.scrub_event``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from aggregator.harvest import ical
from aggregator.harvest.facebook.common import (
    FACEBOOK_EVENT_URL,
    UNPACK_BUDGET_FACTOR,
    FacebookContext,
    load_json,
)
from aggregator.harvest.facebook.export import dyi_lists, finish_dyi, parse_folder, parse_zip
from aggregator.harvest.facebook.graph import (
    describe_graph_error,
    graph_error_message,
    is_graph,
    parse_graph,
)
from aggregator.harvest.facebook.redact import token_secrets
from aggregator.model import (
    WINDOW_BACK,
    Event,
    ExportFolder,
    HarvestResult,
    PageFetcher,
    Settings,
    Source,
)

__all__ = ["describe_graph_error", "facebook_identity", "parse_facebook"]

log = logging.getLogger(__name__)

_FB_UID_RE = re.compile(r"^(?:e(\d+)@facebook\.com|facebook:(\d+))$", re.IGNORECASE)


def parse_facebook(
    content: bytes,
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    fetch_page: PageFetcher | None = None,
    folder: ExportFolder | None = None,
) -> HarvestResult:
    """Events of a Graph API answer, a DYI export (.zip/.json), a .ics export, or the
    files of an export folder."""
    ctx = FacebookContext.create(
        source, settings, now, fetch_page=fetch_page, secrets=token_secrets(source)
    )
    ctx.budget = UNPACK_BUDGET_FACTOR * settings.max_bytes
    if folder is not None:
        parse_folder(folder, ctx, _parse_blob)
    else:
        _parse_blob(content, "", ctx, fetch_page, depth=0)
    finish_dyi(ctx)
    if ctx.pacific:
        ctx.warn(
            f"{ctx.pacific} evenemang hade Facebooks gamla tidsangivelse i Stillahavstid; "
            f"klockslagen lästes som tid i {settings.timezone}. Kontrollera tiderna i "
            "förhandsvisningen."
        )
    if ctx.drafts:
        log.debug("%s: %d draft events left out", source.id, ctx.drafts)
    if ctx.past and not ctx.events:
        ctx.warn(
            f"Alla {ctx.past} evenemang som hittades slutade för mer än {WINDOW_BACK.days} "
            "dagar sedan, och passerade evenemang visas inte; lägg in kommande evenemang."
        )
    elif ctx.past:
        log.debug("%s: %d events ended before the window", source.id, ctx.past)
    return HarvestResult(tuple(ctx.events.values()), tuple(ctx.warnings), kind="facebook")


def _parse_blob(
    content: bytes, name: str, ctx: FacebookContext, fetch_page: PageFetcher | None, depth: int
) -> None:
    head = content[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PK"):
        parse_zip(content, ctx, depth, _parse_blob)
    elif head[:15].upper().startswith((b"BEGIN:VCALENDAR", b"BEGIN:VEVENT")):
        _parse_ics(content, ctx)
    elif head.startswith((b"{", b"[")):
        _parse_json(load_json(content, name, ctx), name, ctx, fetch_page)
    elif not head:
        raise ctx.error(
            f"{name or 'Filen'} är tom. Ladda ner exporten från Facebook igen, eller "
            "kontrollera adressen."
        )
    elif head.startswith(b"<"):
        raise ctx.error(
            "Det här är en webbsida (HTML), inte evenemangsdata från Facebook. Är det en "
            "export från ”Ladda ner din information”, ladda ner den igen och välj formatet "
            "JSON."
        )
    else:
        raise ctx.error(
            "Det här är inte evenemangsdata från Facebook (varken ett svar från Graph API, "
            "en export som .zip/.json eller en .ics-fil). Kontrollera adressen eller filen."
        )


def _parse_json(data: Any, name: str, ctx: FacebookContext, fetch_page: PageFetcher | None) -> None:
    if isinstance(data, dict) and "error" in data and not data.get("data"):
        raise ctx.error(graph_error_message(data["error"], ctx.source.token_env))
    if is_graph(data):
        parse_graph(data, ctx, fetch_page)
        return
    lists = list(dyi_lists(data, name))
    if not lists:
        raise ctx.error(
            f"{name or 'JSON-filen'} innehåller inga evenemang från Facebook (varken ett svar "
            "från Graph API med ”data” eller en export med ”start_timestamp”). Ladda ner "
            "exporten igen med ”Evenemang” valt och formatet JSON."
        )
    ctx.dyi_lists.extend(lists)


def _parse_ics(content: bytes, ctx: FacebookContext) -> None:
    result = ical.parse_ical(content, ctx.source, ctx.settings, now=ctx.now)
    for warning in result.warnings:
        ctx.warn(warning.message)
    for event in result.events:
        ctx.add(facebook_identity(event))


def facebook_identity(event: Event) -> Event:
    """An iCal event with UID ``e123@facebook.com`` keyed like the Graph API: ``123``,
    uid ``facebook:123``, canonical URL."""
    match = _FB_UID_RE.match(event.uid)
    if not match:
        return event
    event_id = match.group(1) or match.group(2)
    return replace(
        event, key=event_id, uid=f"facebook:{event_id}", url=FACEBOOK_EVENT_URL.format(event_id)
    )
