"""What matching compares of an event: its title as a key, its place, day and URL.

``normalize_title`` folds a title to a comparison key (case, accents, dates, listing
noise); ``event_features`` extracts everything scoring needs of one event, once per event:
the venue's local day, the title's key words, the localities and blocking area of its
place, its normalised URL. Towns come from the gazetteer.

Pure functions over ``model.Event``: no I/O, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from aggregator.model import Event
from aggregator.normalize.gazetteer import LOCALITIES

NEAR_MIDNIGHT_MINUTES = 90  # such events are also compared with the neighbouring day
# Entries kept by the caches of per-event text (titles, places, title + place): one match
# batch's worth (``update.MATCH_BATCH`` = 6,000 members). Sized to the calendar instead
# (65,536), the title + place cache alone held 52 MB at 100k events and 92 MB at 200k,
# the growth of a whole calendar that issue 11 bounds; a batch's repeats still hit.
TEXT_CACHE = 1 << 13

# fmt: off
_STOPWORDS = frozenset({
    "i", "på", "med", "och", "för", "till", "av", "en", "ett", "vid", "om", "från", "hos",
    "den", "det", "de", "the", "at", "and", "of", "in", "on",
})
_NOISE = (
    "välkommen till", "välkomna till", "välkommen på", "välkomna på", "välkommen", "välkomna",
    "nu på", "inställt", "inställd", "inställda", "avlyst", "avlyses", "cancelled", "canceled",
    "nytt datum", "ny tid", "ändrad tid", "flyttat", "flyttad", "uppskjutet", "slutsålt",
    "utsålt", "fullbokat", "fullsatt", "få biljetter kvar", "få platser kvar",
    "sista biljetterna", "biljetter ute nu", "biljettsläpp", "köp biljett", "biljetter",
    "biljett", "urpremiär", "galapremiär", "premiär", "extrainsatt", "extra insatt",
    "fri entré", "gratis entré", "entré fri", "gratis", "obs", "nyhet", "uppdaterat",
)
# What a venue is, as opposed to which one: a church, a village hall, a school … is named
# after its parish or village ("Pelarne kyrka", "Tuna kyrka"), so the words beside these
# tell two venues of one kind apart. Base forms; definite forms are derived below.
_VENUE_KINDS = (
    "kyrka", "domkyrka", "kapell", "församlingshem", "församlingsgård", "församlingshus",
    "missionshus", "missionskyrka", "bygdegård", "hembygdsgård", "byagård", "bystuga",
    "skola", "förskola", "folkhögskola", "bibliotek", "folkets hus", "folkets park",
    "medborgarhus", "kulturhus", "konserthus", "stadshus", "ordenshus", "samlingslokal",
    "teater", "biograf", "bio", "museum", "konsthall", "galleri", "idrottshall", "sporthall",
    "ishall", "simhall", "arena", "idrottsplats", "stadion", "torg", "park", "kyrkogård",
    "prästgård", "hotell", "restaurang", "café", "kafé", "pub", "loge", "hamn", "brygga",
    "scen", "sal", "aula", "gymnastiksal", "matsal",
)
_COUNTRIES = frozenset({"sverige", "sweden", "schweden"})  # an address's last line, no venue
# fmt: on
_NOISE_RE = re.compile(
    r"(?<!\w)(?:"
    + "|".join(re.escape(n) for n in sorted(_NOISE, key=len, reverse=True))
    + r")(?!\w)"
)
_MONTHS = (
    "januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december"
    "|jan|feb|mar|apr|jun|aug|sep|sept|okt|nov|dec"
)
_DATE_TIME_RE = re.compile(
    r"\bkl\.?\s*\d{1,2}(?:[.:]\d{2})?(?:\s*[-–]\s*\d{1,2}(?:[.:]\d{2})?)?"  # kl 19, kl. 19.00-21
    r"|\b\d{1,2}[.:]\d{2}\b"  # 19:00
    r"|\b(?:19|20)\d{2}(?:/\d{2,4})?\b"  # 2027, 2026/27
    r"|\b\d{1,2}/\d{1,2}\b"  # 12/12
    rf"|\b\d{{1,2}}(?::?e)?\s+(?:{_MONTHS})\b"  # 13 dec, 1:a maj is kept
    r"|\b(?:mån|tis|ons|tors|fre|lör|sön)dag(?:en|ar)?\b"
)
_NON_WORD_RE = re.compile(r"[\W_]+")
_LOCALITY = {name.casefold(): name.casefold() for name in LOCALITIES}
_MUNICIPALITY_OF = {name.casefold(): m.casefold() for name, m in LOCALITIES.items()}
_TWO_WORD_LOCALITIES = frozenset(k for k in _LOCALITY if " " in k)
_SEATS = frozenset(k for k, m in _MUNICIPALITY_OF.items() if k == m)


def _kind_forms() -> tuple[dict[str, str], tuple[str, ...]]:
    """Every written form of a venue kind → its base ("kyrkan", "kyrkorna" → "kyrka"), and
    the forms that may end a compound ("Pelarnekyrkan", "stadsparken"), longest first."""
    forms: dict[str, str] = {}
    compound: set[str] = set()
    for base in _VENUE_KINDS:
        heads = [base] + ([base[:-1]] if base.endswith("a") else [])
        for head in heads:
            for ending in (
                "",
                "n",
                "en",
                "et",
                "t",
                "na",
                "ar",
                "arna",
                "er",
                "erna",
                "or",
                "orna",
            ):
                forms.setdefault(head + ending, base)
        if base.endswith("um"):
            forms.setdefault(base[:-2] + "et", base)  # museum → museet
        if " " not in base:
            definite = (base, base + "n", base + "en", base + "et", base[:-2] + "et")
            compound.update(f for f in definite if len(f) >= 4 and forms.get(f) == base)
    return forms, tuple(sorted(compound, key=len, reverse=True))


_KIND_OF, _COMPOUND_KINDS = _kind_forms()


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    """Strip accents from Latin letters except å ä ö, which are letters of their own."""
    table: dict[int, str] = {ord("æ"): "ä", ord("ø"): "ö", ord("&"): " och "}
    for code in range(0xC0, 0x250):
        ch = chr(code)
        if ch in "åäöÅÄÖæøÆØ":
            continue
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        if base != ch and base.isascii():
            table[code] = base.lower()
    return table


def _fold(text: str) -> str:
    """Casefolded, accent-folded (Swedish letters kept), in NFC."""
    text = unicodedata.normalize("NFC", text).casefold()
    return text if text.isascii() and "&" not in text else text.translate(_fold_table())


def _words(text: str) -> list[str]:
    return _NON_WORD_RE.sub(" ", _fold(text)).split()


def normalize_title(title: str) -> str:
    """The title as a comparison key: no case, punctuation, dates, years or listing noise.

    Listing sites decorate titles ("INSTÄLLT: …", "– premiär!", "Välkommen till …", "2027");
    none of that tells two events apart. Swedish å ä ö stay distinct letters.
    """
    text = _DATE_TIME_RE.sub(" ", _fold(title))
    text = _NON_WORD_RE.sub(" ", text)
    text = _NOISE_RE.sub(" ", text)
    return " ".join(text.split())


def _local(instant: datetime, tz_name: str) -> datetime:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)  # the model stores UTC; be lenient
    return instant.astimezone(_zone(tz_name))


@lru_cache(maxsize=16)
def _zone(tz_name: str) -> ZoneInfo:
    return ZoneInfo(tz_name)


def _stem(token: str) -> str:
    """Drop Swedish definite endings so "kyrkan"/"kyrka" and "torget"/"torg" meet."""
    if len(token) > 5 and token.endswith(("en", "et")):
        return token[:-2]
    if len(token) > 5 and token.endswith("an"):
        return token[:-1]
    return token


def _is_locality(token: str) -> bool:
    return token in _LOCALITY or (token.endswith("s") and token[:-1] in _LOCALITY)


def _localities_in(words: Sequence[str]) -> set[str]:
    found = set()
    for index, word in enumerate(words):
        if word in _LOCALITY:
            found.add(word)
        elif word.endswith("s") and word[:-1] in _LOCALITY:
            found.add(word[:-1])  # "Virserums Folkets hus"
        if index + 1 < len(words):
            pair = f"{word} {words[index + 1]}"
            for candidate in (pair, pair[:-1] if pair.endswith("s") else ""):
                if candidate in _TWO_WORD_LOCALITIES:
                    found.add(candidate)
    return found


def _title_localities(words: Sequence[str]) -> set[str]:
    """Towns a title places itself in ("Luciatåg i Järeda"), not teams ("Dackarna – Vetlanda")."""
    found = set()
    for before, word in pairwise(words):
        if before in ("i", "på", "vid") and _is_locality(word):
            found.add(word if word in _LOCALITY else word[:-1])
    return found


_URL_RE = re.compile(r"^https?://(?:www\.|m\.)?([^/?#:@]+)(?::\d+)?(/[^?#]*)?(?:\?([^#]*))?", re.I)


def _normal_url(url: str) -> str:
    """A URL as an identity: no scheme, www, tracking parameters or trailing slash.

    A bare host ("https://teatern.se/") names an organizer, not an event, so it gives "".
    """
    found = _URL_RE.match(url.strip())
    if not found:
        return ""
    host, path, query = found.group(1).lower(), (found.group(2) or "").rstrip("/"), found.group(3)
    if not path:
        return ""
    if query:
        kept = [
            (k, v)
            for k, v in parse_qsl(query)
            if not k.startswith("utm_") and k not in ("fbclid", "ref", "ref_source")
        ]
        query = urlencode(sorted(kept))
    return f"{host}{path}" + (f"?{query}" if query else "")


@dataclass(frozen=True, slots=True)
class Features:
    """What scoring needs of one event, computed once per event."""

    source: str
    # the date on the venue's clock (a 23:30 concert is on its local day, not its UTC
    # day), in the region's zone, not ``event.timezone``: sources that publish in UTC
    # still have their venue in the region
    day: date
    all_day: bool
    instant: float  # UTC epoch seconds of the start (local midnight for all-day)
    near_day: date | None  # the neighbouring day when the start is close to midnight
    title: str
    key: str  # title words without stopwords or the event's own place words
    tokens: frozenset[str]
    title_numbers: frozenset[str]  # "grupp 2" → {"2"}: two numbers, two events
    venue: str
    venue_kinds: frozenset[str]  # what the venue is: {"kyrka"}
    venue_names: frozenset[str]  # which one: {"pelarne"} of "Pelarne kyrka"
    venue_numbers: frozenset[str]  # "Sal 2" → {"2"}
    localities: frozenset[str]
    specific: frozenset[str]  # the localities less a seat that a village of it refines
    town: str  # the place's town when the gazetteer knows none of its words ("sjögestad")
    municipality: str
    area: str  # see _area: events of areas that do not meet have conflicting places
    lat: float | None
    lon: float | None
    url: str
    uid: str

    @property
    def stated(self) -> bool:
        """Whether the source said where (else the municipality is its default)."""
        return bool(self.venue or self.localities or self.town or self.lat is not None)


@dataclass(frozen=True, slots=True)
class _Venue:
    """A venue's name split into what it is, which one it is, and its numbers."""

    key: str  # stemmed words without towns, for fuzzy comparison
    kinds: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Texts:
    """Everything scoring takes from an event's title and place texts."""

    title: str
    words: tuple[str, ...]
    numbers: frozenset[str]
    venue: _Venue
    localities: frozenset[str]
    specific: frozenset[str]
    town: str
    area: str
    municipality: str


