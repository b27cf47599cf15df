"""Fuzzy cross-source matching: which harvested events are the same real event.

The exact stage in ``dedupe.py`` joins events that share a publisher UID. This module
finds the rest: the same concert from the theatre's calendar, its Facebook page and the
municipality's listing, each titled, timed and placed a little differently.

Wrongly merging two real events hides one of them, which is worse than a duplicate, so
every rule leans towards "not the same": a clear conflict on time, place or title vetoes
a match, the uncertain middle band goes to a human (``REVIEW`` ≤ total < ``MATCH``), and
clusters refuse any union that would put two clear non-matches (or two events of one
source) together, so A~B~C cannot chain A and C.

Pure functions over ``model.Event``: no I/O, no clock.
"""

from __future__ import annotations

import gc
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz

from aggregator.gazetteer import LOCALITIES
from aggregator.matching_clusters import join_matches
from aggregator.model import Event

MATCH = 0.80  # total at or above: merged
REVIEW = 0.55  # total at or above (and below MATCH): listed for a moderator
MAX_GAP_MINUTES = 45  # timed events further apart are different shows (14:00 vs 19:00)
NEAR_MIDNIGHT_MINUTES = 90  # such events are also compared with the neighbouring day
TITLE_CONFLICT = 0.5  # titles this different at one time and place are two events
FAR_KM = 20.0  # coordinates this far apart are two places
VENUE_CONFLICT = 0.5  # venue names this different in one town are two places
COMMON_SHARE = 0.01  # title anchors held by more of the events are too common to block on
COMMON_MIN = 200  # ... but only in catalogues big enough for that to matter

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


def local_day(event: Event, tz_name: str) -> date:
    """The date on the venue's clock: a 23:30 concert is on its local day, not its UTC day.

    ``tz_name`` is the region's zone, not ``event.timezone``: sources that publish in UTC
    still have their venue in the region.
    """
    if isinstance(event.start, datetime):
        return _local(event.start, tz_name).date()
    return event.start


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
class _Features:
    """What scoring needs of one event, computed once per event."""

    source: str
    day: date
    all_day: bool
    instant: float  # UTC epoch seconds of the start (local midnight for all-day)
    near_day: date | None  # the neighbouring day when the start is close to midnight
    title: str
    key: str  # title words without stopwords or the event's own place words
    tokens: frozenset[str]
    venue: str
    localities: frozenset[str]
    municipality: str
    area: str  # see _area: events of areas that do not meet have conflicting places
    lat: float | None
    lon: float | None
    url: str
    uid: str


@lru_cache(maxsize=1 << 16)
def _title_words(title: str) -> tuple[str, tuple[str, ...]]:
    """(normalized title, its words without stopwords); titles repeat, so cached."""
    normalized = normalize_title(title)
    words = [w for w in normalized.split() if w not in _STOPWORDS] or normalized.split()
    return normalized, tuple(words)


@lru_cache(maxsize=1 << 16)
def _place_features(
    name: str, street: str, locality: str, municipality: str, location_text: str
) -> tuple[frozenset[str], frozenset[str], str, str]:
    """(place words, localities, municipality, venue key); venues repeat, so cached."""
    place_words = _words(" ".join((name, street, locality, location_text)))
    localities = frozenset(_localities_in(place_words))
    municipality = _fold(municipality).removesuffix(" kommun")
    venue_words: list[str] = []
    for text in (name, *location_text.split(",")):
        # "Vimmerby, Stora torget": the venue is the first part that is not just a town
        venue_words = [
            _stem(w) for w in _words(text) if w not in _STOPWORDS and not _is_locality(w)
        ]
        if venue_words:
            break
    return frozenset(place_words), localities, municipality, " ".join(venue_words)


def _area(localities: frozenset[str]) -> str:
    """The blocking area: a village, "*municipality" when the town may stand for the whole
    municipality (``_seat_compatible``), or "" when unknown or spread over several."""
    if len(localities) == 1:
        (only,) = localities
        return f"*{only}" if _MUNICIPALITY_OF[only] == only else only
    municipalities = {_MUNICIPALITY_OF[x] for x in localities}
    return f"*{municipalities.pop()}" if len(municipalities) == 1 else ""


_REGIONS = tuple(sorted(set(_MUNICIPALITY_OF.values())))


def _region(area: str) -> str:
    return area[1:] if area.startswith("*") else _MUNICIPALITY_OF[area]


