"""Generate the labelled dedupe dataset ``events.jsonl`` (deterministic: fixed seed).

    /tmp/venv/bin/python tests/data/dedupe/make_dataset.py

Each *real* event (a show, a market, a service) is rendered by the sources that would
list it: the organizer's own calendar, its Facebook page, the municipality's calendar,
a village website. Each source writes title, time and place its own way, and places go
through ``normalize.parse_place``/``municipality_for`` as harvested ones do. Members of
one real event share a ``group``; traps (same show other time, same title other place,
recurring series, similar names, one venue two events) are distinct groups tagged
``trap:<kind>:<set>`` in ``note``. See README.md next to this file.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from aggregator.model import Place, Settings
from aggregator.normalize import municipality_for, parse_place

SEED = 20261126
OUT = Path(__file__).with_name("events.jsonl")
TZ = ZoneInfo("Europe/Stockholm")
SEASON = (date(2026, 12, 1), date(2027, 8, 31))
SETTINGS = Settings()

CENTRES = {  # approximate locality centres
    "Nässjö": (57.653, 14.696), "Forserum": (57.700, 14.475), "Bodafors": (57.504, 14.692),
    "Malmbäck": (57.580, 14.465), "Eksjö": (57.666, 14.971), "Mariannelund": (57.617, 15.567),
    "Ingatorp": (57.637, 15.413), "Hjältevad": (57.622, 15.357), "Vimmerby": (57.665, 15.855),
    "Södra Vi": (57.740, 15.797), "Storebro": (57.582, 15.842), "Djursdala": (57.688, 15.677),
    "Gullringen": (57.800, 15.708), "Hultsfred": (57.488, 15.844), "Virserum": (57.316, 15.583),
    "Lönneberga": (57.548, 15.688), "Målilla": (57.386, 15.807), "Järeda": (57.444, 15.629),
    "Vena": (57.517, 16.015), "Mörlunda": (57.320, 15.857), "Högsby": (57.167, 16.027),
    "Fågelfors": (57.202, 15.836), "Berga": (57.118, 16.041), "Oskarshamn": (57.264, 16.448),
    "Döderhult": (57.285, 16.386), "Figeholm": (57.370, 16.553), "Kristdala": (57.399, 16.190),
    "Påskallavik": (57.168, 16.454),
}  # fmt: skip
POSTCODES = {"Nässjö": "571 31", "Eksjö": "575 30", "Vimmerby": "598 37", "Hultsfred": "577 30",
             "Virserum": "570 80", "Högsby": "579 30", "Oskarshamn": "572 30"}  # fmt: skip


@dataclass(frozen=True)
class Venue:
    name: str
    locality: str
    street: str = ""
    generic: str = ""  # what a local writes: "Kyrkan", "Bygdegården"


V = {
    "nassjo-park": Venue("Folkets park", "Nässjö", "Parkgatan 4", "Folkets park"),
    "nassjo-kyrka": Venue("Nässjö kyrka", "Nässjö", "Kyrkogatan 1", "Kyrkan"),
    "nassjo-bibl": Venue("Nässjö stadsbibliotek", "Nässjö", "Storgatan 12", "Biblioteket"),
    "forserum-fh": Venue("Folkets hus", "Forserum", "Storgatan 20", "Folkets hus"),
    "bodafors-bg": Venue("Bodafors bygdegård", "Bodafors", "", "Bygdegården"),
    "malmback-kyrka": Venue("Malmbäcks kyrka", "Malmbäck", "", "Kyrkan"),
    "eksjo-hotell": Venue("Eksjö Stadshotell", "Eksjö", "Stora torget 1", "Stadshotellet"),
    "eksjo-museum": Venue("Eksjö museum", "Eksjö", "Österlånggatan 31", "Museet"),
    "eksjo-kyrka": Venue("Eksjö kyrka", "Eksjö", "Kyrkogatan 3", "Kyrkan"),
    "eksjo-torget": Venue("Stora torget", "Eksjö", "", "Torget"),
    "eksjo-pub": Venue("Pub Lilla Stugan", "Eksjö", "Norra Storgatan 8", "Puben"),
    "mlund-fh": Venue("Folkets hus", "Mariannelund", "Järnvägsgatan 5", "Folkets hus"),
    "ingatorp-bg": Venue("Ingatorps bygdegård", "Ingatorp", "", "Bygdegården"),
    "vby-teater": Venue("Vimmerby Teater", "Vimmerby", "Sevedegatan 2", "Teatern"),
    "vby-kyrka": Venue("Vimmerby kyrka", "Vimmerby", "Kyrkogatan 1", "Kyrkan"),
    "vby-torget": Venue("Stora torget", "Vimmerby", "", "Torget"),
    "vby-bibl": Venue("Vimmerby bibliotek", "Vimmerby", "Sevedegatan 41", "Biblioteket"),
    "vby-nas": Venue("Astrid Lindgrens Näs", "Vimmerby", "Prästgårdsgatan 24", "Näs"),
    "vby-park": Venue("Folkets park", "Vimmerby", "Parkgatan 1", "Folkets park"),
    "sodravi-kyrka": Venue("Södra Vi kyrka", "Södra Vi", "", "Kyrkan"),
    "storebro-bg": Venue("Bygdegården", "Storebro", "", "Bygdegården"),
    "djursdala-kyrka": Venue("Djursdala kyrka", "Djursdala", "", "Kyrkan"),
    "hfd-kyrka": Venue("Hultsfreds kyrka", "Hultsfred", "Kyrkogatan 2", "Kyrkan"),
    "hfd-torget": Venue("Stora torget", "Hultsfred", "", "Torget"),
    "hfd-kulturhus": Venue("Kulturhuset", "Hultsfred", "Stora torget 4", "Kulturhuset"),
    "virserum-fh": Venue("Folkets hus", "Virserum", "Storgatan 6", "Folkets hus"),
    "virserum-konsthall": Venue("Virserums konsthall", "Virserum", "Fabriksgatan 1", "Konsthallen"),
    "virserum-kyrka": Venue("Virserums kyrka", "Virserum", "", "Kyrkan"),
    "lonneberga-hbg": Venue("Lönneberga hembygdsgård", "Lönneberga", "", "Hembygdsgården"),
    "lonneberga-kyrka": Venue("Lönneberga kyrka", "Lönneberga", "", "Kyrkan"),
    "malilla-motor": Venue("Målilla Motorstadion", "Målilla", "Motorvägen 2", "Motorstadion"),
    "jareda-kyrka": Venue("Järeda kyrka", "Järeda", "", "Kyrkan"),
    "vena-bg": Venue("Vena bygdegård", "Vena", "", "Bygdegården"),
    "hogsby-kyrka": Venue("Högsby kyrka", "Högsby", "", "Kyrkan"),
    "hogsby-park": Venue("Folkets park", "Högsby", "Parkvägen 3", "Folkets park"),
    "fagelfors-museum": Venue("Fågelfors bruksmuseum", "Fågelfors", "", "Bruksmuseet"),
    "fagelfors-fh": Venue("Folkets hus", "Fågelfors", "", "Folkets hus"),
    "berga-bg": Venue("Bygdegården", "Berga", "", "Bygdegården"),
    "osk-konserthus": Venue("Oskarshamns konserthus", "Oskarshamn", "Hantverksgatan 18", "Konserthuset"),
    "osk-kyrka": Venue("Oskarshamns kyrka", "Oskarshamn", "Kyrkogatan 5", "Kyrkan"),
    "doderhult-kyrka": Venue("Döderhults kyrka", "Döderhult", "", "Kyrkan"),
    "osk-museet": Venue("Döderhultarmuseet", "Oskarshamn", "Hantverksgatan 18", "Museet"),
    "osk-hamnen": Venue("Gästhamnen", "Oskarshamn", "Skeppsbron 2", "Hamnen"),
    "figeholm-hamn": Venue("Figeholms hamn", "Figeholm", "", "Hamnen"),
    "kristdala-kyrka": Venue("Kristdala kyrka", "Kristdala", "", "Kyrkan"),
}  # fmt: skip
VILLAGE_SITES = {"Virserum": "virserum-nu", "Lönneberga": "lonneberga-byasida",
                 "Mariannelund": "mariannelund-nu", "Forserum": "forserum-byn",
                 "Fågelfors": "fagelfors-byasida", "Figeholm": "figeholm-nu",
                 "Kristdala": "kristdala-byn", "Södra Vi": "sodravi-nu", "Järeda": "jareda-byn",
                 "Målilla": "malilla-nu", "Storebro": "storebro-byn", "Berga": "berga-byn"}  # fmt: skip


@dataclass(frozen=True)
class Organizer:
    id: str
    name: str
    domain: str
    venues: tuple[str, ...]
    titles: tuple[str, ...]
    facebook: bool = True


ORGANIZERS = [
    Organizer("vimmerby-teater", "Vimmerby Teaterförening", "vimmerbyteater.se", ("vby-teater",),
              ("Pippi Långstrump på cirkus", "Emil i Lönneberga – teater för hela familjen",
               "Bröderna Lejonhjärta", "Ronja Rövardotter", "Mio min Mio", "Improkväll med Teater Tre",
               "Revy: Vimmerby runt")),
    Organizer("astrid-lindgrens-nas", "Astrid Lindgrens Näs", "astridlindgrensnas.se", ("vby-nas",),
              ("Julmarknad på Näs", "Guidad visning av barndomshemmet", "Sommarteater: Madicken",
               "Berättarstund i trädgården", "Utställningsvisning: Illustratörer")),
    Organizer("svk-vimmerby", "Svenska kyrkan Vimmerby", "svenskakyrkan.se/vimmerby",
              ("vby-kyrka", "sodravi-kyrka", "djursdala-kyrka"),
              ("Julotta", "Orgelkonsert med Maria Ek", "Gospelkonsert med Vimmerby Gospel",
               "Musikgudstjänst", "Sommarmusik i kyrkan", "Påskkonsert")),
    Organizer("vimmerby-bibliotek", "Vimmerby bibliotek", "vimmerby.se/bibliotek", ("vby-bibl",),
              ("Författarbesök: Lena Ek", "Bokcafé", "Pyssel för barn", "Släktforskning för nybörjare"),
              facebook=False),
    Organizer("folkets-park-vimmerby", "Folkets park Vimmerby", "folketsparkvimmerby.se", ("vby-park",),
              ("Dans till Lasse Stefanz-kopian", "Kalle Moraeus & Orsa Spelmän", "Allsång i parken",
               "Midsommardans", "Rockkväll med The Stonebridge")),
    Organizer("hultsfred-kulturhus", "Kulturhuset Hultsfred", "hultsfred.se/kulturhuset", ("hfd-kulturhus",),
              ("Stand-up: Komikerkväll", "Filmklubb: Sällskapsresan", "Jazzkväll med Anna Berg Quintet",
               "Föreläsning: Hultsfredsfestivalens historia", "Vernissage: Akvareller av Eva Lind")),
    Organizer("svk-hultsfred", "Svenska kyrkan Hultsfred-Vena", "svenskakyrkan.se/hultsfred",
              ("hfd-kyrka", "jareda-kyrka", "lonneberga-kyrka"),
              ("Julkonsert med kyrkokören", "Luciakonsert", "Taizémässa", "Konsert: Stråkkvartetten",
               "Sommarkväll i kyrkan")),
    Organizer("virserum-folkets-hus", "Virserums Folkets hus", "virserumsfolketshus.se", ("virserum-fh",),
              ("Julmarknad i Virserum", "Bingo", "Pubafton med livemusik", "Vårmarknad",
               "Teater: Arsenik och gamla spetsar", "Trubadurkväll med Jonas Lind")),
    Organizer("virserums-konsthall", "Virserums konsthall", "virserumskonsthall.se", ("virserum-konsthall",),
              ("Vernissage: Trä och tid", "Konstnärssamtal med Per Holm", "Workshop: Tryck för barn",
               "Guidad visning: Möbelriket")),
    Organizer("lonneberga-hembygd", "Lönneberga hembygdsförening", "lonnebergahembygd.se", ("lonneberga-hbg",),
              ("Öppet hus på hembygdsgården", "Slåtterdag", "Hantverksdag", "Våffeldag")),
    Organizer("malilla-speedway", "Dackarna Målilla", "dackarna.se", ("malilla-motor",),
              ("Speedway: Dackarna – Vetlanda", "Speedway: Dackarna – Piraterna",
               "Speedway: Dackarna – Lejonen", "Motorträff på stadion")),
    Organizer("eksjo-stadshotell", "Eksjö Stadshotell", "eksjostadshotell.se", ("eksjo-hotell",),
              ("Julbord med underhållning", "Jazzbrunch", "Nyårssupé", "Musikquiz", "Whiskyprovning")),
    Organizer("eksjo-museum", "Eksjö museum", "eksjo.se/museum", ("eksjo-museum",),
              ("Guidad visning av trästaden", "Utställning: Albert Engström", "Familjesöndag på museet",
               "Föreläsning: Eksjö garnison 300 år"), facebook=False),
    Organizer("eksjo-pub", "Pub Lilla Stugan", "lillastuganeksjo.se", ("eksjo-pub",),
              ("Pubquiz", "Karaokekväll", "Livemusik: Trubaduren Olle", "After work med DJ")),
    Organizer("mariannelund-fh", "Mariannelunds Folkets hus", "mlundfolketshus.se", ("mlund-fh",),
              ("Emilfestival: Barnteater", "Dansafton med Thorleifs-kopian", "Loppis", "Filmkväll")),
    Organizer("nassjo-kultur", "Nässjö kulturförening", "nassjokultur.se", ("nassjo-park", "nassjo-bibl"),
              ("Trollkarlen Magnus – magisk show", "Konsert med Nässjö blåsorkester",
               "Poesikväll med öppen scen", "Sagostund", "Nässjö Jazzfestival: Öppningskonsert")),
    Organizer("forserum-folkets-hus", "Forserums Folkets hus", "forserumfolketshus.se", ("forserum-fh",),
              ("Bygdespel: Järnvägen kommer", "Bingo", "Countrykväll med Kenny Lee", "Julmarknad i Forserum")),
    Organizer("hogsby-folkets-park", "Högsby Folkets park", "hogsbyfolketspark.se", ("hogsby-park",),
              ("Sommarfest i parken", "Dans till Högsby Spelmanslag", "Barnens dag", "Räkfrossa")),
    Organizer("fagelfors-bruk", "Fågelfors bruksmuseum", "fagelforsbruk.se", ("fagelfors-museum",),
              ("Bruksdag med hantverk", "Guidad tur i bruksmiljön", "Smide för nybörjare")),
    Organizer("oskarshamns-konserthus", "Oskarshamns konserthus", "oskarshamnskonserthus.se", ("osk-konserthus",),
              ("Nyårskonsert med Kalmar läns musik", "Musikal: Sound of Music", "Stand-up: Johan Glans-show",
               "Vårkonsert med kulturskolan", "Operagala")),
    Organizer("doderhultarmuseet", "Döderhultarmuseet", "doderhultarmuseet.se", ("osk-museet",),
              ("Täljkurs i Döderhultarns anda", "Visning: Axel Petersson Döderhultarn", "Lovaktivitet: Tälj en figur")),
    Organizer("svk-oskarshamn", "Svenska kyrkan Oskarshamn", "svenskakyrkan.se/oskarshamn",
              ("osk-kyrka", "doderhult-kyrka", "kristdala-kyrka"),
              ("Julkonsert med Oskarshamns kammarkör", "Julkonsert med Döderhults kyrkokör",
               "Orgelkonsert", "Sommarmusik: Visor och psalmer")),
    Organizer("figeholms-batklubb", "Figeholms båtklubb", "figeholmsbatklubb.se", ("figeholm-hamn",),
              ("Sjösättning och loppis", "Skärgårdsdag i Figeholm", "Kräftskiva på bryggan")),
    Organizer("oskarshamn-hamn", "Oskarshamns gästhamn", "oskarshamn.se/gasthamn", ("osk-hamnen",),
              ("Båt till Blå Jungfrun", "Hamnfest", "Sillfrukost"), facebook=False),
]  # fmt: skip
SHORT = {  # the abbreviations listing sites use
    "Pippi Långstrump på cirkus": "Pippi på cirkus",
    "Emil i Lönneberga – teater för hela familjen": "Emil i Lönneberga",
    "Julkonsert med Oskarshamns kammarkör": "Julkonsert – kammarkören",
    "Kalle Moraeus & Orsa Spelmän": "Kalle Moraeus",
    "Trollkarlen Magnus – magisk show": "Trollkarlen Magnus",
    "Guidad visning av trästaden": "Trästadsvandring",
    "Jazzkväll med Anna Berg Quintet": "Anna Berg Quintet",
    "Speedway: Dackarna – Vetlanda": "Dackarna–Vetlanda",
    "Julbord med underhållning": "Julbord",
    "Nyårskonsert med Kalmar läns musik": "Nyårskonsert",
}
MUNICIPALITY_OF = {"Nässjö": "Nässjö", "Eksjö": "Eksjö", "Vimmerby": "Vimmerby",
                   "Hultsfred": "Hultsfred", "Högsby": "Högsby", "Oskarshamn": "Oskarshamn"}  # fmt: skip


def municipality_of(locality: str) -> str:
    from aggregator.normalize.gazetteer import LOCALITIES

    return LOCALITIES[locality]


@dataclass
class Real:
    """One real event: what every listing of it describes."""

    group: str
    title: str
    venue: str
    day: date
    start: time | None  # None: an all-day event
    minutes: int
    organizer: Organizer
    trap: str = ""
    url: str = ""
    village_generic: bool = False  # the village site writes only "Kyrkan"
    timed_only: bool = False  # several performances that day: a date-only listing is ambiguous
    sources: tuple[str, ...] = field(default_factory=tuple)


class Generator:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.reals: list[Real] = []
        self.rows: list[dict] = []
        self.taken: set[tuple[date, str]] = set()
        self.counter = 0

    # -- real events -------------------------------------------------------------------
    def real(self, title: str, venue: str, day: date, start: time | None, organizer: Organizer,
             trap: str = "", minutes: int = 120, sources: int | None = None, url: str = "",
             village_generic: bool = False) -> Real:  # fmt: skip
        self.counter += 1
        timed_only = trap.startswith(("matinee", "hourly"))
        real = Real(f"g{self.counter:04d}", title, venue, day, start, minutes, organizer, trap,
                    url, village_generic, timed_only)  # fmt: skip
        real.sources = self.pick_sources(real, sources)
        self.taken.add((day, title))
        self.reals.append(real)
        return real

    def pick_sources(self, real: Real, count: int | None) -> tuple[str, ...]:
        locality = V[real.venue].locality
        pool = [real.organizer.id]
        if real.organizer.facebook:
            pool.append("fb-" + real.organizer.id)
        pool.append(
            municipality_of(locality).lower().translate(str.maketrans("åäö", "aao")) + "-kommun"
        )
        if locality in VILLAGE_SITES:
            pool.append(VILLAGE_SITES[locality])
        if count is None:
            count = self.rng.choices([1, 2, 3, 4], weights=[40, 33, 20, 7])[0]
        count = min(count, len(pool))
        if count == 1:
            return (self.rng.choice(pool),)
        chosen = [pool[0]] if self.rng.random() < 0.8 else []
        rest = [s for s in pool if s not in chosen]
        self.rng.shuffle(rest)
        return tuple(chosen + rest[: count - len(chosen)])

    def free_day(self, title: str) -> date:
        """A day in the season that suits the title (no Christmas concerts in April)."""
        span = (SEASON[1] - SEASON[0]).days
        months = season_of(title)
        while True:
            day = SEASON[0] + timedelta(days=self.rng.randrange(span + 1))
            if day.month in months and (day, title) not in self.taken:
                return day

    # -- rendering one listing ---------------------------------------------------------
    def render(self, real: Real, source: str) -> dict:
        rng = self.rng
        venue = V[real.venue]
        kind = ("organizer" if source == real.organizer.id else "facebook" if source.startswith("fb-")
                else "kommun" if source.endswith("-kommun") else "village")  # fmt: skip
        notes: list[str] = []
        title = real.title
        offset, all_day, zone, end = 0, real.start is None, "Europe/Stockholm", True
        lat = lon = None
        place_text = (
            f"{venue.name}, {venue.locality}" if venue.locality not in venue.name else venue.name
        )
        if kind == "organizer":
            if venue.street:
                postcode = POSTCODES.get(venue.locality, "")
                place_text = f"{venue.name}, {venue.street}, {postcode} {venue.locality}".replace(
                    ", ,", ","
                )
        elif kind == "facebook":
            choice = rng.random()
            if choice < 0.2:
                title, note = title.upper() + " – premiär!", "caps + premiär"
            elif choice < 0.35:
                title, note = f"Välkommen till {title}!", "välkommen till"
            elif choice < 0.45 and real.day.month == 12:
                title, note = f"🎄 {title} 🎄", "emoji"
            elif choice < 0.55:
                title, note = f"{title} {real.day.year}", "year"
            elif choice < 0.62:
                title, note = title.lower(), "lower case"
            else:
                note = ""
            notes.append(note)
            lat_c, lon_c = self.venue_coords(real.venue)
            lat = round(lat_c + rng.uniform(-0.0003, 0.0003), 6)
            lon = round(lon_c + rng.uniform(-0.0005, 0.0005), 6)
            end = rng.random() < 0.7
        elif kind == "kommun":
            choice = rng.random()
            if choice < 0.25 and title in SHORT:
                title, note = SHORT[title], "abbreviated"
            elif choice < 0.4:
                title, note = f"{venue.locality}: {title}", "locality prefix"
            elif choice < 0.5:
                title, note = f"{title} – {venue.name}", "venue suffix"
            else:
                note = ""
            notes.append(note)
            place_text, pnote = self.place_variant(venue)
            notes.append(pnote)
            if not all_day:
                offset = rng.choices([0, -30, -15, 15, 30], weights=[60, 10, 10, 10, 10])[0]
                if rng.random() < 0.1 and not real.timed_only:
                    all_day, offset = True, 0
                    notes.append("date only")
                if rng.random() < 0.15:
                    zone = "UTC"
                    notes.append("published in UTC")
            if rng.random() < 0.2:
                lat, lon = CENTRES[venue.locality]  # geocoded to the village centre
                notes.append("locality centroid")
            end = rng.random() < 0.6
        else:
            choice = rng.random()
            if choice < 0.3:
                title, note = typo(rng, title), "typo"
            elif choice < 0.45 and title in SHORT:
                title, note = SHORT[title], "abbreviated"
            elif choice < 0.55:
                title, note = title.lower(), "lower case"
            else:
                note = ""
            notes.append(note)
            if real.village_generic or rng.random() < 0.35:
                place_text, pnote = venue.generic, "generic place"
            elif rng.random() < 0.1:
                place_text, pnote = "", "no place"
            else:
                pnote = ""
            notes.append(pnote)
            if not all_day:
                offset = rng.choices([0, -15, 15, -30, 30], weights=[70, 8, 8, 7, 7])[0]
                if rng.random() < 0.2 and not real.timed_only:
                    all_day, offset = True, 0
                    notes.append("date only")
            end = rng.random() < 0.3
        if offset:
            notes.append(f"{offset:+d} min")
        start, stop = self.times(real, offset, all_day, end)
        municipality_default = municipality_of(venue.locality) if kind != "organizer" else (
            municipality_of(V[real.organizer.venues[0]].locality))  # fmt: skip
        place = parse_place(place_text, Place(latitude=lat, longitude=lon))
        municipality = municipality_for(place, place_text, municipality_default, SETTINGS)
        place = Place(place.name, place.street, place.locality, municipality or "", lat, lon)
        status = "confirmed"
        if real.trap == "" and kind == "facebook" and rng.random() < 0.03:
            title, status = "INSTÄLLT: " + title, "cancelled"
            notes.append("cancelled")
        index = len(self.rows)
        url, uid = self.url_and_uid(real, kind, source, index)
        if url == real.url and kind != "organizer" and real.url:
            notes.append("copied organizer URL")
        row = {
            "source_id": source,
            "key": f"{source}:{index:05d}",
            "title": title,
            "start": start,
            "end": stop,
            "all_day": all_day,
            "timezone": zone,
            "status": status,
            "description": "",
            "url": url,
            "place": {"name": place.name, "street": place.street, "locality": place.locality,
                      "municipality": place.municipality, "latitude": lat, "longitude": lon},
            "location_text": place_text,
            "categories": [],
            "organizer_name": real.organizer.name,
            "uid": uid,
            "group": real.group,
            "note": "; ".join(
                [*([f"trap:{real.trap}"] if real.trap else []), kind, *[n for n in notes if n]]
            ),
        }  # fmt: skip
        self.rows.append(row)
        return row

    def venue_coords(self, key: str) -> tuple[float, float]:
        lat, lon = CENTRES[V[key].locality]
        salt = sum(map(ord, key))
        return round(lat + (salt % 17 - 8) * 0.0006, 6), round(lon + (salt % 13 - 6) * 0.0009, 6)

    def place_variant(self, venue: Venue) -> tuple[str, str]:
        options = [(f"{venue.name}, {venue.locality}", "")]
        if venue.locality not in venue.name:
            options += [(f"{venue.locality}s {venue.name}", "possessive place"),
                        (f"{venue.name} i {venue.locality}", "'i' place"),
                        (f"{venue.locality}, {venue.name}", "locality first")]  # fmt: skip
        else:
            options += [(venue.name, "")]
        municipality = municipality_of(venue.locality)
        genitive = municipality + ("s" if municipality in ("Hultsfred", "Oskarshamn") else "")
        options.append((f"{venue.name}, {venue.locality}, {genitive} kommun", "with municipality"))
        return self.rng.choice(options)

    def times(self, real: Real, offset: int, all_day: bool, end: bool) -> tuple[str, str | None]:
        if all_day:
            return real.day.isoformat(), (
                (real.day + timedelta(days=1)).isoformat() if end else None
            )
        start_time = real.start or time(10, 0)
        local = datetime.combine(real.day, start_time, TZ) + timedelta(minutes=offset)
        start = local.astimezone(UTC)
        stop = start + timedelta(minutes=real.minutes)
        iso = "%Y-%m-%dT%H:%M:%SZ"
        return start.strftime(iso), (stop.strftime(iso) if end else None)

    def url_and_uid(self, real: Real, kind: str, source: str, index: int) -> tuple[str, str]:
        rng = self.rng
        if kind == "organizer":
            return real.url, f"{index:05d}-{real.group}@{real.organizer.domain.split('/')[0]}"
        if kind == "facebook":
            fb = str(10**15 + rng.randrange(10**15))
            return f"https://www.facebook.com/events/{fb}/", fb
        if kind == "kommun":
            if real.url and rng.random() < 0.25:
                return real.url, ""
            return (
                f"https://www.{source.removesuffix('-kommun')}.se/evenemang/{index}",
                f"kommun-{index}",
            )
        if real.url and rng.random() < 0.1:
            return real.url, ""
        return f"https://{source}.se/?p={1000 + index}", ""


SEASONAL = [
    (("jul", "lucia", "nyår"), {12}),
    (("midsommar", "sommar", "kräft", "slåtter", "sill", "blå jungfrun", "surströmming",
      "hamnfest", "skärgård", "räkfrossa", "logdans", "utomhus", "trädgård"), {6, 7, 8}),
    (("vår", "påsk", "valborg", "sjösättning"), {3, 4, 5}),
    (("speedway", "motorträff", "veteranbil", "stadsfest", "nattloppet"), {5, 6, 7, 8}),
    (("höst", "skörd"), {8}),
]  # fmt: skip


def season_of(title: str) -> set[int]:
    folded = title.casefold()
    for words, months in SEASONAL:
        if any(w in folded for w in words):
            return months
    return {12, 1, 2, 3, 4, 5, 6, 7, 8}


def typo(rng: random.Random, text: str) -> str:
    """One dropped, doubled or swapped letter inside a longer word."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    w = words[i]
    p = rng.randrange(2, len(w) - 2)
    op = rng.choice(["drop", "double", "swap"])
    w = w[:p] + w[p + 1 :] if op == "drop" else w[:p] + w[p] + w[p:] if op == "double" else (
        w[:p] + w[p + 1] + w[p] + w[p + 2 :])  # fmt: skip
    words[i] = w
    return " ".join(words)