@lru_cache(maxsize=TEXT_CACHE)
def _title_words(title: str) -> tuple[str, tuple[str, ...]]:
    """(normalized title, its words without stopwords); titles repeat, so cached."""
    normalized = normalize_title(title)
    words = [w for w in normalized.split() if w not in _STOPWORDS] or normalized.split()
    return normalized, tuple(words)


_SAINT_RE = re.compile(r"\bs(?::t|t\.|anct)(?=\s)", re.I)  # "S:t Olofs", "St. Olofs"


def _venue_words(text: str) -> list[str]:
    words = _words(_SAINT_RE.sub("sankt", text))
    return [w for w in words if w not in _STOPWORDS and w not in _COUNTRIES]


def _name_word(word: str) -> str:
    """ "olofs" → "olof", "virserums" → "virserum": a possessive names the same one."""
    return word[:-1] if word.endswith("s") and len(word) > 4 else word


def _venue_of(words: Sequence[str]) -> _Venue:
    """Split a venue's words: "Pelarne kyrka" is a kyrka named Pelarne, "Stora torget" a
    torg named Stora, "Pelarnekyrkan" too; "Sal 2" has the number 2."""
    key = " ".join(_stem(w) for w in words if not _is_locality(w))
    kinds: set[str] = set()
    names: set[str] = set()
    numbers: set[str] = set()
    index = 0
    while index < len(words):
        word = words[index]
        pair = f"{word} {words[index + 1]}" if index + 1 < len(words) else ""
        index += 1
        if pair in _KIND_OF:
            kinds.add(_KIND_OF[pair])
            index += 1
        elif word.isdigit():
            numbers.add(word)
        elif word in _KIND_OF:
            kinds.add(_KIND_OF[word])
        else:
            for form in _COMPOUND_KINDS:
                if word.endswith(form) and len(word) - len(form) >= 3:
                    kinds.add(_KIND_OF[form])
                    word = word[: -len(form)]
                    break
            names.add(_name_word(word))
    return _Venue(key, frozenset(kinds), frozenset(names), frozenset(numbers))