def _areas_meet(x: str, y: str) -> bool:
    """Whether events of two areas can be the same event (else their places conflict)."""
    if x == y or not x or not y:
        return True
    if x.startswith("*") and (y[1:] if y.startswith("*") else _MUNICIPALITY_OF[y]) == x[1:]:
        return True
    return y.startswith("*") and not x.startswith("*") and _MUNICIPALITY_OF[x] == y[1:]


@lru_cache(maxsize=1 << 16)
def _text_features(
    title: str, name: str, street: str, locality: str, municipality: str, location_text: str
) -> tuple[str, tuple[str, ...], frozenset[str], str, str, str]:
    """(title, title key words, localities, area, municipality, venue) of the texts."""
    normalized, words = _title_words(title)
    own, localities, municipality, venue = _place_features(
        name, street, locality, municipality, location_text
    )
    # the title's own place words say nothing the place does not ("Julmarknad i Virserum")
    kept = tuple(
        w
        for w in words
        if w not in own and not (w.endswith("s") and w[:-1] in own) and not _is_locality(w)
    )
    if not localities:
        localities = frozenset(_title_localities(normalized.split()))
    area = _area(localities)
    if not municipality and area:
        municipality = area[1:] if area.startswith("*") else _MUNICIPALITY_OF[area]
    return normalized, kept or words, localities, area, municipality, venue


def _features(event: Event, tz_name: str) -> _Features:
    place = event.place
    title, words, localities, area, municipality, venue = _text_features(
        event.title, place.name, place.street, place.locality, place.municipality,
        event.location_text,
    )  # fmt: skip
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
    return _Features(
        source=event.source_id,
        day=day,
        all_day=all_day,
        instant=instant,
        near_day=near,
        title=title,
        key=" ".join(words),
        tokens=frozenset(words),
        venue=venue,
        localities=localities,
        municipality=municipality,
        area=area,
        lat=place.latitude,
        lon=place.longitude,
        url=_normal_url(event.url),
        uid=event.uid.strip(),
    )


@dataclass(frozen=True, slots=True)
class PairScore:
    """Why two events are (not) the same: component scores in [0, 1] and decisive flags.

    ``total`` is title × time × place, so one weak component cannot be outvoted by two
    strong ones; a conflict makes it 0; a shared URL or UID lifts it to a match unless
    something conflicts.
    """

    time: float
    title: float
    place: float
    total: float
    same_url: bool = False
    same_uid: bool = False
    time_conflict: bool = False
    place_conflict: bool = False
    title_conflict: bool = False
    minutes: int | None = None  # start difference for two timed events
    notes: tuple[str, ...] = field(default=())

    @property
    def decisive(self) -> bool:
        return self.same_url or self.same_uid

    @property
    def decision(self) -> str:
        if is_clear_non_match(self) or self.total < REVIEW:
            return "different"
        return "match" if self.total >= MATCH else "review"

    @property
    def reason(self) -> str:
        """One line for `aggregator events show` and the review queue."""
        parts = [f"title {self.title:.2f}", f"time {self.time:.2f}", f"place {self.place:.2f}"]
        if self.minutes is not None:
            parts[1] += f" ({self.minutes} min apart)"
        flags = [
            name
            for name, on in (
                ("same URL", self.same_url),
                ("same UID", self.same_uid),
                ("times conflict", self.time_conflict),
                ("places conflict", self.place_conflict),
                ("titles conflict", self.title_conflict),
            )
            if on
        ]
        return f"{self.decision} {self.total:.2f}: " + ", ".join(parts + flags + list(self.notes))


def is_clear_non_match(score: PairScore) -> bool:
    """Two events that must never share a cluster, whatever joins them indirectly."""
    return score.time_conflict or score.place_conflict or score.title_conflict


def _time(a: _Features, b: _Features) -> tuple[float, bool, int | None]:
    """(score, conflict, minutes apart)."""
    if a.all_day and b.all_day:
        return (1.0, False, None) if a.day == b.day else (0.0, True, None)
    if a.all_day or b.all_day:
        whole, timed = (a, b) if a.all_day else (b, a)
        if whole.day == timed.day:
            return 0.9, False, None  # one source gives only the date
        if timed.near_day is not None and whole.day == timed.near_day < timed.day:
            return 0.75, False, None  # 00:30 local dated by its UTC instant (the day before)
        return 0.0, True, None
    minutes = round(abs(a.instant - b.instant) / 60)
    if minutes > MAX_GAP_MINUTES:
        return 0.0, True, minutes
    if minutes == 0:
        return 1.0, False, 0
    if minutes <= 15:
        return 0.97, False, minutes
    if minutes <= 30:
        return 0.93, False, minutes  # doors vs start, rounded times
    return 0.75, False, minutes


