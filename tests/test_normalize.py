"""normalize.py: text, HTML, place, municipality, categories, slugs."""

from __future__ import annotations

import pytest

from aggregator.model import Event, Place, Settings, Source
from aggregator.normalize import (
    find_locality,
    html_to_text,
    merge_categories,
    normalize_event,
    parse_place,
    sanitize_html,
    slugify,
)
from tests.support import utc

SETTINGS = Settings()


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Västervik", "vastervik"),
        ("Eksjö", "eksjo"),
        ("Högsby", "hogsby"),
        ("Barn & familj", "barn-familj"),
        ("  Teater!  ", "teater"),
        ("Å Ä Ö", "a-a-o"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.mark.parametrize(
    ("location", "name", "street", "locality"),
    [
        (
            "Hembygdsgården, Gamla vägen 4, 571 62 Bodafors",
            "Hembygdsgården",
            "Gamla vägen 4",
            "Bodafors",
        ),
        ("Folkets hus, Storgatan 2, 598 30 Vimmerby", "Folkets hus", "Storgatan 2", "Vimmerby"),
        ("Stora torget, Påskallavik", "Stora torget", "", "Påskallavik"),
        ("Lönneberga hembygdsgård", "Lönneberga hembygdsgård", "", "Lönneberga"),
        (
            "Eksjö kulturhus, Stora salen, Norra Storgatan 29, Eksjö",
            "Eksjö kulturhus",
            "Norra Storgatan 29",
            "Eksjö",
        ),
        ("", "", "", ""),
    ],
    ids=[
        "full-address",
        "postcode",
        "square-village",
        "venue-with-village",
        "hall-room-street",
        "empty",
    ],
)
def test_parse_place(location: str, name: str, street: str, locality: str) -> None:
    place = parse_place(location)
    assert (place.name, place.street, place.locality) == (name, street, locality)


@pytest.mark.parametrize(
    ("location", "default", "municipality"),
    [
        ("Bygdegården, Mariannelund", "Vimmerby", "Eksjö"),
        ("Lönneberga hembygdsgård", None, "Hultsfred"),
        ("Folkets hus i Bodafors", "Eksjö", "Nässjö"),
        ("Kyrkan, Fågelfors", None, "Högsby"),
        ("Okänd lada ute i skogen", "Vimmerby", "Vimmerby"),
        ("Stadsparken, Kisa", "Vimmerby", "Vimmerby"),  # Kinda is not configured by default
    ],
    ids=[
        "mariannelund",
        "lonneberga",
        "bodafors",
        "fagelfors",
        "unknown-place-default",
        "outside-configured",
    ],
)
def test_municipality_from_the_events_own_place(
    location: str, default: str | None, municipality: str
) -> None:
    source = Source(id="s", name="S", municipality=default)
    raw = Event(
        source_id="s", key="k", title="T", start=utc(2026, 12, 1, 18), location_text=location
    )
    assert normalize_event(raw, source, SETTINGS).place.municipality == municipality


def test_find_locality_needs_whole_words() -> None:
    assert find_locality("Bodaforsvägen 3") is None
    assert find_locality("i Södra Vi") == "Södra Vi"


def test_html_is_sanitized_and_a_plain_text_version_kept() -> None:
    source = Source(id="s", name="Föreningen")
    raw = Event(
        source_id="s",
        key="k",
        title="  Julmarknad   i\u00a0Virserum ",  # plain text: the harvester decoded it
        start=utc(2026, 12, 1, 18),
        description='<p>Välkommen!</p><script>alert(1)</script><p onclick="x()">Fika &amp; <b>lotteri</b></p>'
        '<a href="javascript:evil()">länk</a>',
    )
    event = normalize_event(raw, source, SETTINGS)
    assert event.title == "Julmarknad i Virserum"
    assert "<script" not in event.description_html and "onclick" not in event.description_html
    assert "javascript:" not in event.description_html
    assert "<b>lotteri</b>" in event.description_html
    assert event.description == "Välkommen!\nFika & lotteri\nlänk"
    assert event.organizer_name == "Föreningen"


def test_sanitize_and_text() -> None:
    assert (
        sanitize_html('<a href="https://x.se">x</a>')
        == '<a href="https://x.se" rel="noopener noreferrer nofollow">x</a>'
    )
    assert html_to_text("<p>a</p><p>b<br>c</p>") == "a\nb\nc"


def test_categories_merge_case_insensitively_in_order() -> None:
    assert merge_categories(("Teater",), ("teater", "barn", ""), ("Musik",)) == (
        "Teater",
        "Barn",
        "Musik",
    )


def test_bad_urls_are_dropped_and_missing_title_gets_a_name() -> None:
    raw = Event(
        source_id="s",
        key="k",
        title=" ",
        start=utc(2026, 12, 1),
        url="javascript:alert(1)",
        image="ftp://x",
    )
    event = normalize_event(raw, Source(id="s", name="S"), SETTINGS)
    assert (event.url, event.image, event.title) == ("", "", "Namnlöst evenemang")


def test_place_coordinates_survive_normalization() -> None:
    raw = Event(
        source_id="s",
        key="k",
        title="T",
        start=utc(2026, 12, 1),
        place=Place(latitude=57.1, longitude=15.9),
        location_text="Lönneberga",
    )
    place = normalize_event(raw, Source(id="s", name="S"), SETTINGS).place
    assert (place.latitude, place.longitude, place.municipality) == (57.1, 15.9, "Hultsfred")