def org(id_: str) -> Organizer:
    return next(o for o in ORGANIZERS if o.id == id_)


def slug(text: str) -> str:
    from aggregator.normalize import slugify

    return slugify(text)


EXTRA_ORGANIZERS = [
    Organizer("berga-bygdeforening", "Berga bygdeförening", "bergabygd.se", ("berga-bg",),
              ("Pubkväll i bygdegården", "Surströmmingsfest", "Stickcafé")),
    Organizer("storebro-bygdeforening", "Storebro bygdeförening", "storebrobygd.se", ("storebro-bg",),
              ("Bruksdag i Storebro", "Filmkväll för barn", "Dart-turnering")),
    Organizer("ingatorp-bygdegard", "Ingatorps bygdegårdsförening", "ingatorp.se", ("ingatorp-bg",),
              ("Sommarcafé", "Logdans", "Auktion")),
    Organizer("vena-bygdegard", "Vena bygdegårdsförening", "venabygd.se", ("vena-bg",),
              ("Bygdens dag", "Kortspel: Whist", "Tacokväll")),
    Organizer("fagelfors-folkets-hus", "Fågelfors Folkets hus", "fagelforsfh.se", ("fagelfors-fh",),
              ("Bingo i Fågelfors", "Filmkväll", "Dans till Bröderna Lind")),
    Organizer("bodafors-bygdegard", "Bodafors bygdegårdsförening", "bodaforsbygd.se", ("bodafors-bg",),
              ("Teaterafton", "Lördagsdans")),
    Organizer("vimmerby-centrum", "Vimmerby Centrumförening", "vimmerbycentrum.se", ("vby-torget",),
              ("Allsång på Stora torget", "Julskyltning", "Skördemarknad")),
    Organizer("hultsfred-centrum", "Hultsfreds Centrumförening", "hultsfredcentrum.se", ("hfd-torget",),
              ("Höstmarknad", "Julskyltning i centrum", "Bondens marknad")),
    Organizer("eksjo-handel", "Eksjö Handel", "eksjohandel.se", ("eksjo-torget",),
              ("Eksjö stadsfest", "Nattloppet", "Veteranbilsträff")),
]  # fmt: skip
ORGANIZERS.extend(EXTRA_ORGANIZERS)
TIMES = [time(10), time(11), time(13), time(14), time(15), time(17, 30), time(18), time(18, 30),
         time(19), time(19, 30), time(20)]  # fmt: skip


