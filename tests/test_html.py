"""Website harvester: schema.org (JSON-LD, microdata, RDFa), hCalendar, listings,
The Events Calendar REST API, recipes, robots.txt and hostile pages."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests
from pytest_httpserver import HTTPServer

from aggregator.errors import FetchError, ParseError
from aggregator.harvest.dates import parse_duration, parse_when
from aggregator.harvest.html import parse_html
from aggregator.harvest.html.crawl import pick_links
from aggregator.harvest.html.jsonld import JsonLdError, loads_sloppy
from aggregator.harvest.html.recipe import check_recipe
from aggregator.model import (
    CANCELLED,
    CONFIRMED,
    Event,
    HarvestResult,
    PageFetcher,
    Recipe,
    Settings,
    Source,
)
from aggregator.normalize import normalize_event
from aggregator.normalize.timezones import zone
from tests.expected import harvest_corpus, is_corpus_input

DATA = Path(__file__).parent / "data" / "html"
CORPUS = DATA / "corpus"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
# Corpus pages were recorded 2009–2026; read them from before their events so the
# 30-day window does not drop them (the window has its own test).
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
STOCKHOLM = zone("Europe/Stockholm")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def harvest(
    name: str | Path,
    *,
    url: str = "https://example.se/evenemang/",
    now: datetime = NOW,
    recipe: Recipe | None = None,
    fetch_page: PageFetcher | None = None,
    max_pages: int = 50,
):
    path = name if isinstance(name, Path) else DATA / name
    source = Source(id="s", name="Källan", url=url, recipe=recipe, max_pages=max_pages)
    return parse_html(path.read_bytes(), source, Settings(), now=now, fetch_page=fetch_page)


def harvest_bytes(content: bytes, **kwargs):  # type: ignore[no-untyped-def]
    source = Source(id="s", name="Källan", url=kwargs.pop("url", "https://example.se/e/"))
    return parse_html(content, source, Settings(), now=kwargs.pop("now", NOW), **kwargs)


def by_title(events: tuple[Event, ...]) -> dict[str, Event]:
    return {e.title: e for e in events}


def messages(result: HarvestResult) -> str:
    return "\n".join(w.message for w in result.warnings)


# --- the shared corpus --------------------------------------------------------------

# file → expected number of events (what each file is: tests/data/html/corpus/MANIFEST.tsv,
# the html/ rows of ../shared/corpus/MANIFEST.tsv)
CORPUS_COUNTS = {
    "calagator__hcal_event_wo_lat_and_long.xml": 1,
    "calagator__hcal_multiple.xml": 2,
    "calagator__hcal_upcoming_v1.html": 1,
    # two class="vevent" attributes on one element + the same event in RDFa cal: → one
    "calagator__hcal_upcoming_v4.html": 1,
    "dice_fm__venue_page.html": 17,
    # Wix lists name + url only; the dates are on each event's page (not fetched here)
    "dogwood_wix__jsonld_events.html": 0,
    "eventbrite__organizer_page.html": 24,
    "extruct_schemaorg__Event.001.html": 1,
    "extruct_schemaorg__Event.002.html": 2,
    "extruct_schemaorg__Event.004.html": 1,
    "extruct_schemaorg__Event.008.html": 1,
    "fremont_abbey__jsonld_events.html": 12,
    "heart_of_torbay__events_page.html": 1,
    "hellbent_brewing__simple_calendar_microdata.html": 30,
    "majestic_bay__visualartsevent_jsonld.html": 55,
    "outsavvy__organiser_page.html": 4,
    "pike_place_market__jsonld_events.html": 12,
    "royal_room__wordpress_event_jsonld.html": 1,
    # only an EventSeries and a SportsEvent without dates ("2026" is not a date)
    "seattle_fwc26__sportsevent_list.html": 0,
    # 49 MusicEvents; "Standon Calling 2014" is listed twice (same title, day and place)
    "songkick__maximo_park_gigography.html": 48,
    "songkick__tovestyrke.html": 1,
    "squarespace__events_page_no_markup.html": 0,
}


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if is_corpus_input(p)) == sorted(CORPUS_COUNTS)


@pytest.mark.parametrize("name", sorted(CORPUS_COUNTS))
def test_corpus_counts(name: str) -> None:
    result = harvest_corpus(CORPUS / name, LONG_AGO)  # https://example.org/events/
    assert len(result.events) == CORPUS_COUNTS[name], messages(result)
    assert result.kind == "html"
    if not result.events:
        assert result.warnings, "an empty result must say why"
    for event in result.events:
        assert event.key and event.title
        if isinstance(event.start, datetime):
            assert event.start.tzinfo is not None and event.start.utcoffset().total_seconds() == 0
        assert len({e.key for e in result.events}) == len(result.events)


def test_corpus_eventbrite_itemlist_offsets_without_colon() -> None:
    events = harvest(CORPUS / "eventbrite__organizer_page.html", now=LONG_AGO).events
    first = min(events, key=lambda e: e.start)
    assert first.start == utc(2024, 10, 3, 18, 0)  # "2024-10-03T19:00:00+0100"
    assert first.place.latitude is not None


def test_corpus_majestic_bay_duration_gives_end() -> None:
    events = harvest(CORPUS / "majestic_bay__visualartsevent_jsonld.html", now=LONG_AGO).events
    hamnet = next(e for e in events if e.title == "Hamnet")
    assert hamnet.start == utc(2026, 2, 15, 20, 30)  # 12:30-08:00
    assert hamnet.end == utc(2026, 2, 15, 22, 36)  # + PT2H6M
    # showtimes share a film's ticket URL? keys still unique
    assert len({e.key for e in events}) == 55


def test_corpus_hellbent_microdata_instants() -> None:
    events = harvest(CORPUS / "hellbent_brewing__simple_calendar_microdata.html", now=LONG_AGO)
    llama = min((e for e in events.events if e.title == "Llama Fusion"), key=lambda e: e.start)
    assert (llama.start, llama.end) == (utc(2026, 4, 2, 0, 0), utc(2026, 4, 2, 4, 0))


def test_corpus_hcalendar_floating_time_is_stockholm() -> None:
    (event,) = harvest(CORPUS / "calagator__hcal_event_wo_lat_and_long.xml", now=LONG_AGO).events
    assert event.title == "Ignite Portland 2010"
    assert event.start == utc(2010, 6, 18, 16, 0)  # 20100618T180000, no zone → Stockholm
    assert event.location_text.startswith("Bagdad Theater and Pub, 3702 S.E. Hawthorne Blvd")


def test_corpus_dice_rescheduled_kept_with_note() -> None:
    result = harvest(CORPUS / "dice_fm__venue_page.html", now=LONG_AGO)
    molly = by_title(result.events)["Molly Payton"]
    assert molly.status == CONFIRMED
    assert molly.description.startswith("Obs: evenemanget har fått ett nytt datum.")
    assert "markerat som flyttat" in messages(result)


def test_corpus_window_drops_past_events_silently() -> None:
    result = harvest(CORPUS / "songkick__maximo_park_gigography.html", now=NOW)
    assert result.events == ()
    assert "found no events" not in messages(result)


# --- our Swedish fixtures -----------------------------------------------------------


def test_jsonld_graph_sloppy_and_broken_blocks() -> None:
    result = harvest("sv_graph_jsonld.html", url="https://teater.example.se/evenemang/")
    events = by_title(result.events)
    assert set(events) == {
        "Emil i Lönneberga – premiär",
        "Julkonsert i kyrkan",
        "Julmarknad på torget",
        "Berättarkväll med Astrid-tema",
    }
    emil = events["Emil i Lönneberga – premiär"]
    assert (emil.start, emil.end) == (utc(2026, 12, 12, 18, 0), utc(2026, 12, 12, 20, 30))
    assert emil.key == emil.uid == "https://teater.example.se/evenemang/emil-i-lonneberga/#event"
    assert emil.place.name == "Vimmerby Teater"
    assert (emil.place.street, emil.place.locality) == ("Storgatan 12", "Vimmerby")
    assert (emil.place.latitude, emil.place.longitude) == (57.6658, 15.8553)
    assert emil.organizer_name == "Vimmerby Teaterförening"
    assert emil.image == "https://teater.example.se/wp-content/uploads/emil.jpg"
    assert emil.description == "Familjeföreställning om Emil.\n\nPris: 150 kr"
    assert emil.timezone == "Europe/Stockholm"

    konsert = events["Julkonsert i kyrkan"]  # no offset: Stockholm wall time
    assert konsert.start == utc(2026, 12, 20, 15, 0)
    assert konsert.key == "https://teater.example.se/evenemang/julkonsert/"
    assert konsert.location_text == "Vimmerby kyrka, Vimmerby"
    assert konsert.description == "Fri entré"
    assert konsert.image == "https://teater.example.se/img/jul1.jpg"

    marknad = events["Julmarknad på torget"]  # HTML comment, raw newline, trailing commas
    assert marknad.all_day and (marknad.start, marknad.end) == (
        date(2026, 12, 5),
        date(2026, 12, 7),
    )
    assert marknad.key.startswith("hash:") and marknad.uid == ""
    assert marknad.description == "Marknad med hantverk\noch glögg.\n\nFri entré"

    uppskjuten = events["Berättarkväll med Astrid-tema"]
    assert uppskjuten.status == CONFIRMED
    assert "uppskjutet" in uppskjuten.description and "Pris: 50–100 kr" in uppskjuten.description

    text = messages(result)
    assert "Ett trasigt JSON-LD-block" in text
    assert "markerat som uppskjutet" in text


def test_script_in_description_never_survives_normalize() -> None:
    result = harvest("sv_graph_jsonld.html", url="https://teater.example.se/evenemang/")
    emil = by_title(result.events)["Emil i Lönneberga – premiär"]
    clean = normalize_event(emil, Source(id="s", name="Källan"), Settings())
    assert "<script" not in clean.description_html and "onerror" not in clean.description_html
    assert "alert" not in clean.description
    assert "<strong>Emil</strong>" in clean.description_html


def test_cancelled_event() -> None:
    (event,) = harvest("sv_cancelled.html", url="https://dans.example.se/evenemang/dans").events
    assert event.status == CANCELLED
    assert event.key == "https://dans.example.se/evenemang/dans#dansafton"
    assert (event.start, event.end) == (utc(2026, 12, 19, 19, 0), utc(2026, 12, 20, 0, 0))
    assert event.organizer_name == "Hultsfreds dansklubb"


def test_microdata() -> None:
    events = by_title(
        harvest("sv_microdata.html", url="https://hembygd.example.se/kalender/").events
    )
    cafe = events["Slöjdcafé i hembygdsgården"]
    assert (cafe.start, cafe.end) == (utc(2026, 12, 3, 17, 0), utc(2026, 12, 3, 20, 0))
    assert cafe.key == "https://hembygd.example.se/kalender/slojdcafe"
    assert (cafe.place.name, cafe.place.street, cafe.place.locality) == (
        "Hembygdsgården",
        "Österlånggatan 31",
        "Eksjö",
    )
    assert cafe.description.endswith("Pris: 40 kr")
    show = events["Julutställning"]  # ExhibitionEvent, inclusive endDate → exclusive
    assert show.all_day and (show.start, show.end) == (date(2026, 12, 1), date(2026, 12, 24))


def test_hcalendar_classic_and_mf2() -> None:
    events = by_title(harvest("sv_hcalendar.html", url="https://bygd.example.se/program/").events)
    film = events["Filmkväll: Ronja Rövardotter"]
    assert film.start == utc(2026, 12, 11, 17, 30)
    assert film.url == "https://bygd.example.se/program/filmkvall"
    assert film.location_text == "Bygdegården, Fågelfors"
    lucia = events["Luciafirande"]
    assert (lucia.start, lucia.end) == (utc(2026, 12, 13, 16, 0), utc(2026, 12, 13, 17, 0))
    assert (lucia.place.name, lucia.place.locality) == ("Högsby kyrka", "Högsby")


def test_rdfa_with_swedish_text_date() -> None:
    (event,) = harvest("sv_rdfa.html").events
    assert event.title == "Nyårskonsert"
    assert event.start == utc(2026, 12, 31, 16, 0)
    assert event.key == "https://konserthus.example.se/konsert/nyarskonsert"
    assert event.place.locality == "Oskarshamn"


RECIPE = Recipe(
    event="li.post",
    title=".rubrik",
    date=".datum",
    time=".tid",
    place=".plats",
    description=".text",
    image="img.bild",
)


def test_recipe_page_in_swedish() -> None:
    result = harvest("sv_recipe.html", url="https://bygd.example.se/pa-gang/", recipe=RECIPE)
    events = by_title(result.events)
    assert set(events) == {"Julgransplundring", "Sockenstämma", "INSTÄLLT: Adventskaffe"}
    gran = events["Julgransplundring"]
    assert (gran.start, gran.end) == (utc(2027, 1, 9, 13, 0), utc(2027, 1, 9, 15, 0))
    assert gran.url == gran.key == "https://bygd.example.se/pa-gang/julgransplundring"
    assert gran.location_text == "Bygdegården, Lönneberga"
    assert gran.image == "https://bygd.example.se/bilder/gran.jpg"
    assert gran.description == "Dans kring granen och fika."
    assert events["Sockenstämma"].start == utc(2026, 12, 15, 18, 0)  # no year: the next one
    assert events["INSTÄLLT: Adventskaffe"].status == CANCELLED
    assert "”Vårmarknad” visas inte: inget datum gick att läsa" in messages(result)


def test_recipe_that_matches_nothing_warns() -> None:
    recipe = Recipe(event="div.finns-inte", title="h2", date=".datum")
    result = harvest("sv_recipe.html", recipe=recipe)
    assert result.events == ()
    assert "hittade inget på" in messages(result)


def test_recipe_with_bad_selector_is_a_parse_error() -> None:
    with pytest.raises(ValueError, match="ingen giltig CSS-väljare"):
        check_recipe(Recipe(event="li[", title="h2", date=".d"))
    with pytest.raises(ParseError):
        harvest("sv_recipe.html", recipe=Recipe(event="li[", title="h2", date=".d"))


# --- hostile and broken input -------------------------------------------------------


def test_error_page_gives_no_events_and_says_so() -> None:
    result = harvest("error_page.html")
    assert result.events == ()
    assert "ser ut som en felsida (”404 – Sidan hittades inte”)" in messages(result)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \n",
        b"\x00\x01\x02binary",
        b"<html></html>",
        b"{not json",
        b"<?xml version='1.0'?>",
    ],
    ids=["empty", "blank", "binary", "empty-html", "bad-json", "xml-decl"],
)
def test_garbage_never_crashes(content: bytes) -> None:
    result = harvest_bytes(content)
    assert result.events == ()
    assert result.warnings


def test_deeply_nested_jsonld_is_skipped() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    nested = (
        '{"a":' * 5000 + '{"@type":"Event","name":"Djup","startDate":"2026-12-01"}' + "}" * 5000
    )
    ok = '{"@type":"Event","name":"Grund","startDate":"2026-12-02"}'
    page = (
        f'<html><head><script type="application/ld+json">{deep}</script>'
        f'<script type="application/ld+json">{nested}</script>'
        f'<script type="application/ld+json">{ok}</script></head></html>'
    ).encode()
    result = harvest_bytes(page)
    assert [e.title for e in result.events] == ["Grund"]
    assert "Ett trasigt JSON-LD-block" in messages(result)


def test_many_events_are_capped() -> None:
    items = ",".join(
        f'{{"@type":"Event","name":"E{i}","startDate":"2026-12-01T{i % 24:02d}:{i % 60:02d}",'
        f'"url":"/e/{i}"}}'
        for i in range(2500)
    )
    page = f'<html><script type="application/ld+json">[{items}]</script></html>'.encode()
    source = Source(id="s", name="Källan", url="https://example.se/e/")
    # more events than the source may bring: the harvest fails, nothing half-imported
    with pytest.raises(ParseError, match="fler än 2000 evenemang") as info:
        parse_html(page, source, Settings(max_events=2000), now=NOW)
    assert "max_events" in info.value.message
    assert len(parse_html(page, source, Settings(max_events=2500), now=NOW).events) == 2500


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1,}', {"a": 1}),
        ('[{"a": 1},]', [{"a": 1}]),
        ('{"a": "rad ett\nrad två"}', {"a": "rad ett\nrad två"}),
        ('<!-- {"a": 1} -->', {"a": 1}),
        ('//<![CDATA[\n{"a": 1}\n//]]>', {"a": 1}),
        ('{"a": 1} {"b": 2}', [{"a": 1}, {"b": 2}]),
        ('{"a": 1 /* kommentar */, "b": "http://x"}', {"a": 1, "b": "http://x"}),
        ('{&quot;a&quot;: 1}', {"a": 1}),
        ('{"a": "it\\\'s"}', {"a": "it's"}),
    ],
    ids=["trailing-comma", "array-comma", "raw-newline", "html-comment", "cdata", "concat",
         "comment", "escaped-html", "bad-escape"],
)  # fmt: skip
def test_sloppy_json(text: str, expected: object) -> None:
    assert loads_sloppy(text) == expected


def test_hopeless_json_raises_our_error() -> None:
    with pytest.raises(JsonLdError):
        loads_sloppy('{"a": }')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-12T19:00:00+01:00", utc(2026, 12, 12, 18, 0)),
        ("2026-12-12T19:00:00+0100", utc(2026, 12, 12, 18, 0)),
        ("2026-12-12T19:00", utc(2026, 12, 12, 18, 0)),
        ("2026-07-12T19:00", utc(2026, 7, 12, 17, 0)),
        ("2022-11-10T19:00:00.000Z", utc(2022, 11, 10, 19, 0)),
        ("20261212T1900", utc(2026, 12, 12, 18, 0)),
        ("2026-12-12 19:00", utc(2026, 12, 12, 18, 0)),
        ("2026-03-29T02:30", utc(2026, 3, 29, 1, 30)),  # spring gap: offset before the gap
        ("2026-12-12", date(2026, 12, 12)),
        ("2026", None),
        ("12 dec", None),
        ("2026-13-01", None),
    ],
)
def test_parse_when(text: str, expected: object) -> None:
    assert STOCKHOLM is not None
    found = parse_when(text, STOCKHOLM)
    assert (found.value if found else None) == expected


def test_parse_duration() -> None:
    assert parse_duration("PT2H6M") is not None and parse_duration("PT2H6M").total_seconds() == 7560
    assert parse_duration("P") is None and parse_duration("nonsense") is None


def test_link_choice_on_a_listing() -> None:
    hrefs = [
        "/evenemang/vinterkonsert/",
        "/evenemang/bokcirkel/#anmalan",
        "https://kultur.example.se/evenemang/julspel/",
        "/evenemang/page/2/",
        "/tag/musik/",
        "/kontakt/",
        "/evenemang/program.pdf",
        "https://annan.example.com/evenemang/x/",
        "/evenemang/?ical=1",
        "/",
        "mailto:a@b.se",
        "/kalender/luciatag",  # another event-ish path on the same site
    ]
    assert pick_links(hrefs, "https://kultur.example.se/evenemang/", "", 10) == [
        "https://kultur.example.se/evenemang/vinterkonsert/",
        "https://kultur.example.se/evenemang/bokcirkel/",
        "https://kultur.example.se/evenemang/julspel/",
        "https://kultur.example.se/kalender/luciatag",
    ]


# --- following links, with fake and real HTTP ---------------------------------------


def dict_fetcher(pages: dict[str, bytes], log: list[str]) -> PageFetcher:
    def fetch(url: str) -> bytes:
        log.append(url)
        if url not in pages:
            raise FetchError(f"HTTP 404 for {url}", url=url)
        return pages[url]

    return fetch


def test_listing_without_fetcher_warns() -> None:
    result = harvest(DATA / "listing" / "index.html")
    assert result.events == ()
    assert "Vi hittade inga evenemang" in messages(result)


def test_listing_budget_is_respected() -> None:
    base = "https://kultur.example.se"
    log: list[str] = []
    pages = {
        f"{base}/evenemang/vinterkonsert/": (DATA / "listing" / "vinterkonsert.html").read_bytes(),
        f"{base}/evenemang/bokcirkel/": (DATA / "listing" / "bokcirkel.html").read_bytes(),
    }
    result = harvest(
        DATA / "listing" / "index.html",
        url=f"{base}/evenemang/",
        fetch_page=dict_fetcher(pages, log),
        max_pages=1,
    )
    assert log == [f"{base}/robots.txt", f"{base}/evenemang/vinterkonsert/"]
    assert [e.title for e in result.events] == ["Vinterkonsert med Nässjö kammarkör"]
    assert "max_pages" in messages(result)


def test_tribe_json_paging_with_fake_fetcher() -> None:
    log: list[str] = []
    page2 = "https://kultur.example.se/wp-json/tribe/events/v1/events/?per_page=2&page=2"
    fetch = dict_fetcher({page2: (DATA / "tribe_page2.json").read_bytes()}, log)
    url = "https://kultur.example.se/wp-json/tribe/events/v1/events/?per_page=2"
    result = harvest(DATA / "tribe_page1.json", url=url, fetch_page=fetch)
    assert log == ["https://kultur.example.se/robots.txt", page2]
    check_tribe_events(result.events, "https://kultur.example.se")


def check_tribe_events(events: tuple[Event, ...], base: str) -> None:
    found = by_title(events)
    assert set(found) == {
        "Luciakonsert – Eksjö kyrkokör",
        "Julmarknad på Stora torget",
        "Nyårsdans",
    }
    lucia = found["Luciakonsert – Eksjö kyrkokör"]
    assert (lucia.start, lucia.end) == (utc(2026, 12, 13, 17, 0), utc(2026, 12, 13, 18, 30))
    assert lucia.key == f"{base}/event/luciakonsert/"
    assert lucia.place.name == "Eksjö kyrka" and lucia.place.locality == "Eksjö"
    assert (lucia.place.latitude, lucia.place.longitude) == (57.6664, 14.9717)
    assert lucia.categories == ("Musik",)
    assert lucia.organizer_name == "Eksjö församling"
    assert lucia.image.endswith("/lucia.jpg")
    assert lucia.description.endswith("Pris: 150 kr")
    marknad = found["Julmarknad på Stora torget"]
    assert marknad.all_day and (marknad.start, marknad.end) == (
        date(2026, 12, 12),
        date(2026, 12, 14),
    )
    assert marknad.description.endswith("Fri entré")
    dans = found["Nyårsdans"]
    assert (dans.start, dans.end) == (utc(2026, 12, 31, 20, 0), utc(2027, 1, 1, 0, 0))
    assert dans.description == "Pris: 200 kr"


def requests_fetcher(session: requests.Session) -> PageFetcher:
    """What the pipeline hands in, minus its SSRF guard and byte cap."""

    def fetch(url: str) -> bytes:
        try:
            response = session.get(url, timeout=5, headers={"User-Agent": Settings().user_agent})
        except requests.RequestException as exc:
            raise FetchError(str(exc), url=url) from exc
        if response.status_code >= 400:
            raise FetchError(f"HTTP {response.status_code}", url=url)
        return response.content

    return fetch


@pytest.fixture
def session() -> requests.Session:
    with requests.Session() as s:
        yield s


def serve_listing(httpserver: HTTPServer, robots: str | None) -> None:
    for name, path in (
        ("vinterkonsert.html", "/evenemang/vinterkonsert/"),
        ("bokcirkel.html", "/evenemang/bokcirkel/"),
        ("julspel.html", "/evenemang/julspel/"),
    ):
        body = (DATA / "listing" / name).read_bytes()
        httpserver.expect_request(path).respond_with_data(body, content_type="text/html")
    if robots is not None:
        httpserver.expect_request("/robots.txt").respond_with_data(
            robots, content_type="text/plain"
        )


def listing_bytes(httpserver: HTTPServer) -> bytes:
    # the fixture's one absolute link points at the real site; make it this server
    text = (DATA / "listing" / "index.html").read_text(encoding="utf-8")
    return text.replace("https://kultur.example.se", httpserver.url_for("").rstrip("/")).encode()


def test_listing_to_detail_pages_over_http(
    httpserver: HTTPServer, session: requests.Session
) -> None:
    serve_listing(httpserver, robots=None)  # no robots.txt: 500 from the test server → allowed
    source = Source(id="kultur", name="Kultur", url=httpserver.url_for("/evenemang/"))
    result = parse_html(
        listing_bytes(httpserver), source, Settings(), now=NOW, fetch_page=requests_fetcher(session)
    )
    events = by_title(result.events)
    assert set(events) == {
        "Vinterkonsert med Nässjö kammarkör",
        "Bokcirkel: Astrid Lindgren",
        "Julspel för barn",
    }
    konsert = events["Vinterkonsert med Nässjö kammarkör"]
    assert konsert.start == utc(2026, 12, 5, 17, 0)
    assert konsert.key == httpserver.url_for("/evenemang/vinterkonsert/")
    assert konsert.description == "Pris: 120 kr"
    bok = events["Bokcirkel: Astrid Lindgren"]
    assert bok.key == httpserver.url_for("/evenemang/bokcirkel/#event")
    assert bok.start == utc(2026, 12, 8, 17, 30) and bok.description == "Fri entré"
    assert events["Julspel för barn"].start == utc(2026, 12, 17, 16, 0)
    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/robots.txt") == 1
    assert paths.count("/evenemang/vinterkonsert/") == 1  # linked twice, fetched once


def test_robots_disallow_is_respected(httpserver: HTTPServer, session: requests.Session) -> None:
    robots = (
        "User-agent: *\nDisallow: /evenemang/bokcirkel/\n\n"
        "User-agent: AlltSomSker-Aggregator\nDisallow: /evenemang/julspel/\n"
    )
    serve_listing(httpserver, robots=robots)
    source = Source(id="kultur", name="Kultur", url=httpserver.url_for("/evenemang/"))
    result = parse_html(
        listing_bytes(httpserver), source, Settings(), now=NOW, fetch_page=requests_fetcher(session)
    )
    # our own group applies, not "*": julspel is off limits, bokcirkel is not
    assert {e.title for e in result.events} == {
        "Vinterkonsert med Nässjö kammarkör",
        "Bokcirkel: Astrid Lindgren",
    }
    paths = [request.path for request, _ in httpserver.log]
    assert "/evenemang/julspel/" not in paths
    assert "robots.txt tillåter inte" in messages(result)


@pytest.mark.parametrize(
    "rule", ["/*/julspel/", "/evenemang/jul*", "/*spel/$", "/evenemang/julspel/$"]
)
def test_robots_wildcards_are_respected(
    httpserver: HTTPServer, session: requests.Session, rule: str
) -> None:
    """``*`` and ``$`` (RFC 9309), as the host's politeness reads them: the standard
    library's parser took them literally and crawled the page."""
    serve_listing(httpserver, robots=f"User-agent: *\nDisallow: {rule}\n")
    source = Source(id="kultur", name="Kultur", url=httpserver.url_for("/evenemang/"))
    result = parse_html(
        listing_bytes(httpserver), source, Settings(), now=NOW, fetch_page=requests_fetcher(session)
    )
    assert "Julspel för barn" not in {e.title for e in result.events}
    assert "Bokcirkel: Astrid Lindgren" in {e.title for e in result.events}
    assert "/evenemang/julspel/" not in [request.path for request, _ in httpserver.log]