def _km(a: _Features, b: _Features) -> float:
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    dy = (a.lat - b.lat) * 111.2
    dx = (a.lon - b.lon) * 111.2 * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(dx, dy)


def _seat_compatible(xs: frozenset[str], ys: frozenset[str]) -> bool:
    """ "Hultsfred" may stand for the whole municipality that Virserum lies in."""
    return any(_MUNICIPALITY_OF.get(y) == x for x in xs for y in ys) or any(
        _MUNICIPALITY_OF.get(x) == y for x in xs for y in ys
    )


def _place(a: _Features, b: _Features) -> tuple[float, bool, str]:
    """(score, conflict, note). Unknown places are neutral-ish, never a reason to merge."""
    distance = None
    if a.lat is not None and b.lat is not None:
        distance = _km(a, b)
        if distance > FAR_KM:
            return 0.0, True, "far apart"
        if distance <= 0.25:
            return 1.0, False, "same coordinates"
    if a.localities and b.localities:
        if a.localities & b.localities:
            locality = "same"
        elif _seat_compatible(a.localities, b.localities):
            locality = "coarse"
        else:
            return 0.0, True, "different localities"
    else:
        locality = "unknown"
        if a.municipality and b.municipality and a.municipality != b.municipality:
            return 0.5, False, "different municipalities"
    if a.venue and b.venue:
        similarity = 1.0 if a.venue == b.venue else _venue_similarity(a.venue, b.venue)
        if similarity < VENUE_CONFLICT and locality == "same" and distance is None:
            return 0.0, True, "different venues"  # "Stora torget" vs "Folkets park"
        venue = "same" if similarity >= 0.85 else "similar" if similarity >= 0.6 else "different"
    else:
        venue = "unknown"
    score = _PLACE_TABLE[locality][venue]
    if distance is not None and distance > 5 and venue != "same":
        score *= 0.8
    return score, False, f"{locality} locality, {venue} venue"


@lru_cache(maxsize=1 << 16)
def _venue_similarity(x: str, y: str) -> float:
    """Generous on purpose: a low value vetoes a match ("museet" ⊂ "döderhultarmuseet")."""
    best = max(fuzz.token_set_ratio(x, y), fuzz.ratio(x, y))
    if min(len(x), len(y)) >= 4:
        best = max(best, fuzz.partial_ratio(x, y))
    return best / 100


_PLACE_TABLE = {
    "same": {"same": 1.0, "similar": 0.9, "unknown": 0.95, "different": 0.6},
    "unknown": {"same": 0.95, "similar": 0.85, "unknown": 0.9, "different": 0.55},
    "coarse": {"same": 0.7, "similar": 0.65, "unknown": 0.7, "different": 0.5},
}


def _title(a: _Features, b: _Features) -> float:
    """Similarity of title keys; subsets count ("Pippi på cirkus" ⊂ "Pippi Långstrump …")."""
    if a.key == b.key:
        return 1.0
    if a.tokens <= b.tokens or b.tokens <= a.tokens:
        small, big = sorted((len(a.tokens), len(b.tokens)))
        return 0.85 if small == 1 and big >= 3 else 1.0  # one word of a long title is weak
    return _key_similarity(a.key, b.key) if a.key < b.key else _key_similarity(b.key, a.key)


@lru_cache(maxsize=1 << 18)
def _key_similarity(x: str, y: str) -> float:
    shorter = min(len(x), len(y))
    ratio = fuzz.ratio(x, y)
    if shorter < 6:
        # "quiz"/"jazz" are close by accident; only a one-letter slip ("lopis") counts
        return ratio / 100 if ratio >= 90 else ratio * 0.8 / 100
    best = max(ratio, fuzz.token_set_ratio(x, y))
    if best < 90 and shorter >= 10:
        best = max(best, 0.9 * fuzz.partial_ratio(x, y))
    return best / 100


def _worth_keeping(a: _Features, b: _Features) -> PairScore | None:
    """The score if it reaches REVIEW, else None; cheap checks first (most pairs fail)."""
    time, time_conflict, _ = _time(a, b)
    if time_conflict:
        return None
    place, place_conflict, _ = _place(a, b)
    if place_conflict:
        return None
    linked = (a.url and a.url == b.url) or (a.uid and a.uid == b.uid)
    if not linked and _title(a, b) * time * place < REVIEW:
        return None
    return _score(a, b)