@lru_cache(maxsize=TEXT_CACHE)
def _place_features(
    name: str, street: str, locality: str, municipality: str, location_text: str
) -> tuple[frozenset[str], frozenset[str], str, str, _Venue]:
    """(place words, localities, town, municipality, venue); venues repeat, so cached."""
    place_words = _words(" ".join((name, street, locality, location_text)))
    localities = frozenset(_localities_in(place_words))
    town = "" if localities else " ".join(_words(locality))
    municipality = _fold(municipality).removesuffix(" kommun")
    venue = _Venue("")
    for text in (name, *location_text.split(",")):
        # "Vimmerby, Stora torget": the venue is the first part that is not just a town
        words = _venue_words(text)
        if any(not _is_locality(w) for w in words):
            venue = _venue_of(words)
            break
    return frozenset(place_words), localities, town, municipality, venue


def _area(localities: frozenset[str]) -> str:
    """The blocking area: a village, "*municipality" when the town may stand for the whole
    municipality (``seat_compatible``), or "" when unknown or spread over several."""
    if len(localities) == 1:
        (only,) = localities
        return f"*{only}" if _MUNICIPALITY_OF[only] == only else only
    municipalities = {_MUNICIPALITY_OF[x] for x in localities}
    return f"*{municipalities.pop()}" if len(municipalities) == 1 else ""


