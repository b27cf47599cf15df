"""What the Graph API reader and the export reader share: the harvest's state and
the small readers of item values (both formats write ids, names and coordinates
the same loose way)."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from aggregator.harvest.context import HarvestContext
from aggregator.harvest.encoding import decode_calendar_bytes
from aggregator.harvest.facebook.redact import scrub_event
from aggregator.model import Event, PageFetcher

log = logging.getLogger(__name__)

UNPACK_BUDGET_FACTOR = 4  # total bytes unpacked from zips ≤ 4 × settings.max_bytes
FACEBOOK_EVENT_URL = "https://www.facebook.com/events/{}/"
ITEM_ERRORS = (ValueError, TypeError, KeyError, OverflowError)


class ItemProblem(ValueError):
    """Why one event item cannot be used, as a Swedish clause the organizer can act on
    (any other error's text is the library's, and goes to the debug log only)."""


_ID_RE = re.compile(r"^\d{1,30}$")


@dataclass(kw_only=True)
class FacebookContext(HarvestContext):
    """One Facebook harvest: the events kept so far (by key) and what was passed over."""

    budget: int = 0  # bytes that may still be unpacked from zips
    events: dict[str, Event] = field(default_factory=dict)
    dyi_lists: list[tuple[str, str, list[Any]]] = field(default_factory=list)
    past: int = 0
    drafts: int = 0
    pacific: int = 0

    def add(self, event: Event) -> None:
        """Keep ``event`` unless it is past or a repeat of a key already seen; past the
        source's cap the harvest fails (``take``)."""
        if self.ended_before_window(event.end or event.start):
            self.past += 1
            return
        if event.key in self.events:
            return  # first wins: hosted before joined, the newest export first
        self.take()
        self.events[event.key] = scrub_event(event, self.secrets)


class BlobParser(Protocol):
    """The harvester's dispatch on what some bytes are (a zip hands each member back)."""

    def __call__(
        self,
        content: bytes,
        name: str,
        ctx: FacebookContext,
        fetch_page: PageFetcher | None,
        depth: int,
    ) -> None: ...


def object_of(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (fields are often missing)."""
    return value if isinstance(value, dict) else {}


def text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def id_of(value: Any) -> str:
    """A Facebook id (digits only), or "" for anything else."""
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    return text if _ID_RE.match(text) else ""


def coordinates(lat: Any, lon: Any) -> tuple[float | None, float | None]:
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None, None
    if -90 <= la <= 90 and -180 <= lo <= 180 and (la, lo) != (0.0, 0.0):
        return la, lo
    return None, None


def hash_key(title: str, start: str, prefix: str = "hash") -> str:
    digest = hashlib.sha256(f"{title}\x00{start}".encode()).hexdigest()[:20]
    return f"{prefix}:{digest}"


def describe(item: Any) -> str:
    if not isinstance(item, dict):
        return "(inte ett objekt)"
    name = repair_mojibake(text_of(item.get("name")))[:60] or "(utan titel)"
    event_id = id_of(item.get("id"))
    return f"”{name}”" + (f" (id {event_id})" if event_id else "")


def reason(exc: BaseException, ctx: HarvestContext) -> str:
    """Our own clause for an ItemProblem; for anything else a Swedish stand-in, the
    library's text logged at debug with the source id."""
    if isinstance(exc, ItemProblem):
        return str(exc)[:200]
    log.debug("%s: %s: %s", ctx.source.id, type(exc).__name__, str(exc)[:500])
    return "uppgifterna om evenemanget gick inte att läsa"


def repair_mojibake(text: str) -> str:
    """Undo DYI's UTF-8-as-Latin-1 escaping ("LÃ¶nneberga" → "Lönneberga") when it
    round-trips; text that is already right fails the round trip and is kept."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def load_json(content: bytes, name: str, ctx: FacebookContext) -> Any:
    """Parsed JSON, or a ParseError that says what is wrong with ``name``."""
    what = name or "filen"
    text = decode_calendar_bytes(content)
    try:
        return json.loads(text)
    except RecursionError:
        # raised by the decoder on hostile nesting; no real export nests like this
        raise ctx.error(
            f"{what} är JSON som är för djupt nästlad för att vara evenemangsdata, så den "
            "lästes inte. Ladda ner exporten från Facebook igen."
        ) from None
    except ValueError as exc:
        log.debug("%s: %s is not JSON: %s", ctx.source.id, what, exc)
        raise ctx.error(
            f"{what} är inte giltig JSON; den kan vara avklippt. Ladda ner den från Facebook igen."
        ) from exc
