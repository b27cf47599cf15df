"""Facebook harvester throughput: events/s and peak memory for large inputs.

A 10,000-event DYI export (.zip, mojibake text, as Facebook writes it), the same
export as bare JSON, a Graph API answer of 10,000 events in 100 pages served by
an in-memory page fetcher, and, for scale, the iCal harvester on the same events.

    python bench/kinds_facebook.py
"""

from __future__ import annotations

import io
import json
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aggregator.harvest.facebook import parse_facebook
from aggregator.harvest.ical import parse_ical
from aggregator.model import HarvestResult, Settings, Source

N = 10_000
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = Settings(max_bytes=50 * 1024 * 1024)
SOURCE = Source(id="bench", name="Bench", kind="facebook", max_pages=200)
PLACES = ["Lönneberga hembygdsgård", "Vimmerby kyrka", "Folkets hus Högsby", "Eksjö stadshotell"]


def _start(i: int) -> datetime:
    return NOW + timedelta(days=i % 380, hours=i % 9)


def _mojibake(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def dyi_json() -> bytes:
    items = []
    for i in range(N):
        start = int(_start(i).timestamp())
        place = PLACES[i % len(PLACES)]
        items.append(
            {
                "name": _mojibake(f"Evenemang {i} på {place}"),
                "start_timestamp": start,
                "end_timestamp": start + 7200 if i % 3 else 0,
                "place": {
                    "name": _mojibake(place),
                    "address": _mojibake("Storgatan 1, 598 30 Vimmerby"),
                    "coordinate": {"latitude": 57.66, "longitude": 15.85},
                },
                "description": _mojibake("Välkomna! Fika och lotterier. " * 5),
                "create_timestamp": start - 86400 * 30,
            }
        )
    return json.dumps({"your_events_v2": items}).encode()


def dyi_zip(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("your_facebook_activity/events/your_events.json", content)
        archive.writestr(
            "your_facebook_activity/events/event_invitations.json", '{"events_invited_v2": []}'
        )
    return buffer.getvalue()


def graph_pages(per_page: int = 100) -> tuple[bytes, dict[str, bytes]]:
    pages: list[dict[str, object]] = []
    for p in range(N // per_page):
        data = []
        for i in range(p * per_page, (p + 1) * per_page):
            start = _start(i).astimezone(UTC)
            data.append(
                {
                    "id": str(10_000_000 + i),
                    "name": f"Evenemang {i} på {PLACES[i % len(PLACES)]}",
                    "description": "Välkomna! Fika och lotterier. " * 5,
                    "start_time": start.strftime("%Y-%m-%dT%H:%M:%S+0000"),
                    "end_time": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                    "place": {
                        "name": PLACES[i % len(PLACES)],
                        "location": {
                            "street": "Storgatan 1",
                            "city": "Vimmerby",
                            "zip": "598 30",
                            "latitude": 57.66,
                            "longitude": 15.85,
                        },
                    },
                    "is_canceled": i % 50 == 0,
                    "cover": {"source": f"https://scontent.example/{i}.jpg"},
                }
            )
        page: dict[str, object] = {"data": data}
        if p + 1 < N // per_page:
            page["paging"] = {
                "next": f"https://graph.facebook.com/v24.0/1/events?access_token=T&after={p + 1}"
            }
        pages.append(page)
    first = json.dumps(pages[0]).encode()
    rest = {
        f"https://graph.facebook.com/v24.0/1/events?access_token=T&after={p}": json.dumps(
            pages[p]
        ).encode()
        for p in range(1, len(pages))
    }
    return first, rest


def ical_equivalent() -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN"]
    for i in range(N):
        start = _start(i).astimezone(UTC)
        lines += [
            "BEGIN:VEVENT",
            f"UID:e{10_000_000 + i}@facebook.com",
            "DTSTAMP:20261101T000000Z",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{start + timedelta(hours=2):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:Evenemang {i} på {PLACES[i % len(PLACES)]}",
            "DESCRIPTION:" + "Välkomna! Fika och lotterier. " * 5,
            f"LOCATION:{PLACES[i % len(PLACES)]}\\, Storgatan 1\\, Vimmerby",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def measure(label: str, size: int, run: Callable[[], HarvestResult]) -> float:
    """Time one run as is, then repeat it under tracemalloc for the peak (which slows it)."""
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rate = len(result.events) / seconds
    print(
        f"{label:<30} {size / 2**20:5.1f} MB in  {len(result.events):6d} events  "
        f"{seconds:6.2f} s  {rate:7.0f} events/s  peak {peak / 2**20:5.1f} MB"
    )
    return rate


def main() -> None:
    raw = dyi_json()
    archive = dyi_zip(raw)
    first, rest = graph_pages()
    ics = ical_equivalent()
    print(f"Facebook harvester, {N} events per input")
    rates = {
        "dyi zip": measure(
            "DYI export .zip",
            len(archive),
            lambda: parse_facebook(archive, SOURCE, SETTINGS, now=NOW),
        ),
        "dyi json": measure(
            "DYI your_events.json", len(raw), lambda: parse_facebook(raw, SOURCE, SETTINGS, now=NOW)
        ),
        "graph": measure(
            "Graph API, 100 pages of 100",
            len(first) + sum(map(len, rest.values())),
            lambda: parse_facebook(first, SOURCE, SETTINGS, now=NOW, fetch_page=rest.__getitem__),
        ),
        "ical": measure(
            "iCal harvester, same events",
            len(ics),
            lambda: parse_ical(ics, SOURCE, SETTINGS, now=NOW),
        ),
    }
    for kind in ("dyi zip", "dyi json", "graph"):
        print(f"{kind}: {rates[kind] / rates['ical']:.1f}× the iCal path's events/s")


if __name__ == "__main__":
    main()