def _specific(localities: frozenset[str]) -> frozenset[str]:
    """Drop a municipality's seat when a village of it is named too: "Tuna kyrka,
    Vimmerby" is in Tuna, and "Pelarne kyrka, Vimmerby" is not the same place."""
    villages = {_MUNICIPALITY_OF[x] for x in localities if x not in _SEATS}
    return frozenset(x for x in localities if not (x in _SEATS and x in villages))


REGIONS = tuple(sorted(set(_MUNICIPALITY_OF.values())))


def region_of(area: str) -> str:
    return area[1:] if area.startswith("*") else _MUNICIPALITY_OF[area]


def areas_meet(x: str, y: str) -> bool:
    """Whether events of two areas can be the same event (else their places conflict)."""
    if x == y or not x or not y:
        return True
    if x.startswith("*") and (y[1:] if y.startswith("*") else _MUNICIPALITY_OF[y]) == x[1:]:
        return True
    return y.startswith("*") and not x.startswith("*") and _MUNICIPALITY_OF[x] == y[1:]


@lru_cache(maxsize=TEXT_CACHE)
def _text_features(
    title: str, name: str, street: str, locality: str, municipality: str, location_text: str
) -> _Texts:
    normalized, words = _title_words(title)
    own, localities, town, municipality, venue = _place_features(
        name, street, locality, municipality, location_text
    )
    # the title's own place words say nothing the place does not ("Julmarknad i Virserum")
    kept = tuple(
        w
        for w in words
        if w not in own and not (w.endswith("s") and w[:-1] in own) and not _is_locality(w)
    )
    named = frozenset(_title_localities(normalized.split()))
    if not localities:
        localities = named
    elif localities <= _SEATS:
        # "Luciatåg i Pelarne" placed at "Kyrkan, Vimmerby": the title names the village
        seats = {_MUNICIPALITY_OF[x] for x in localities}
        localities |= {x for x in named if x not in _SEATS and _MUNICIPALITY_OF[x] in seats}
    area = _area(localities)
    if not municipality and area:
        municipality = area[1:] if area.startswith("*") else _MUNICIPALITY_OF[area]
    numbers = frozenset(w for w in normalized.split() if w.isdigit())
    return _Texts(
        normalized, kept or words, numbers, venue, localities, _specific(localities),
        "" if localities else town, area, municipality,
    )  # fmt: skip


