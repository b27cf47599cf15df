"""Fuzzy cross-source matching (features → blocking → score → cluster), its guards, and its
quality on the dataset."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

import pytest

from aggregator.dedupe.blocking import candidate_pairs as block
from aggregator.dedupe.cluster import cluster_pairs
from aggregator.dedupe.features import event_features, normalize_title
from aggregator.dedupe.matching import match_events
from aggregator.dedupe.score import MATCH, REVIEW, PairScore, is_clear_non_match, score_pair
from aggregator.model import Event, Place
from aggregator.normalize import parse_place
from bench.dedupe_data import DATASET, load_dataset, load_notes
from bench.dedupe_quality import evaluate

TZ = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(TZ)


def candidate_pairs(events: list[Event], tz_name: str) -> list[tuple[int, int]]:
    return list(block([event_features(e, tz_name) for e in events]))


def cluster(
    n: int,
    pairs: list[tuple[int, int, PairScore]],
    *,
    sources: list[str] | None = None,
    non_match: Callable[[int, int], bool] | None = None,
) -> list[list[int]]:
    return cluster_pairs(n, pairs, sources=sources, non_match=non_match).clusters


def ev(
    title: str,
    when: str,
    place: str = "",
    source: str = "a",
    url: str = "",
    uid: str = "",
    geo: tuple[float, float] | None = None,
) -> Event:
    """An event as harvested: ``when`` is local "YYYY-MM-DD HH:MM" or a date (all day)."""
    if " " in when:
        start: datetime | date = datetime.fromisoformat(when).replace(tzinfo=STOCKHOLM)
        start = start.astimezone(ZoneInfo("UTC"))
    else:
        start = date.fromisoformat(when)
    known = Place(latitude=geo[0], longitude=geo[1]) if geo else Place()
    return Event(
        source_id=source,
        key=f"{source}:{title}:{when}",
        title=title,
        start=start,
        all_day=isinstance(start, date) and not isinstance(start, datetime),
        place=parse_place(place, known),
        location_text=place,
        url=url,
        uid=uid,
    )


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("PIPPI LÅNGSTRUMP PÅ CIRKUS – premiär!", "pippi långstrump på cirkus"),
        ("INSTÄLLT: Pubquiz", "pubquiz"),
        ("Välkommen till Julmarknad 2026!", "julmarknad"),
        ("🎄 Julmarknad lördag 12 dec kl. 11-15 🎄", "julmarknad"),
        ("Nu på Vimmerby Teater: Ronja", "vimmerby teater ronja"),
        ("Café Åsa & Pettson", "cafe åsa och pettson"),
        ("Konsert 19.00 – Kalle Moraeus", "konsert kalle moraeus"),
        ("Öppet hus – biljetter släpps", "öppet hus släpps"),
        ("Ä Ö Å stay distinct from A O", "ä ö å stay distinct from a o"),
    ],
    ids=[
        "caps-premiar",
        "installt",
        "valkommen-year",
        "emoji-date-time",
        "nu-pa",
        "accents-amp",
        "time-in-title",
        "biljetter",
        "swedish-letters",
    ],
)
def test_normalize_title(title: str, expected: str) -> None:
    assert normalize_title(title) == expected


TEATER = "Vimmerby Teater, Sevedegatan 2, 598 37 Vimmerby"
CASES = [
    # same event, listed differently
    ("caps-premiar", ev("Pippi Långstrump på cirkus", "2027-01-23 14:00", TEATER),
     ev("PIPPI LÅNGSTRUMP PÅ CIRKUS – premiär!", "2027-01-23 14:00", "Vimmerby Teater, Vimmerby", "fb"), "merged"),
    ("abbreviated", ev("Pippi Långstrump på cirkus", "2027-01-23 14:00", TEATER),
     ev("Pippi på cirkus", "2027-01-23 14:00", "Teatern, Vimmerby", "kommun"), "merged"),
    ("place-variant-30min", ev("Bingo", "2027-03-07 15:00", "Folkets hus, Virserum"),
     ev("Bingo", "2027-03-07 14:30", "Virserums Folkets hus", "kommun"), "merged"),
    ("all-day-listing", ev("Julmarknad i Virserum", "2026-12-12 11:00", "Folkets hus, Virserum"),
     ev("Julmarknad", "2026-12-12", "Virserum", "byn"), "merged"),
    ("typo", ev("Julkonsert med kyrkokören", "2026-12-20 18:00", "Hultsfreds kyrka"),
     ev("Julkonsert med kyrkokörn", "2026-12-20 18:00", "Kyrkan, Hultsfred", "byn"), "merged"),
    ("installt", ev("Pubquiz", "2027-02-04 19:00", "Pub Lilla Stugan, Eksjö"),
     ev("INSTÄLLT: Pubquiz", "2027-02-04 19:00", "Pub Lilla Stugan, Eksjö", "fb"), "merged"),
    ("shared-url", ev("Vernissage", "2027-03-13 13:00", "Virserums konsthall",
                      url="https://konsthall.se/vernissage-tra"),
     ev("Trä och tid – vernissage", "2027-03-13 13:00", "", "kommun",
        url="https://www.konsthall.se/vernissage-tra/?utm_source=x"), "merged"),
    ("shared-uid", ev("Konsert", "2027-05-20 18:00", "Oskarshamns konserthus", uid="abc@x"),
     ev("Vårkonsert med kulturskolan", "2027-05-20 18:00", "", "kommun", uid="abc@x"), "merged"),
    ("crossing-midnight", ev("Midnattsmässa", "2026-12-24 23:50", "Vimmerby kyrka"),
     ev("Midnattsmässa", "2026-12-25 00:05", "Vimmerby kyrka", "kommun"), "merged"),
    ("same-coordinates", ev("Sommarfest", "2027-07-03 14:00", "Parken", geo=(57.1670, 16.0270)),
     ev("Sommarfest i parken", "2027-07-03 14:00", "Folkets park, Högsby", "fb",
        geo=(57.1672, 16.0268)), "merged"),
    # uncertain: a human decides
    ("different-wording", ev("Allsång i parken", "2027-07-08 19:00", "Folkets park, Vimmerby"),
     ev("Sommarkväll med allsång", "2027-07-08 19:00", "Folkets park, Vimmerby", "kommun"), "review"),
    ("45-minutes", ev("Jazzkväll med Anna Berg", "2027-02-26 19:00", "Kulturhuset, Hultsfred"),
     ev("Jazzkväll med Anna Berg", "2027-02-26 19:45", "Kulturhuset, Hultsfred", "kommun"), "review"),
    ("same-town-other-wording", ev("Bokcafé", "2027-03-02 18:00", "Vimmerby bibliotek"),
     ev("Språkcafé", "2027-03-02 18:00", "Vimmerby bibliotek", "kommun"), "review"),
    # different events
    ("matinee-vs-evening", ev("Pippi på cirkus", "2027-01-23 14:00", TEATER),
     ev("Pippi på cirkus", "2027-01-23 19:00", TEATER, "kommun"), "different"),
    ("luciakonsert-vs-luciatag", ev("Luciakonsert i Hultsfreds kyrka", "2026-12-12 18:00", "Hultsfreds kyrka"),
     ev("Luciatåg på Stora torget", "2026-12-12 18:00", "Stora torget, Hultsfred", "kommun"), "different"),
    ("same-title-other-village", ev("Luciatåg", "2026-12-13 18:00", "Järeda kyrka"),
     ev("Luciatåg", "2026-12-13 18:00", "Lönneberga kyrka", "kommun"), "different"),
    ("other-village-shared-listing-url",
     ev("Luciatåg", "2026-12-13 18:00", "Järeda kyrka", url="https://svenskakyrkan.se/hultsfred/kalender"),
     ev("Luciatåg", "2026-12-13 18:00", "Lönneberga kyrka", "kommun",
        url="https://svenskakyrkan.se/hultsfred/kalender"), "different"),
    ("same-town-other-venue", ev("Loppis", "2027-05-15 10:00", "Stora torget, Vimmerby"),
     ev("Loppis", "2027-05-15 10:00", "Folkets park, Vimmerby", "kommun"), "different"),
    ("same-venue-other-event", ev("Våffeldag", "2027-07-03 11:00", "Lönneberga hembygdsgård"),
     ev("Hantverksdag", "2027-07-03 11:00", "Lönneberga hembygdsgård", "fb"), "different"),
    ("far-coordinates", ev("Sommarfest", "2027-07-03 14:00", "", geo=(57.167, 16.027)),
     ev("Sommarfest", "2027-07-03 14:00", "", "fb", geo=(57.665, 15.855)), "different"),
    ("next-week", ev("Stickcafé", "2027-01-12 14:00", "Vimmerby bibliotek"),
     ev("Stickcafé", "2027-01-19 14:00", "Vimmerby bibliotek", "kommun"), "different"),
    ("short-titles", ev("Quiz", "2027-02-04 19:00", "Puben, Eksjö"),
     ev("Jazz", "2027-02-04 19:00", "Puben, Eksjö", "fb"), "different"),
    ("team-is-not-a-place", ev("Speedway: Dackarna – Vetlanda", "2027-05-11 19:00", "Målilla Motorstadion"),
     ev("Dackarna–Vetlanda", "2027-05-11 19:15", "Motorstadion", "byn"), "merged"),
    # the same title at the same hour in another church, village hall, square or room (issue 8)
    ("sunday-two-village-churches", ev("Gudstjänst", "2027-01-10 11:00", "Pelarne kyrka"), ev("Gudstjänst", "2027-01-10 11:00", "Tuna kyrka", "kommun"), "different"),
    ("sunday-churches-with-seat", ev("Gudstjänst", "2027-01-10 11:00", "Pelarne kyrka, Vimmerby"), ev("Gudstjänst", "2027-01-10 11:00", "Tuna kyrka, Vimmerby", "kommun"), "different"),
    ("sunday-named-churches-one-town", ev("Högmässa", "2027-01-10 11:00", "Sankt Olofs kyrka, Vimmerby"), ev("Högmässa", "2027-01-10 11:00", "Vimmerby kyrka", "kommun"), "different"),
    ("sunday-kyrkan-in-village", ev("Gudstjänst", "2027-01-10 11:00", "Kyrkan, Pelarne"), ev("Gudstjänst", "2027-01-10 11:00", "Kyrkan, Tuna", "kommun"), "different"),
    ("sunday-same-church-twice", ev("Gudstjänst i Tuna kyrka", "2027-01-10 11:00", "Tuna kyrka, Vimmerby"), ev("Gudstjänst", "2027-01-10 11:00", "Kyrkan, Tuna", "kommun"), "merged"),
    ("sunday-saint-spelling", ev("Högmässa", "2027-01-10 11:00", "Sankt Nicolai kyrka, Nässjö"), ev("Högmässa", "2027-01-10 11:00", "S:t Nikolai kyrka, Nässjö", "kommun"), "merged"),
    ("lucia-13-dec-villages", ev("Luciatåg", "2026-12-13 18:00", "Pelarne kyrka"), ev("Luciatåg", "2026-12-13 18:00", "Frödinge kyrka", "kommun"), "different"),
    ("lucia-title-names-village", ev("Luciatåg i Pelarne", "2026-12-13 18:00", "Kyrkan, Vimmerby"), ev("Luciatåg i Tuna", "2026-12-13 18:00", "Kyrkan, Vimmerby", "kommun"), "different"),
    ("lucia-title-village-vs-venue", ev("Luciatåg i Pelarne", "2026-12-13 18:00", "Vimmerby"), ev("Luciatåg", "2026-12-13 18:00", "Tuna kyrka", "kommun"), "different"),
    ("lucia-compound-churches", ev("Lucia", "2026-12-13 18:00", "Pelarnekyrkan"), ev("Lucia", "2026-12-13 18:00", "Tunakyrkan", "kommun"), "different"),
    ("lucia-same-village-listed-twice", ev("Luciatåg", "2026-12-13 18:00", "Pelarne kyrka"), ev("LUCIATÅG I PELARNE", "2026-12-13 18:00", "Kyrkan, Pelarne", "kommun"), "merged"),
    ("julmarknad-village-halls", ev("Julmarknad", "2026-12-05 11:00", "Bygdegården, Pelarne"), ev("Julmarknad", "2026-12-05 11:00", "Bygdegården, Tuna", "kommun"), "different"),
    ("julmarknad-named-halls", ev("Julmarknad", "2026-12-05 11:00", "Pelarne bygdegård, Vimmerby"), ev("Julmarknad", "2026-12-05 11:00", "Tuna bygdegård, Vimmerby", "kommun"), "different"),
    ("julmarknad-two-squares", ev("Julmarknad", "2026-12-05 11:00", "Stora torget, Vimmerby"), ev("Julmarknad", "2026-12-05 11:00", "Lilla torget, Vimmerby", "kommun"), "different"),
    ("julmarknad-same-hall", ev("Julmarknad i Pelarne", "2026-12-05 11:00", "Bygdegården"), ev("Julmarknad", "2026-12-05 11:00", "Pelarne bygdegård", "kommun"), "merged"),
    ("loppis-two-schools", ev("Loppis", "2027-05-15 10:00", "Tuna skola"), ev("Loppis", "2027-05-15 10:00", "Pelarne skola", "kommun"), "different"),
    ("loppis-two-hembygdsgardar", ev("Loppis", "2027-05-15 10:00", "Frödinge hembygdsgård"), ev("Loppis", "2027-05-15 10:00", "Djursdala hembygdsgård", "kommun"), "different"),
    ("loppis-streets", ev("Loppis", "2027-05-15 10:00", "Storgatan 2, Vimmerby"), ev("Loppis", "2027-05-15 10:00", "Storgatan 14, Vimmerby", "kommun"), "different"),
    ("title-numbers", ev("Stickcafé grupp 1", "2027-02-03 14:00", "Vimmerby bibliotek"), ev("Stickcafé grupp 2", "2027-02-03 14:00", "Vimmerby bibliotek", "kommun"), "different"),
    ("title-numbers-shared-uid", ev("Kurs del 1", "2027-02-03 14:00", "Vimmerby bibliotek", uid="1@"), ev("Kurs del 2", "2027-02-03 14:00", "Vimmerby bibliotek", "kommun", uid="1@"), "different"),
    ("venue-numbers", ev("Föreläsning", "2027-02-03 18:00", "Kulturhuset sal 1, Eksjö"), ev("Föreläsning", "2027-02-03 18:00", "Kulturhuset sal 2, Eksjö", "kommun"), "different"),
    ("same-numbers-match", ev("Körövning grupp 2", "2027-02-03 18:00", "Eksjö kyrka"), ev("KÖRÖVNING – GRUPP 2", "2027-02-03 18:00", "Kyrkan, Eksjö", "kommun"), "merged"),
    ("sunday-unknown-parishes", ev("Gudstjänst", "2027-01-10 11:00", "Gärdserums kyrka"), ev("Gudstjänst", "2027-01-10 11:00", "Ukna kyrka", "kommun"), "different"),
    ("julmarknad-unknown-villages", ev("Julmarknad", "2026-12-05 11:00", "Bygdegården, Sjögestad"), ev("Julmarknad", "2026-12-05 11:00", "Bygdegården, Ukna", "kommun"), "different"),
    ("loppis-unknown-village-same-hall", ev("Loppis", "2027-05-15 10:00", "Bygdegården, Sjögestad"), ev("Loppis i Sjögestad", "2027-05-15 10:00", "Sjögestads bygdegård", "kommun"), "merged"),
    ("lucia-unknown-parish-same-church", ev("Luciatåg", "2026-12-13 18:00", "Kyrkan, Sjögestad"), ev("Luciatåg", "2026-12-13 18:00", "Sjögestads kyrka", "kommun"), "merged"),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_score_pair_table(a: Event, b: Event, expected: str) -> None:
    score = score_pair(a, b, TZ)
    assert score.decision == expected, score.reason
    assert score_pair(b, a, TZ).decision == expected  # symmetric


def test_thresholds_and_clear_non_match() -> None:
    assert 0 < REVIEW < MATCH <= 1
    matinee = score_pair(
        ev("Pippi", "2027-01-23 14:00", TEATER), ev("Pippi", "2027-01-23 19:00", TEATER, "b"), TZ
    )
    assert matinee.time_conflict and is_clear_non_match(matinee) and matinee.total == 0
    assert "times conflict" in matinee.reason


def _score(total: float, conflict: bool = False) -> PairScore:
    return PairScore(1.0, 1.0, 1.0, total, time_conflict=conflict)


def test_cluster_refuses_chaining_across_a_clear_non_match() -> None:
    # B matches A clearly better than C; A and C are two shows: the best union wins
    pairs = [(0, 1, _score(0.97)), (1, 2, _score(0.85)), (0, 2, _score(0.0, conflict=True))]
    assert cluster(3, pairs) == [[0, 1]]


def test_cluster_leaves_an_even_choice_between_two_shows_to_a_human() -> None:
    pairs = [(0, 1, _score(0.90)), (1, 2, _score(0.90)), (0, 2, _score(0.0, conflict=True))]
    assert cluster(3, pairs) == []


def test_cluster_asks_lazily_about_pairs_never_scored() -> None:
    pairs = [(0, 1, _score(0.97)), (1, 2, _score(0.85))]
    asked = []

    def non_match(i: int, j: int) -> bool:
        asked.append((i, j))
        return (i, j) == (0, 2)

    assert cluster(3, pairs, non_match=non_match) == [[0, 1]]
    assert (0, 2) in asked
    assert cluster(3, pairs) == [[0, 1, 2]]  # without the guard it would chain


def test_cluster_never_joins_two_events_of_one_source() -> None:
    pairs = [(0, 1, _score(0.97)), (1, 2, _score(0.85))]
    assert cluster(3, pairs, sources=["x", "y", "x"]) == [[0, 1]]


def test_match_events_keeps_matinee_and_evening_apart_even_with_a_date_only_listing() -> None:
    events = [
        ev("Pippi på cirkus", "2027-01-23 14:00", TEATER, "teatern"),
        ev("Pippi på cirkus", "2027-01-23 19:00", TEATER, "fb"),
        ev("Pippi på cirkus", "2027-01-23", "Vimmerby Teater", "kommun"),
    ]
    result = match_events(events, TZ)
    assert all(not {0, 1} <= set(c) for c in result.clusters)
    assert result.review  # the date-only listing is ambiguous: a human decides


def test_same_source_is_never_paired() -> None:
    events = [
        ev("Bingo", "2027-03-07 15:00", "Folkets hus, Virserum", "virserum"),
        ev("Bingo", "2027-03-07 15:00", "Folkets hus, Virserum", "virserum"),
    ]
    assert list(candidate_pairs(events, TZ)) == []
    assert match_events(events, TZ).clusters == []


def test_local_day_is_the_venues_day_not_the_utc_day() -> None:
    late = ev("Nattbio", "2027-01-16 00:15", "Kulturhuset, Hultsfred")
    assert late.start.date() == date(2027, 1, 15)  # type: ignore[union-attr]
    assert event_features(late, TZ).day == date(2027, 1, 16)
    listing = ev("Nattbio", "2027-01-16", "Kulturhuset, Hultsfred", "kommun")
    assert list(candidate_pairs([late, listing], TZ)) == [(0, 1)]
    assert match_events([late, listing], TZ).clusters == [[0, 1]]


def test_near_midnight_events_meet_across_the_day_boundary_once() -> None:
    events = [
        ev("Nyårskonsert", "2026-12-31 23:50", "Oskarshamns kyrka", "a"),
        ev("Nyårskonsert", "2027-01-01 00:10", "Oskarshamns kyrka", "b"),
        ev("Nyårskonsert", "2027-01-01 00:20", "Oskarshamns kyrka", "c"),
    ]
    assert sorted(candidate_pairs(events, TZ)) == [(0, 1), (0, 2), (1, 2)]
    assert match_events(events, TZ).clusters == [[0, 1, 2]]


def test_blocking_loses_no_pair_worth_a_look_on_the_dataset() -> None:
    events = [e for e, _ in load_dataset()]
    candidates = set(candidate_pairs(events, TZ))
    by_day: dict[date, list[int]] = defaultdict(list)
    for index, event in enumerate(events):
        by_day[event_features(event, TZ).day].append(index)
    missed = []
    for day, members in by_day.items():
        near = members + by_day.get(day + timedelta(days=1), [])
        for i, j in combinations(near, 2):
            i, j = min(i, j), max(i, j)
            if events[i].source_id == events[j].source_id or (i, j) in candidates:
                continue
            if score_pair(events[i], events[j], TZ).total >= REVIEW:
                missed.append((events[i].title, events[j].title))
    assert missed == []


def test_dataset_meets_the_brief() -> None:
    rows = load_dataset()
    notes = load_notes()
    assert len(rows) >= 400
    members: dict[str, list[Event]] = defaultdict(list)
    for event, group in rows:
        members[group].append(event)
    duplicates = [m for m in members.values() if len(m) > 1]
    assert len(duplicates) >= 120
    assert all(2 <= len(m) <= 4 and len({e.source_id for e in m}) == len(m) for m in duplicates)
    trap_sets: dict[str, set[str]] = defaultdict(set)
    for (_, group), note in zip(rows, notes, strict=True):
        found = re.match(r"trap:([^;]+)", note)
        if found:
            trap_sets[found.group(1)].add(group)
    hard = sum(
        len(g) - 1 if key.startswith("series:") else len(g) * (len(g) - 1) // 2
        for key, g in trap_sets.items()
    )
    assert hard >= 60
    assert Counter(e.source_id.startswith("fb-") for e, _ in rows)[True] > 50


def test_quality_on_the_labelled_dataset() -> None:
    rows = load_dataset(DATASET)
    quality = evaluate([e for e, _ in rows], [g for _, g in rows])
    assert quality.precision >= 0.995, quality.false_positives
    assert quality.recall >= 0.97, quality.false_negatives
