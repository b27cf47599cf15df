"""How alike two events are: title × time × place, with vetoes for clear conflicts.

Wrongly merging two real events hides one of them, which is worse than a duplicate, so
every rule leans towards "not the same": a clear conflict on time, place or title vetoes
a match, and the uncertain middle band goes to a human (``REVIEW`` ≤ total < ``MATCH``).

Pure functions over ``Features``: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz

from aggregator.dedupe.features import Features, event_features, seat_compatible
from aggregator.model import Event, MatchDecision

MATCH = 0.80  # total at or above: merged
# Pairs of title keys or venue names whose similarity is remembered: the pairs of a few
# match batches, not a whole calendar's (1 << 18 pairs of keys held up to ~65 MB).
PAIR_CACHE = 1 << 15
REVIEW = 0.55  # total at or above (and below MATCH): listed for a moderator
MAX_GAP_MINUTES = 45  # timed events further apart are different shows (14:00 vs 19:00)
TITLE_CONFLICT = 0.5  # titles this different at one time and place are two events
FAR_KM = 20.0  # coordinates this far apart are two places
VENUE_CONFLICT = 0.5  # venue names this different in one town are two places
NAME_ALIKE = 0.8  # venue names this alike are one spelt two ways ("Nicolai", "Nikolai")
# A shared URL or publisher UID decides a pair only when time and place agree with it:
# small CMSs write UIDs like "1@" or "event-12" on every site, and series pages share one
# URL. Agreeing = starts within 30 minutes (or a date-only listing of the same day), and
# the same town (venue names worded differently, but not in conflict) or a village and
# its municipality's seat with the venue unknown or alike, or no place stated on one side.
LINK_TIME = 0.9
LINK_PLACE = 0.6


@dataclass(frozen=True, slots=True)
class PairScore:
    """Why two events are (not) the same: component scores in [0, 1] and conflict flags.

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
    link_decides: bool = False  # a shared URL/UID with time and place in agreement

    @property
    def decision(self) -> MatchDecision:
        if is_clear_non_match(self) or self.total < REVIEW:
            return MatchDecision.DIFFERENT
        return MatchDecision.MERGED if self.total >= MATCH else MatchDecision.REVIEW

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


# What a pair joined by a moderator or a shared UID is reported with while clustering;
# the pipeline stores the pair's real score beside it.
FORCED = PairScore(
    time=1.0, title=1.0, place=1.0, total=1.0, notes=("joined by a moderator or a shared UID",)
)


def is_clear_non_match(score: PairScore) -> bool:
    """Two events that must never share a cluster, whatever joins them indirectly."""
    return score.time_conflict or score.place_conflict or score.title_conflict


def _time(a: Features, b: Features) -> tuple[float, bool, int | None]:
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


def _km(a: Features, b: Features) -> float:
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    dy = (a.lat - b.lat) * 111.2
    dx = (a.lon - b.lon) * 111.2 * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(dx, dy)


def _place(a: Features, b: Features) -> tuple[float, bool, str]:
    """(score, conflict, note). Unknown places are neutral-ish, never a reason to merge."""
    distance = None
    if a.lat is not None and b.lat is not None:
        distance = _km(a, b)
        if distance > FAR_KM:
            return 0.0, True, "far apart"
        if distance <= 0.25:
            return 1.0, False, "same coordinates"
    if a.specific and b.specific:
        if a.specific & b.specific:
            locality = "same"
        elif seat_compatible(a.specific, b.specific):
            locality = "coarse"
        else:
            return 0.0, True, "different localities"
    else:
        locality = "unknown"
        if a.town and b.town and _name_similarity(a.town, b.town) < NAME_ALIKE:
            return 0.0, True, "different towns"  # villages the gazetteer does not know
        if a.municipality and b.municipality and a.municipality != b.municipality:
            return 0.5, False, "different municipalities"
    if a.venue and b.venue:
        clash = _venues_clash(a, b)
        if clash:
            return 0.0, True, clash
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


def _venues_clash(a: Features, b: Features) -> str:
    """Why two venues are surely two places, or "".

    Venues of one kind are named after their parish, village or street ("Pelarne kyrka",
    "Tuna kyrka", "Stora torget", "Lilla torget"): different names on the same kind of
    venue are two venues, and so are different numbers ("Sal 1", "Sal 2").
    """
    if a.venue_numbers and b.venue_numbers and a.venue_numbers != b.venue_numbers:
        return "different venue numbers"
    x, y = a.venue_names, b.venue_names
    if not (x and y and a.venue_kinds & b.venue_kinds) or x <= y or y <= x:
        return ""
    if _name_similarity(" ".join(sorted(x)), " ".join(sorted(y))) >= NAME_ALIKE:
        return ""  # "nicolai" / "nikolai"
    return "different venues of one kind"


@lru_cache(maxsize=1 << 14)
def _name_similarity(x: str, y: str) -> float:
    return fuzz.ratio(x, y) / 100


@lru_cache(maxsize=PAIR_CACHE)
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


def _title(a: Features, b: Features) -> float:
    """Similarity of title keys; subsets count ("Pippi på cirkus" ⊂ "Pippi Långstrump …")."""
    if a.key == b.key:
        return 1.0
    if a.tokens <= b.tokens or b.tokens <= a.tokens:
        small, big = sorted((len(a.tokens), len(b.tokens)))
        return 0.85 if small == 1 and big >= 3 else 1.0  # one word of a long title is weak
    return _key_similarity(a.key, b.key) if a.key < b.key else _key_similarity(b.key, a.key)


@lru_cache(maxsize=PAIR_CACHE)
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


def worth_keeping(a: Features, b: Features) -> PairScore | None:
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
    return score_features(a, b)


def score_features(a: Features, b: Features) -> PairScore:
    """Every component of a pair's score, from the events' features."""
    time, time_conflict, minutes = _time(a, b)
    place, place_conflict, note = _place(a, b)
    same_url = bool(a.url) and a.url == b.url
    same_uid = bool(a.uid) and a.uid == b.uid
    title = _title(a, b)
    linked = same_url or same_uid
    # differing numbers ("grupp 1" / "grupp 2") are two events, whatever links them
    numbers_differ = bool(a.title_numbers and b.title_numbers) and (
        a.title_numbers != b.title_numbers
    )
    title_conflict = numbers_differ or (title < TITLE_CONFLICT and not linked)
    total = 0.0 if time_conflict or place_conflict or title_conflict else title * time * place
    # a source that says nothing of the place does not contradict one that does
    place_agrees = place >= LINK_PLACE or not (a.stated and b.stated)
    link_decides = linked and total > 0 and time >= LINK_TIME and place_agrees
    if link_decides:
        total = max(total, 0.95)
    return PairScore(
        time, title, place, round(total, 4), same_url, same_uid, time_conflict,
        place_conflict, title_conflict, minutes, (note,), link_decides,
    )  # fmt: skip


def score_pair(a: Event, b: Event, tz_name: str = "Europe/Stockholm") -> PairScore:
    """How alike two events are, with every component computed (for explanations)."""
    return score_features(event_features(a, tz_name), event_features(b, tz_name))