TextMemo = dict[tuple[str, ...], _Texts]


def _event_texts(event: Event, memo: TextMemo | None = None) -> _Texts:
    """An event's text features; with ``memo`` (one matching call's own), events with
    the same title and place share one result however many the call holds, and it is
    released with the call, while the process-wide cache stays a batch's size."""
    place = event.place
    key = (
        event.title, place.name, place.street, place.locality, place.municipality,
        event.location_text,
    )  # fmt: skip
    if memo is None:
        return _text_features(*key)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _text_features(*key)
    return found


def title_tokens(event: Event) -> frozenset[str]:
    """``event_features(event, …).tokens`` alone: counting a calendar's title anchors
    needs no times, URLs or venues, and skipping them halves what that pass costs."""
    return frozenset(_event_texts(event).words)


def event_features(event: Event, tz_name: str, memo: TextMemo | None = None) -> Features:
    place = event.place
    texts = _event_texts(event, memo)
    if isinstance(event.start, datetime):
        local = _local(event.start, tz_name)
        day = local.date()
        minute = local.hour * 60 + local.minute
        near = None
        if minute < NEAR_MIDNIGHT_MINUTES:
            near = day - timedelta(days=1)
        elif minute >= 24 * 60 - NEAR_MIDNIGHT_MINUTES:
            near = day + timedelta(days=1)
        instant = local.timestamp()
        all_day = False
    else:
        day, near, all_day = event.start, None, True
        instant = datetime(day.year, day.month, day.day, tzinfo=_zone(tz_name)).timestamp()
    return Features(
        source=event.source_id,
        day=day,
        all_day=all_day,
        instant=instant,
        near_day=near,
        title=texts.title,
        key=" ".join(texts.words),
        tokens=frozenset(texts.words),
        title_numbers=texts.numbers,
        venue=texts.venue.key,
        venue_kinds=texts.venue.kinds,
        venue_names=texts.venue.names,
        venue_numbers=texts.venue.numbers,
        localities=texts.localities,
        specific=texts.specific,
        town=texts.town,
        municipality=texts.municipality,
        area=texts.area,
        lat=place.latitude,
        lon=place.longitude,
        url=_normal_url(event.url),
        uid=event.uid.strip(),
    )


def seat_compatible(xs: frozenset[str], ys: frozenset[str]) -> bool:
    """ "Hultsfred" may stand for the whole municipality that Virserum lies in."""
    return any(_MUNICIPALITY_OF.get(y) == x for x in xs for y in ys) or any(
        _MUNICIPALITY_OF.get(x) == y for x in xs for y in ys
    )