def _score(a: _Features, b: _Features) -> PairScore:
    time, time_conflict, minutes = _time(a, b)
    place, place_conflict, note = _place(a, b)
    same_url = bool(a.url) and a.url == b.url
    same_uid = bool(a.uid) and a.uid == b.uid
    title = _title(a, b)
    linked = same_url or same_uid
    title_conflict = title < TITLE_CONFLICT and not linked
    total = 0.0 if time_conflict or place_conflict or title_conflict else title * time * place
    if linked and total > 0 and time >= 0.9:
        total = max(total, 0.95)  # not across a time gap: series pages share one URL
    return PairScore(
        time, title, place, round(total, 4), same_url, same_uid, time_conflict,
        place_conflict, title_conflict, minutes, (note,),
    )  # fmt: skip


def score_pair(a: Event, b: Event, tz_name: str = "Europe/Stockholm") -> PairScore:
    """How alike two events are, with every component computed (for explanations)."""
    return _score(_features(a, tz_name), _features(b, tz_name))


def _anchors(tokens: frozenset[str]) -> set[str]:
    """Title word prefixes and suffixes: a duplicate's title shares at least one.

    Both ends of a long word survive a typo in the other end and compound splits
    ("jul konsert" / "julkonsert" share "sert"); short words key on three letters.
    """
    keys = set()
    for t in tokens:
        if len(t) <= 7:
            keys.add("p" + t[:3])  # "lopis"/"loppis"/"lopppis"
        if len(t) >= 6:
            keys.update(("p" + t[:4], "s" + t[-4:]))
    return keys


def _block_keys(features: Sequence[_Features]) -> list[set[str]]:
    """Each event's blocking keys: its title anchors, URL and UID.

    Anchors held by more than ``COMMON_SHARE`` of all events ("konsert" in a big
    catalogue) are left out for events that have rarer ones: duplicates share their rare
    words too, and common anchors would make the pair count grow with the square of the
    events per day. Below ``COMMON_MIN`` events nothing counts as common.
    """
    anchors = [_anchors(f.tokens) for f in features]
    counts: dict[str, int] = defaultdict(int)
    for found in anchors:
        for anchor in found:
            counts[anchor] += 1
    limit = max(COMMON_MIN, COMMON_SHARE * len(features))
    keys = []
    for f, found in zip(features, anchors, strict=True):
        rare = {a for a in found if counts[a] <= limit} or found
        if f.url:
            rare.add("u" + f.url)
        if f.uid:
            rare.add("i" + f.uid)
        keys.append(rare)
    return keys