def test_robots_disallow_all(httpserver: HTTPServer, session: requests.Session) -> None:
    serve_listing(httpserver, robots="User-agent: *\nDisallow: /\n")
    source = Source(id="kultur", name="Kultur", url=httpserver.url_for("/evenemang/"))
    result = parse_html(
        listing_bytes(httpserver), source, Settings(), now=NOW, fetch_page=requests_fetcher(session)
    )
    assert result.events == ()
    assert [request.path for request, _ in httpserver.log] == ["/robots.txt"]


def tribe_json(name: str, httpserver: HTTPServer) -> str:
    text = (DATA / name).read_text(encoding="utf-8")
    return text.replace("https://kultur.example.se", httpserver.url_for("").rstrip("/"))


def test_tribe_site_is_read_through_its_rest_api(
    httpserver: HTTPServer, session: requests.Session
) -> None:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request(
        "/wp-json/tribe/events/v1/events", query_string="per_page=50"
    ).respond_with_data(tribe_json("tribe_page1.json", httpserver), content_type="application/json")
    httpserver.expect_request(
        "/wp-json/tribe/events/v1/events/", query_string="per_page=2&page=2"
    ).respond_with_data(tribe_json("tribe_page2.json", httpserver), content_type="application/json")
    page = (
        (DATA / "tribe_site.html")
        .read_text(encoding="utf-8")
        .replace("https://kultur.example.se", base)
    )
    source = Source(id="kultur", name="Kultur", url=f"{base}/kalender/")
    result = parse_html(
        page.encode(), source, Settings(), now=NOW, fetch_page=requests_fetcher(session)
    )
    check_tribe_events(result.events, base)
    assert result.warnings == ()


