"""The RSS/Atom harvester against the shared corpus, our own fixtures, and a local web server."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer

from aggregator.errors import FetchError, ParseError
from aggregator.harvest.feed import parse_feed
from aggregator.model import CANCELLED, CONFIRMED, Event, HarvestResult, Settings, Source
from tests.expected import harvest_corpus, is_corpus_input

RSS = Path(__file__).parent / "data" / "rss"
CORPUS = sorted(p for p in (RSS / "corpus").iterdir() if is_corpus_input(p))
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# The day each corpus feed was written, so its events are not all in the past.
CORPUS_NOW = {
    "campuslabs_engage__brock_events.rss": datetime(2025, 4, 4, 18, 0, tzinfo=UTC),
    "community_calendar__davis_latest.rss": datetime(2026, 8, 22, 3, 0, tzinfo=UTC),
    "community_calendar__toronto_latest.rss": datetime(2026, 8, 22, 3, 0, tzinfo=UTC),
    "delhi_ncr_events__meetup_aggregate.rss": datetime(2024, 7, 14, 12, 0, tzinfo=UTC),
    "girona_agenda__catalan_scraped.rss": datetime(2024, 7, 20, 12, 0, tzinfo=UTC),
    "wp_event_manager__royal_room.rss": datetime(2026, 4, 22, 12, 0, tzinfo=UTC),
}
# What each corpus file must give: a number of events, or a ParseError mentioning a phrase.
CORPUS_EXPECT: dict[str, int | str] = {
    "campuslabs_engage__brock_events.rss": 284,  # <start xmlns="events"> and h-event
    "community_calendar__davis_latest.rss": 17,  # only the TEC iCal UIDs carry times
    # 10 while the Swedish reader took "kids 6-12.\nSeptember 8" for 6–12 September
    "community_calendar__toronto_latest.rss": 9,
    "delhi_ncr_events__meetup_aggregate.rss": "säger när evenemanget äger rum",
    "feedparser__koi8r.xml": "säger när evenemanget äger rum",
    "feedparser__rss_incomplete_cdata.xml": "inte giltig RSS eller Atom och inget evenemang",
    "feedparser__utf-16le-bom.xml": 0,  # a well-formed, empty feed
    "girona_agenda__catalan_scraped.rss": "säger när evenemanget äger rum",
    "wp_event_manager__royal_room.rss": 49,  # event_listing:start_date
}


def source(url: str = "https://feeds.example.se/feed/", max_pages: int = 50) -> Source:
    return Source(id="feed-test", name="Testföreningen", url=url, kind="feed", max_pages=max_pages)


def parse(name: str, now: datetime = NOW, **kwargs: object) -> HarvestResult:
    return parse_feed((RSS / name).read_bytes(), source(), Settings(), now=now, **kwargs)  # type: ignore[arg-type]


def by_key(result: HarvestResult) -> dict[str, Event]:
    return {e.key: e for e in result.events}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the shared corpus: every file yields events or a clear error, never a crash ----------


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_file_yields_events_or_a_clear_error(path: Path) -> None:
    now = CORPUS_NOW.get(path.name, NOW)
    expected = CORPUS_EXPECT[path.name]
    try:
        result = harvest_corpus(path, now)
    except ParseError as exc:
        assert isinstance(expected, str), f"unexpected ParseError: {exc}"
        assert expected in str(exc)
        return
    assert expected == len(result.events)
    for event in result.events:
        assert event.key and event.uid == event.key
        assert event.start is not None
        if isinstance(event.start, datetime):
            assert event.start.tzinfo is not None


def test_corpus_has_a_file_for_every_expectation() -> None:
    assert sorted(CORPUS_EXPECT) == [p.name for p in CORPUS]


def test_corpus_campus_labs_times_and_fields() -> None:
    path = RSS / "corpus" / "campuslabs_engage__brock_events.rss"
    now = CORPUS_NOW[path.name]
    result = parse_feed(path.read_bytes(), source(), Settings(), now=now)
    first = by_key(result)["https://experiencebu.brocku.ca/event/282209"]
    assert (first.start, first.end) == (utc(2025, 4, 4, 17, 0), utc(2025, 4, 4, 18, 0))
    assert first.organizer_name == "Learning Services"
    assert "ThoughtfulLearning" in first.categories
    assert first.image.startswith("https://se-images.campuslabs.ca/")
    assert "<em>stress!</em>" in first.description_html


def test_corpus_wp_event_manager_reads_start_date_as_local_time() -> None:
    path = RSS / "corpus" / "wp_event_manager__royal_room.rss"
    result = parse_feed(path.read_bytes(), source(), Settings(), now=CORPUS_NOW[path.name])
    event = by_key(result)["https://theroyalroomseattle.com/?post_type=event_listing&p=8386"]
    # "2026-05-10 19:30:00" has no zone: the configured one (Stockholm, CEST) is used,
    # and never the pubDate (2026-04-22 06:35:25 +0000)
    assert event.start == utc(2026, 5, 10, 17, 30)
    assert event.location_text == ""  # "-" means none


def test_corpus_tec_uid_guid_is_wall_time() -> None:
    path = RSS / "corpus" / "community_calendar__davis_latest.rss"
    result = parse_feed(path.read_bytes(), source(), Settings(), now=CORPUS_NOW[path.name])
    event = by_key(result)["10080519-1787392800-1787410800@thedirt.online"]
    # 1787392800 is 2026-08-22 10:00 "UTC": TEC's wall time 10:00, read in the configured zone
    assert (event.start, event.end) == (utc(2026, 8, 22, 8, 0), utc(2026, 8, 22, 13, 0))
    skipped = [w.message for w in result.warnings if "ingen tid för evenemanget" in w.message]
    assert skipped and "publiceringsdatumet används inte" in skipped[0]


# -- our fixtures --------------------------------------------------------------------------


def test_event_module() -> None:
    result = parse("ev_module.rss")
    events = by_key(result)
    premiere = events["teater-emil-premiar"]
    assert (premiere.start, premiere.end) == (utc(2026, 12, 12, 18, 0), utc(2026, 12, 12, 20, 30))
    assert not premiere.all_day
    assert premiere.location_text == "Folkets hus, Storgatan 1, Vimmerby"
    assert premiere.organizer_name == "Vimmerby Teaterförening"
    assert premiere.categories == ("Teater",)
    assert premiere.url == "https://teater.example.se/emil-premiar"
    assert premiere.uid == "teater-emil-premiar"
    assert premiere.description == "Familjeföreställning i Folkets hus."
    assert premiere.description_html == ""
    market = events["teater-julmarknad"]
    assert (market.start, market.end, market.all_day) == (
        date(2026, 12, 13),
        date(2026, 12, 14),
        True,
    )
    assert market.description_html == "<p>Hela dagen på <strong>torget</strong>.</p>"
    # a floating time in the spring DST gap takes the offset before the gap
    assert events["teater-varkonsert"].start == utc(2027, 3, 28, 1, 30)
    # a news post with no event time is skipped and said so; a past event is left out quietly
    assert "teater-nyhet-stolar" not in events and "teater-sommar-2026" not in events
    assert [w.message for w in result.warnings] == [
        "Inlägget ”Nyhet: nya stolar i salongen” visas inte: vi hittade ingen tid för "
        "evenemanget (publiceringsdatumet används inte). Skriv datum och klockslag i inlägget."
    ]


def test_xcal_and_hcalendar_in_items() -> None:
    events = by_key(parse("xcal_hcalendar.atom"))
    advent = events["urn:kyrka:advent-2026"]
    assert (advent.start, advent.end) == (utc(2026, 11, 29, 17, 0), utc(2026, 11, 29, 18, 30))
    assert advent.location_text == "Nässjö kyrka"
    assert events["urn:kyrka:julotta-2026"].start == utc(2026, 12, 25, 6, 0)
    mass = events["urn:kyrka:massa-2026"]
    assert (mass.start, mass.end) == (utc(2026, 12, 6, 10, 0), utc(2026, 12, 6, 11, 0))


def test_swedish_dates_in_item_text() -> None:
    result = parse("swedish_text.rss")
    events = by_key(result)
    base = "https://lonneberga.example.se/?p="
    market = events[base + "101"]
    assert (market.start, market.end) == (utc(2026, 12, 12, 10, 0), utc(2026, 12, 12, 14, 0))
    concert = events[base + "102"]  # in content:encoded HTML
    assert concert.start == utc(2027, 1, 2, 12, 0)
    assert "<strong>lördag 2 januari 2027 kl. 13.00</strong>" in concert.description_html
    camp = events[base + "104"]
    assert (camp.start, camp.end, camp.all_day) == (date(2027, 3, 5), date(2027, 3, 8), True)
    messages = [w.message for w in result.warnings]
    assert messages == [
        "Inlägget ”Luciafirande” visas inte: datumet i texten kan inte stämma. Skriv ett "
        "entydigt datum och klockslag, till exempel ”5 december kl. 19”.",
        "Inlägget ”Årsmöte” visas inte: vi hittade ingen tid för evenemanget "
        "(publiceringsdatumet används inte). Skriv datum och klockslag i inlägget.",
    ]


def test_wordpress_events_manager_feed_in_swedish() -> None:
    events = parse("wp_events_manager_sv.rss").events
    got = [(e.title, e.start, e.end, e.all_day, e.location_text) for e in events]
    place = "Hultsfreds Bygdegård, Bygdegårdsvägen 4, Hultsfred"
    assert got == [
        (
            "Dans till Thorleifs-kopian",
            utc(2026, 12, 12, 18),
            utc(2026, 12, 12, 22, 30),
            False,
            place,
        ),
        ("Julbord", date(2026, 12, 19), date(2026, 12, 20), True, place),
        (
            "Vinterfestival",
            utc(2027, 2, 26, 17),
            utc(2027, 2, 28, 0),
            False,
            "Folkparken, Hultsfred",
        ),
        (
            "Sommarcafé",
            utc(2027, 6, 27, 10),
            utc(2027, 6, 27, 14),
            False,
            "Hembygdsgården, Hultsfred",
        ),
    ]
    assert events[0].key == ("https://bygdegard.example.se/evenemang/dans-till-thorleifs-kopian/")


@pytest.mark.parametrize("name", ["entity_expansion.rss", "external_entity.rss"])
def test_entity_tricks_are_refused(name: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ParseError, match="av säkerhetsskäl"):
            parse(name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1.0
    assert peak < 5 * 1024 * 1024


def test_character_entities_in_a_doctype_are_fine() -> None:
    content = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>'
        b'<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel>'
        b"<item><title>A&nbsp;B</title><guid>g1</guid>"
        b"<ev:startdate>2026-12-12T19:00:00+01:00</ev:startdate></item></channel></rss>"
    )
    result = parse_feed(content, source(), Settings(), now=NOW)
    assert [e.title for e in result.events] == ["A B"]  # expanded; the no-break space cleaned


def test_html_error_page_is_a_parse_error_for_the_organizer() -> None:
    with pytest.raises(
        ParseError, match=r"gav en webbsida \(HTML\) i stället för ett RSS- eller Atom-flöde"
    ):
        parse("html_error_page.rss")


def test_truncated_feed_keeps_what_parsed() -> None:
    result = parse("truncated.rss")
    assert [(e.key, e.start) for e in result.events] == [
        ("kultur-film-1", utc(2026, 12, 4, 17, 30)),
        ("kultur-bok-1", utc(2026, 12, 7, 17, 0)),
    ]
    assert "inte korrekt XML" in result.warnings[0].message


def test_truncated_before_any_item_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="inte giltig RSS eller Atom och inga inlägg"):
        parse("truncated_before_items.rss")


def test_not_a_feed_at_all() -> None:
    with pytest.raises(ParseError):
        parse_feed(b"just some text\n", source(), Settings(), now=NOW)


def test_bytes_that_look_like_a_path_are_not_opened() -> None:
    # feedparser opens a *bytes* argument as a file name when it can; we hand it a stream
    with pytest.raises(ParseError):
        parse_feed(str(RSS / "ev_module.rss").encode(), source(), Settings(), now=NOW)


def test_items_sharing_a_link_get_distinct_keys() -> None:
    content = (
        b'<rss version="2.0"><channel><link>https://x.example.se/</link>'
        b"<item><title>Dans 4 dec kl 20</title><link>https://x.example.se/agenda</link></item>"
        b"<item><title>Dans 11 dec kl 20</title><link>https://x.example.se/agenda</link></item>"
        b"</channel></rss>"
    )
    keys = [e.key for e in parse_feed(content, source(), Settings(), now=NOW).events]
    assert keys == [
        "https://x.example.se/agenda",
        "https://x.example.se/agenda#2026-12-11T19:00:00+00:00",
    ]


def test_cancelled_title() -> None:
    content = (
        b'<rss version="2.0"><channel>'
        b"<item><title>INST\xc3\x84LLT: Dans 4 dec kl 20</title><guid>d1</guid></item>"
        b"</channel></rss>"
    )
    (event,) = parse_feed(content, source(), Settings(), now=NOW).events
    assert event.status == CANCELLED


# -- following item links, against a real local web server ---------------------------------


def requests_fetcher(calls: list[str]) -> object:
    def fetch_page(url: str) -> bytes:
        calls.append(url)
        try:
            response = requests.get(url, timeout=5)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise FetchError(f"the page could not be fetched: {exc}", url=url) from exc
        return response.content

    return fetch_page


@pytest.fixture
def tec_site(httpserver: HTTPServer) -> tuple[bytes, str]:
    base = httpserver.url_for("").rstrip("/")
    for path, name in (
        ("/event/vernissage-ljus-i-morker/", "tec_event_page.html"),
        ("/event/konstnarssamtal/", "tec_event_page_2.html"),
    ):
        body = (RSS / name).read_text(encoding="utf-8").replace("{base}", base)
        httpserver.expect_request(path).respond_with_data(body, content_type="text/html")
    httpserver.expect_request("/event/trasig/").respond_with_data("gone", status=404)
    feed = (RSS / "tec_events.rss.tmpl").read_text(encoding="utf-8").replace("{base}", base)
    return feed.encode(), base


def test_item_pages_are_followed_on_the_same_site(
    tec_site: tuple[bytes, str], httpserver: HTTPServer
) -> None:
    feed, base = tec_site
    calls: list[str] = []
    result = parse_feed(
        feed,
        source(url=f"{base}/events/feed/"),
        Settings(allow_private_hosts=True),
        now=NOW,
        fetch_page=requests_fetcher(calls),  # type: ignore[arg-type]
    )
    events = by_key(result)
    vernissage = events[f"{base}/?post_type=tribe_events&p=2101"]
    # the page's JSON-LD time, not the pubDate (13:00Z)
    assert (vernissage.start, vernissage.end) == (utc(2026, 12, 5, 13, 0), utc(2026, 12, 5, 16, 0))
    assert vernissage.title == "Vernissage: Ljus i mörker"
    assert vernissage.categories == ("Utställning",)
    assert "Oskarshamn" in vernissage.location_text + vernissage.place.text
    assert vernissage.status == CONFIRMED
    talk = events[f"{base}/?post_type=tribe_events&p=2102"]
    assert talk.start == utc(2026, 12, 13, 14, 0)
    assert talk.status == CANCELLED
    assert len(result.events) == 2
    # another site's link is never fetched; a 404 page is a warning, not a crash
    assert calls == [
        f"{base}/event/vernissage-ljus-i-morker/",
        f"{base}/event/konstnarssamtal/",
        f"{base}/event/trasig/",
    ]
    messages = " | ".join(w.message for w in result.warnings)
    assert (
        "gick inte att hämta" in messages
        and "”Elsewhere” visas inte: vi hittade ingen tid" in messages
    )


def test_page_budget_is_respected(tec_site: tuple[bytes, str]) -> None:
    feed, base = tec_site
    calls: list[str] = []
    result = parse_feed(
        feed,
        source(url=f"{base}/events/feed/", max_pages=1),
        Settings(allow_private_hosts=True),
        now=NOW,
        fetch_page=requests_fetcher(calls),  # type: ignore[arg-type]
    )
    assert calls == [f"{base}/event/vernissage-ljus-i-morker/"]
    assert len(result.events) == 1
    assert any("högst 1 sidor per hämtning" in w.message for w in result.warnings)


def test_without_a_page_fetcher_tec_items_are_skipped_not_dated_by_pubdate(
    tec_site: tuple[bytes, str],
) -> None:
    feed, base = tec_site
    with pytest.raises(ParseError, match="säger när evenemanget äger rum"):
        parse_feed(feed, source(url=f"{base}/events/feed/"), Settings(), now=NOW)