def _candidate_pairs(features: Sequence[_Features]) -> Iterator[tuple[int, int]]:
    by_day: dict[date, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    event_keys = _block_keys(features)
    for index in sorted(range(len(features)), key=lambda i: features[i].instant):
        f = features[index]
        # a block per municipality too: villages of different ones never match, and an
        # event whose town is unknown joins every municipality's block
        regions = _REGIONS if not f.area else (_region(f.area),)
        keys = [f"{key}@{region}" for key in event_keys[index] for region in regions]
        for day in (f.day, f.near_day):
            if day is not None:
                block = by_day[day]
                for key in keys:
                    block[key].append(index)  # so every block is sorted by start
    gap = MAX_GAP_MINUTES * 60
    for day in sorted(by_day):
        earlier = day - timedelta(days=1)
        seen: set[tuple[int, int]] = set()
        for members in by_day.pop(day).values():
            if len(members) < 2:
                continue
            for position, i in enumerate(members):
                a = features[i]
                if a.all_day:
                    others = [j for j in members if j != i]
                else:
                    others = []
                    limit = a.instant + gap
                    for j in members[position + 1 :]:
                        if features[j].instant > limit:
                            break  # all-day events sort first (local midnight)
                        others.append(j)
                for j in others:
                    pair = (i, j) if i < j else (j, i)
                    if pair in seen:
                        continue
                    seen.add(pair)
                    b = features[j]
                    if a.source == b.source or (
                        a.area != b.area and not _areas_meet(a.area, b.area)
                    ):
                        continue
                    if earlier in (a.day, a.near_day) and earlier in (b.day, b.near_day):
                        continue  # both belong to the day before too: emitted there
                    yield pair


def candidate_pairs(events: Sequence[Event], tz_name: str) -> Iterator[tuple[int, int]]:
    """Index pairs worth scoring, each once, never two of one source.

    Blocks by the venue's local day (near-midnight events also by the neighbouring day).
    Within a day it pairs only events sharing a (not too common) title word end, URL or
    UID; timed events
    only within ``MAX_GAP_MINUTES``, and events placed in towns that conflict never: both
    are clear non-matches anyway, so skipping them loses nothing.
    """
    return _candidate_pairs([_features(e, tz_name) for e in events])


def _cluster(
    n: int,
    pairs: Iterable[tuple[int, int, PairScore]],
    sources: Sequence[str] | None,
    non_match: Callable[[int, int], bool] | None,
    forced: Sequence[tuple[int, int]] = (),
) -> tuple[list[list[int]], list[tuple[int, int, PairScore]], list[tuple[int, int, PairScore]]]:
    """(clusters, merged pairs, match pairs refused by a guard); ``forced`` pairs join first."""
    known_conflicts: set[tuple[int, int]] = set()
    matches: list[tuple[int, int, PairScore]] = []
    for i, j, score in pairs:
        i, j = min(i, j), max(i, j)
        if is_clear_non_match(score):
            known_conflicts.add((i, j))
        elif score.total >= MATCH:
            matches.append((i, j, score))
    return join_matches(n, matches, known_conflicts, sources, non_match, forced, FORCED)


def cluster(
    n: int,
    pairs: Iterable[tuple[int, int, PairScore]],
    *,
    sources: Sequence[str] | None = None,
    non_match: Callable[[int, int], bool] | None = None,
) -> list[list[int]]:
    """Clusters (lists of ≥ 2 indices) from scored pairs, best match first.

    A union is refused when it would join two events of one source (``sources``) or two
    events that are each other's clear non-match: known from ``pairs`` or, for pairs
    never scored, asked of ``non_match(i, j)``.
    """
    return _cluster(n, pairs, sources, non_match)[0]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Clusters of ≥ 2 event indices; the pairs that joined them; pairs for a moderator."""

    clusters: list[list[int]]
    merged: list[tuple[int, int, PairScore]]
    review: list[tuple[int, int, PairScore]]


FORCED = PairScore(
    time=1.0, title=1.0, place=1.0, total=1.0, notes=("joined by a moderator or a shared UID",)
)


def match_events(
    events: Sequence[Event],
    tz_name: str,
    *,
    must_link: Iterable[tuple[int, int]] = (),
    cannot_link: Iterable[tuple[int, int]] = (),
) -> MatchResult:
    """Find the events that are the same real event, and the pairs a human should decide.

    ``must_link`` pairs (a moderator's merge, a shared publisher UID) are joined first,
    whatever their scores; ``cannot_link`` pairs (a moderator's "keep apart") are clear
    non-matches, so no chain can pull them together either.
    """
    # Scoring makes millions of short-lived acyclic tuples; the collections they trigger
    # would rescan every event each time (about 20 % of the run), so hold the collector.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _match_events(events, tz_name, must_link, cannot_link)
    finally:
        if enabled:
            gc.enable()


def _match_events(
    events: Sequence[Event],
    tz_name: str,
    must_link: Iterable[tuple[int, int]],
    cannot_link: Iterable[tuple[int, int]],
) -> MatchResult:
    features = [_features(e, tz_name) for e in events]
    forbidden = {(min(i, j), max(i, j)) for i, j in cannot_link}
    forced = sorted({(min(i, j), max(i, j)) for i, j in must_link if i != j} - forbidden)
    kept = []
    for i, j in _candidate_pairs(features):
        if (i, j) in forbidden or (j, i) in forbidden:
            continue
        score = _worth_keeping(features[i], features[j])
        if score is not None and score.total >= REVIEW:
            kept.append((i, j, score))

    def non_match(i: int, j: int) -> bool:
        if (i, j) in forbidden:
            return True
        return is_clear_non_match(_score(features[i], features[j]))

    sources = [f.source for f in features]
    clusters, merged, refused = _cluster(len(events), kept, sources, non_match, forced)
    where = {i: c for c, members in enumerate(clusters) for i in members}
    uncertain = [(i, j, s) for i, j, s in kept if s.total < MATCH and not is_clear_non_match(s)]
    review = sorted(
        (
            (i, j, score)
            for i, j, score in uncertain + refused
            if where.get(i, -1 - i) != where.get(j, -1 - j)
        ),
        key=lambda r: (r[0], r[1]),
    )
    return MatchResult(clusters=clusters, merged=merged, review=review)