def page(o: Organizer, title: str, day: date | None = None) -> str:
    tail = f"-{day.isoformat()}" if day else ""
    return f"https://{o.domain}/evenemang/{slug(title)}{tail}"


def build(g: Generator) -> dict[str, list[str]]:
    """All real events; returns trap sets {set id: [groups]}."""
    rng = g.rng
    traps: dict[str, list[str]] = {}

    def trap(set_id: str, real: Real) -> None:
        traps.setdefault(set_id, []).append(real.group)

    # 1. the same show at two times of one day (matinée / evening)
    shows = [("vimmerby-teater", t) for t in org("vimmerby-teater").titles[:5]] + [
        ("oskarshamns-konserthus", "Musikal: Sound of Music"),
        ("oskarshamns-konserthus", "Operagala"),
        ("mariannelund-fh", "Emilfestival: Barnteater"),
        ("nassjo-kultur", "Trollkarlen Magnus – magisk show"),
        ("virserum-folkets-hus", "Teater: Arsenik och gamla spetsar"),
        ("forserum-folkets-hus", "Bygdespel: Järnvägen kommer"),
        ("astrid-lindgrens-nas", "Sommarteater: Madicken"),
        ("vimmerby-teater", "Pippi Långstrump på cirkus"),
        ("vimmerby-teater", "Emil i Lönneberga – teater för hela familjen"),
    ]
    pairs_of_times = [(time(14), time(19)), (time(11), time(15)), (time(15), time(18)),
                      (time(13), time(16)), (time(16), time(19, 30))]  # fmt: skip
    for n, (oid, title) in enumerate(shows):
        o = org(oid)
        day = g.free_day(title)
        url = page(o, title)
        for t in rng.choice(pairs_of_times):
            trap(f"matinee:m{n:02d}", g.real(title, o.venues[0], day, t, o, f"matinee:m{n:02d}",
                                             sources=rng.choice([1, 2, 2, 3, 3, 4]), url=url))  # fmt: skip

    # 2. the same title at the same hour in several villages (holidays, live broadcasts)
    holidays = [
        ("Luciatåg", date(2026, 12, 13), time(18),
         [("svk-vimmerby", "vby-kyrka"), ("svk-vimmerby", "sodravi-kyrka"), ("svk-hultsfred", "hfd-kyrka"),
          ("svk-hultsfred", "jareda-kyrka"), ("svk-hultsfred", "lonneberga-kyrka"),
          ("svk-oskarshamn", "kristdala-kyrka")]),
        ("Valborgsfirande", date(2027, 4, 30), time(19, 30),
         [("lonneberga-hembygd", "lonneberga-hbg"), ("folkets-park-vimmerby", "vby-park"),
          ("hogsby-folkets-park", "hogsby-park"), ("figeholms-batklubb", "figeholm-hamn"),
          ("berga-bygdeforening", "berga-bg"), ("storebro-bygdeforening", "storebro-bg")]),
        ("Midsommarfirande", date(2027, 6, 25), time(14),
         [("lonneberga-hembygd", "lonneberga-hbg"), ("hogsby-folkets-park", "hogsby-park"),
          ("berga-bygdeforening", "berga-bg"), ("ingatorp-bygdegard", "ingatorp-bg"),
          ("vena-bygdegard", "vena-bg"), ("figeholms-batklubb", "figeholm-hamn"),
          ("storebro-bygdeforening", "storebro-bg")]),
        ("Nationaldagsfirande", date(2027, 6, 6), time(14),
         [("vimmerby-centrum", "vby-torget"), ("hultsfred-centrum", "hfd-torget"),
          ("eksjo-handel", "eksjo-torget"), ("oskarshamn-hamn", "osk-hamnen")]),
        ("Julgransplundring", date(2027, 1, 10), time(15),
         [("forserum-folkets-hus", "forserum-fh"), ("mariannelund-fh", "mlund-fh"),
          ("virserum-folkets-hus", "virserum-fh"), ("fagelfors-folkets-hus", "fagelfors-fh"),
          ("bodafors-bygdegard", "bodafors-bg")]),
        ("Met Opera Live: Carmen", date(2027, 2, 13), time(18, 55),
         [("hultsfred-kulturhus", "hfd-kulturhus"), ("oskarshamns-konserthus", "osk-konserthus"),
          ("nassjo-kultur", "nassjo-park")]),
    ]  # fmt: skip
    for title, day, start, places in holidays:
        set_id = f"same-title-other-place:{slug(title)}"
        for oid, venue in places:
            o = org(oid)
            parish_listing = f"https://www.{o.domain}/kalender" if oid.startswith("svk-") else ""
            generic = V[venue].locality in ("Järeda", "Berga") and title != "Met Opera Live: Carmen"
            real = g.real(title, venue, day, start, o, set_id, sources=rng.choice([1, 2, 3, 3]),
                          url=parish_listing or page(o, title, day), village_generic=generic)  # fmt: skip
            trap(set_id, real)

    # 3. recurring series: the same listing on consecutive weeks (or days)
    series = [
        ("vimmerby-bibliotek", "Stickcafé", date(2027, 1, 12), time(14), 7),
        ("eksjo-pub", "Pubquiz", date(2027, 2, 4), time(19), 7),
        ("virserum-folkets-hus", "Bingo", date(2027, 3, 7), time(15), 7),
        ("nassjo-kultur", "Sagostund", date(2027, 1, 16), time(10, 30), 7),
        ("svk-vimmerby", "Sommarmusik i kyrkan", date(2027, 6, 30), time(19), 7),
        ("oskarshamn-hamn", "Båt till Blå Jungfrun", date(2027, 7, 5), time(9, 30), 1),
        ("malilla-speedway", "Speedway: Dackarna – Vetlanda", date(2027, 5, 11), time(19), 14),
    ]
    for oid, title, first, start, step in series:
        o = org(oid)
        url = page(o, title)
        for k in range(6):
            day = first + timedelta(days=step * k)
            set_id = f"series:{slug(title)}"
            trap(set_id, g.real(title, o.venues[-1] if oid == "nassjo-kultur" else o.venues[0], day,
                                start, o, set_id, sources=rng.choice([1, 2, 2, 3]), url=url))  # fmt: skip

    # 4. similar names at the same hour in one town; 5. one venue, two events, one evening
    twins = [
        ("similar-names", date(2026, 12, 12), [("svk-hultsfred", "Luciakonsert i Hultsfreds kyrka", "hfd-kyrka", time(18)),
                                              ("hultsfred-centrum", "Luciatåg på Stora torget", "hfd-torget", time(18))]),
        ("similar-names", date(2026, 12, 20), [("svk-oskarshamn", "Julkonsert med Oskarshamns kammarkör", "osk-kyrka", time(19)),
                                              ("svk-oskarshamn", "Julkonsert med Döderhults kyrkokör", "doderhult-kyrka", time(19))]),
        ("similar-names", date(2027, 5, 20), [("oskarshamns-konserthus", "Vårkonsert med kulturskolan", "osk-konserthus", time(18)),
                                             ("svk-oskarshamn", "Vårkonsert med Oskarshamns blåsorkester", "osk-kyrka", time(18))]),
        ("similar-names", date(2027, 1, 23), [("vimmerby-teater", "Barnteater: Alfons Åberg", "vby-teater", time(14)),
                                             ("vimmerby-bibliotek", "Barnteater: Pettson och Findus", "vby-bibl", time(14))]),
        ("similar-names", date(2027, 7, 14), [("svk-vimmerby", "Sommarkonsert i Djursdala kyrka", "djursdala-kyrka", time(19)),
                                             ("svk-vimmerby", "Sommarkonsert i Södra Vi kyrka", "sodravi-kyrka", time(19))]),
        ("same-town-other-venue", date(2027, 5, 15), [("vimmerby-centrum", "Loppis på Stora torget", "vby-torget", time(10)),
                                                      ("folkets-park-vimmerby", "Loppis i Folkets park", "vby-park", time(10))]),
        ("same-town-other-venue", date(2027, 4, 10), [("forserum-folkets-hus", "Loppis", "forserum-fh", time(10)),
                                                      ("mariannelund-fh", "Loppis", "mlund-fh", time(10))]),
        ("same-town-other-venue", date(2027, 3, 20), [("eksjo-museum", "Öppet hus på museet", "eksjo-museum", time(13)),
                                                      ("eksjo-stadshotell", "Öppet hus på Stadshotellet", "eksjo-hotell", time(13))]),
        ("same-venue-same-evening", date(2027, 2, 19), [("eksjo-pub", "Musikquiz", "eksjo-pub", time(19)),
                                                        ("eksjo-pub", "Livemusik: Trubaduren Olle", "eksjo-pub", time(21))]),
        ("same-venue-same-evening", date(2026, 12, 11), [("eksjo-stadshotell", "Julbord med underhållning", "eksjo-hotell", time(18)),
                                                         ("eksjo-stadshotell", "Jazzkväll i baren", "eksjo-hotell", time(21))]),
        ("same-venue-same-evening", date(2027, 3, 13), [("virserums-konsthall", "Vernissage: Trä och tid", "virserum-konsthall", time(13)),
                                                        ("virserums-konsthall", "Konstnärssamtal med Per Holm", "virserum-konsthall", time(14))]),
        ("same-venue-same-evening", date(2027, 2, 26), [("hultsfred-kulturhus", "Filmklubb: Sällskapsresan", "hfd-kulturhus", time(18)),
                                                        ("hultsfred-kulturhus", "Stand-up: Komikerkväll", "hfd-kulturhus", time(18))]),
        ("same-venue-same-evening", date(2027, 3, 2), [("vimmerby-bibliotek", "Bokcafé", "vby-bibl", time(18)),
                                                       ("vimmerby-bibliotek", "Språkcafé", "vby-bibl", time(18))]),
        ("same-venue-same-evening", date(2027, 7, 3), [("lonneberga-hembygd", "Våffeldag", "lonneberga-hbg", time(11)),
                                                       ("lonneberga-hembygd", "Hantverksdag", "lonneberga-hbg", time(11))]),
        ("same-venue-same-evening", date(2027, 8, 7), [("hogsby-folkets-park", "Räkfrossa", "hogsby-park", time(18)),
                                                       ("hogsby-folkets-park", "Dans till Högsby Spelmanslag", "hogsby-park", time(20))]),
        ("same-venue-same-evening", date(2027, 4, 17), [("eksjo-pub", "Pubquiz", "eksjo-pub", time(18, 30)),
                                                        ("eksjo-pub", "Quiz: Musik", "eksjo-pub", time(21))]),
        ("hourly", date(2027, 7, 10), [("eksjo-museum", "Guidad visning av trästaden", "eksjo-museum", time(h)) for h in (11, 12, 13, 14)]),
        ("hourly", date(2027, 7, 24), [("astrid-lindgrens-nas", "Guidad visning av barndomshemmet", "vby-nas", time(h)) for h in (10, 11, 12)]),
        ("hourly", date(2027, 8, 1), [("fagelfors-bruk", "Guidad tur i bruksmiljön", "fagelfors-museum", time(h)) for h in (11, 13)]),
    ]  # fmt: skip
    for n, (kind, day, items) in enumerate(twins):
        set_id = f"{kind}:t{n:02d}"
        for oid, title, venue, start in items:
            o = org(oid)
            url = page(o, title) if kind == "hourly" else page(o, title, day)
            trap(set_id, g.real(title, venue, day, start, o, set_id,
                                sources=rng.choice([1, 2, 2, 3]), url=url))  # fmt: skip

    # 6. late evening and after midnight: UTC and local dates differ, listings cross midnight
    late = [
        ("svk-vimmerby", "Midnattsmässa", "vby-kyrka", date(2026, 12, 24), time(23, 30)),
        (
            "svk-oskarshamn",
            "Midnattskonsert på nyårsafton",
            "osk-kyrka",
            date(2026, 12, 31),
            time(23, 30),
        ),
        ("folkets-park-vimmerby", "Midsommarnattsdans", "vby-park", date(2027, 6, 25), time(23)),
        (
            "hultsfred-kulturhus",
            "Nattbio: Skräckmaraton",
            "hfd-kulturhus",
            date(2027, 1, 16),
            time(0, 15),
        ),
        ("eksjo-handel", "Nattloppet", "eksjo-torget", date(2027, 8, 14), time(23, 45)),
        ("eksjo-stadshotell", "Nyårssupé", "eksjo-hotell", date(2026, 12, 31), time(22, 45)),
        (
            "forserum-folkets-hus",
            "Countrykväll med Kenny Lee",
            "forserum-fh",
            date(2027, 2, 27),
            time(23, 30),
        ),
        (
            "oskarshamn-hamn",
            "Hamnfest: Midnattskonsert",
            "osk-hamnen",
            date(2027, 7, 31),
            time(0, 30),
        ),
    ]
    for oid, title, venue, day, start in late:
        o = org(oid)
        g.real(title, venue, day, start, o, minutes=90, sources=3, url=page(o, title, day))

    # 7. the ordinary season: most events, one to four listings each
    for _ in range(330):
        o = rng.choice(ORGANIZERS)
        title = rng.choice(o.titles)
        day = g.free_day(title)
        venue = rng.choice(o.venues)
        start = None if rng.random() < 0.06 else rng.choice(TIMES)
        g.real(title, venue, day, start, o, url=page(o, title, day))
    return traps


def main() -> None:
    g = Generator()
    traps = build(g)
    for real in g.reals:
        for source in real.sources:
            g.render(real, source)
    rows = g.rows
    g.rng.shuffle(rows)
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    sizes: dict[str, int] = {}
    for row in rows:
        sizes[row["group"]] = sizes.get(row["group"], 0) + 1
    duplicate_groups = sum(1 for n in sizes.values() if n >= 2)
    hard = 0
    for set_id, groups in traps.items():
        hard += (
            len(groups) - 1 if set_id.startswith("series:") else len(list(combinations(groups, 2)))
        )
    print(f"{len(rows)} events, {len(sizes)} groups, {duplicate_groups} duplicate groups "
          f"(sizes {sorted(set(sizes.values()))}), {sum(n * (n - 1) // 2 for n in sizes.values())} "
          f"true pairs, {hard} hard-negative group pairs in {len(traps)} trap sets")  # fmt: skip


if __name__ == "__main__":
    main()
