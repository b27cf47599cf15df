"""RSS harvester throughput: a generated 2,000-item WordPress-sized feed.

Three feeds of 2,000 items each, by where the event time is found: the RSS 1.0
event module (``ev:startdate``), Events Manager's Swedish description text
("12 december 2026 - 19:00 - 21:00"), and a 50/50 mix; plus the iCal harvester
on the same 2,000 events for scale. Figures: events/s (best of 3) and peak
Python memory (tracemalloc) per parse.

    python bench/kinds_feed.py
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from aggregator.harvest.feed import parse_feed
from aggregator.harvest.ical import parse_ical
from aggregator.model import HarvestResult, Settings, Source

N = 2000
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = Settings()
SOURCE = Source(id="bench", name="Bench", url="https://bench.example.se/feed/")
MONTHS = "januari februari mars april maj juni juli augusti september oktober november december"
PLACES = ["Lönneberga hembygdsgård", "Vimmerby kyrka", "Folkets hus Högsby", "Eksjö stadshotell"]
BODY = "<p>" + "Välkommen till en kväll med musik, fika och gemenskap. " * 6 + "</p>"


def _start(i: int) -> datetime:
    return (NOW + timedelta(days=1 + i % 300)).replace(hour=17 + i % 4, minute=0)


def _item(i: int, style: str) -> str:
    start = _start(i)
    place = PLACES[i % len(PLACES)]
    if style == "ev":
        extra = (
            f"<ev:startdate>{start.strftime('%Y-%m-%dT%H:%M:00+00:00')}</ev:startdate>"
            f"<ev:enddate>{(start + timedelta(hours=2)).strftime('%Y-%m-%dT%H:%M:00+00:00')}"
            f"</ev:enddate><ev:location>{escape(place)}</ev:location>"
        )
        description = f"<![CDATA[{BODY}]]>"
    else:
        month = MONTHS.split()[start.month - 1]
        when = f"{start.day} {month} {start.year} - {start.hour + 1}:00 - {start.hour + 3}:00"
        extra = ""
        description = f"<![CDATA[{when} <br/>{place} <br/>Storgatan 1 <br/>Vimmerby]]>"
    return (
        f"<item><title>Evenemang {i} på {escape(place)}</title>"
        f"<link>https://bench.example.se/evenemang/e{i}/</link>"
        f"<guid>https://bench.example.se/evenemang/e{i}/</guid>"
        f"<pubDate>Mon, 02 Nov 2026 08:00:00 +0000</pubDate>"
        f"<description>{description}</description>"
        f"<content:encoded><![CDATA[{BODY * 3}]]></content:encoded>"
        f"<category>Musik</category>{extra}</item>\n"
    )


def feed(style: str) -> bytes:
    styles = {"ev": ["ev"], "text": ["text"], "mix": ["ev", "text"]}[style]
    items = "".join(_item(i, styles[i % len(styles)]) for i in range(N))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel>'
        "<title>Bench</title><link>https://bench.example.se/</link>"
        f"<description>Bench</description>\n{items}</channel></rss>\n"
    ).encode()


def calendar() -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN"]
    for i in range(N):
        start = _start(i)
        lines += [
            "BEGIN:VEVENT",
            f"UID:e{i}@bench.example.se",
            "DTSTAMP:20261102T080000Z",
            f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{(start + timedelta(hours=2)).strftime('%Y%m%dT%H%M%SZ')}",
            f"SUMMARY:Evenemang {i}",
            f"LOCATION:{PLACES[i % len(PLACES)]}",
            "DESCRIPTION:" + "Välkommen till en kväll med musik\\, fika och gemenskap. " * 6,
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def measure(name: str, run: Callable[[], HarvestResult], size: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    count = len(result.events)
    rate = count / best
    print(
        f"{name:<28} {count:>5} events  {best * 1000:8.1f} ms  {rate:8.0f} events/s  "
        f"peak {peak / 2**20:6.1f} MiB  (input {size / 2**20:.1f} MiB)"
    )
    return rate


def main() -> None:
    print(f"RSS harvester, {N} items per feed")
    rates = {}
    for style in ("ev", "text", "mix"):
        content = feed(style)
        rates[style] = measure(
            f"feed ({style})",
            lambda content=content: parse_feed(content, SOURCE, SETTINGS, now=NOW),
            len(content),
        )
    ics = calendar()
    ical_rate = measure(
        "ical (same events)", lambda: parse_ical(ics, SOURCE, SETTINGS, now=NOW), len(ics)
    )
    slowest = min(rates.values())
    print(f"slowest feed kind is {ical_rate / slowest:.1f}x slower per event than iCal")


if __name__ == "__main__":
    main()