def test_tribe_json_as_the_source_url(httpserver: HTTPServer, session: requests.Session) -> None:
    httpserver.expect_request(
        "/wp-json/tribe/events/v1/events/", query_string="per_page=2&page=2"
    ).respond_with_data(tribe_json("tribe_page2.json", httpserver), content_type="application/json")
    source = Source(
        id="kultur", name="Kultur", url=httpserver.url_for("/wp-json/tribe/events/v1/events")
    )
    first = tribe_json("tribe_page1.json", httpserver).encode()
    result = parse_html(first, source, Settings(), now=NOW, fetch_page=requests_fetcher(session))
    check_tribe_events(result.events, httpserver.url_for("").rstrip("/"))


def test_tribe_paging_loop_is_bounded() -> None:
    data = json.loads((DATA / "tribe_page2.json").read_text(encoding="utf-8"))
    url = "https://kultur.example.se/wp-json/tribe/events/v1/events"
    data["next_rest_url"] = url + "?page=2"
    body = json.dumps(data).encode()
    log: list[str] = []

    def fetch(u: str) -> bytes:
        log.append(u)
        return body  # every page says "next: page 2"

    result = harvest_bytes(body, url=url, fetch_page=fetch)
    assert len(result.events) == 1
    assert len(log) <= 3


@pytest.mark.parametrize("recipe", [None, Recipe(event="div.vevent", title="span", date="time")])
def test_deeply_nested_html_is_cheap(recipe: Recipe | None) -> None:
    opening = '<div class="vevent" itemscope itemtype="http://schema.org/Event">'
    page = ("<html><body>" + opening * 20_000 + "x" + "</div>" * 20_000).encode()
    source = Source(id="s", name="Källan", url="https://example.se/", recipe=recipe)
    result = parse_html(page, source, Settings(), now=NOW)
    assert result.events == ()
    # bounded output whatever the depth (the time it takes is bench material, not a test)
    assert 1 <= len(result.warnings) <= 51
