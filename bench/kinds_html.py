"""Website harvester throughput: a 500-event listing whose events live on detail pages.

The listing and its 500 detail pages (one JSON-LD event each, WordPress-sized
pages of ~30 KB) are served by ``http.server`` on 127.0.0.1 from a thread, and
fetched through a ``requests`` page fetcher like the pipeline's. Figures:
events/s end to end (HTTP included), events/s for parsing alone (pages already
in memory), a single 500-event JSON-LD page, and the iCal harvester on the same
500 events for scale; peak Python memory for each (tracemalloc, which does not see
libxml2's own allocations) and the process's peak RSS at the end.

    python bench/kinds_html.py
"""

from __future__ import annotations

import json
import resource
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import requests

from aggregator.errors import FetchError
from aggregator.harvest.html import parse_html
from aggregator.harvest.ical import parse_ical
from aggregator.model import HarvestResult, PageFetcher, Settings, Source

N = 500
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = Settings()
PLACES = ["Lönneberga hembygdsgård", "Vimmerby kyrka", "Folkets hus Högsby", "Eksjö stadshotell"]
FILLER = "<p>" + "Välkommen till en kväll med musik, fika och gemenskap. " * 8 + "</p>\n"


def _start(i: int) -> datetime:
    return NOW + timedelta(days=1 + i % 300, hours=i % 9)


def _node(i: int, base: str) -> dict[str, object]:
    place = PLACES[i % len(PLACES)]
    return {
        "@context": "https://schema.org",
        "@type": "MusicEvent" if i % 2 else "Event",
        "@id": f"{base}/evenemang/e{i}/#event",
        "name": f"Evenemang {i} på {place}",
        "startDate": _start(i).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "endDate": (_start(i) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "location": {
            "@type": "Place",
            "name": place,
            "address": {"@type": "PostalAddress", "streetAddress": "Storgatan 1"},
            "geo": {"@type": "GeoCoordinates", "latitude": 57.66, "longitude": 15.85},
        },
        "offers": {"@type": "Offer", "price": str(100 + i % 5 * 50), "priceCurrency": "SEK"},
        "description": f"<p>Beskrivning av evenemang {i}.</p>",
        "image": f"{base}/bilder/{i}.jpg",
        "url": f"{base}/evenemang/e{i}/",
    }


def detail_page(i: int, base: str) -> bytes:
    """A WordPress-like page: navigation, scripts, filler, one JSON-LD block."""
    nav = "".join(f'<li><a href="/sida-{k}/">Sida {k}</a></li>' for k in range(40))
    block = json.dumps(_node(i, base), ensure_ascii=False)
    return (
        "<!DOCTYPE html><html lang='sv'><head><meta charset='utf-8'>"
        f"<title>Evenemang {i}</title>"
        + "<script>var x = 1;</script>"
        * 20
        + f'<script type="application/ld+json">{block}</script></head>'
        f"<body><nav><ul>{nav}</ul></nav><main>{FILLER * 12}</main></body></html>"
    ).encode()


def listing_page() -> bytes:
    links = "".join(f'<li><a href="/evenemang/e{i}/">Evenemang {i}</a></li>' for i in range(N))
    return f"<!DOCTYPE html><html><head><title>Evenemang</title></head><body><ul>{links}</ul></body></html>".encode()


def jsonld_page(base: str) -> bytes:
    block = json.dumps([_node(i, base) for i in range(N)], ensure_ascii=False)
    return f'<html><head><script type="application/ld+json">{block}</script></head></html>'.encode()


def ical_calendar() -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN"]
    for i in range(N):
        start = _start(i).astimezone(UTC)
        lines += [
            "BEGIN:VEVENT",
            f"UID:e{i}@bench",
            f"DTSTAMP:{NOW.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{(start + timedelta(hours=2)).strftime('%Y%m%dT%H%M%SZ')}",
            f"SUMMARY:Evenemang {i} på {PLACES[i % len(PLACES)]}",
            f"LOCATION:{PLACES[i % len(PLACES)]}\\, Storgatan 1",
            "DESCRIPTION:Beskrivning",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


class _Pages(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


def requests_fetcher(session: requests.Session) -> PageFetcher:
    def fetch(url: str) -> bytes:
        response = session.get(url, timeout=10)
        if response.status_code >= 400:
            raise FetchError(f"HTTP {response.status_code}", url=url)
        return response.content

    return fetch


def measure(label: str, run: Callable[[], HarvestResult]) -> None:
    run()  # warm-up: imports, regex compilation, connection pool
    tracemalloc.start()
    started = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    count = len(result.events)
    print(
        f"{label:48} {count:5d} events  {elapsed:7.3f} s  {count / elapsed:9.0f} events/s"
        f"  peak {peak / 1e6:6.1f} MB  warnings {len(result.warnings)}"
    )


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages = {f"/evenemang/e{i}/": detail_page(i, base) for i in range(N)}
    pages["/evenemang/"] = listing_page()
    _Pages.pages = pages
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    source = Source(id="bench", name="Bench", url=f"{base}/evenemang/", max_pages=N)
    size = sum(len(p) for p in pages.values())
    print(f"{N} detail pages, {size / 1e6:.1f} MB of HTML, served from {base}")
    try:
        with requests.Session() as session:
            fetch = requests_fetcher(session)
            measure(
                "listing → 500 detail pages over HTTP",
                lambda: parse_html(
                    pages["/evenemang/"], source, SETTINGS, now=NOW, fetch_page=fetch
                ),
            )
        by_url = {f"{base}{path}": body for path, body in pages.items()}

        def in_memory(url: str) -> bytes:
            if url not in by_url:
                raise FetchError("not found", url=url)
            return by_url[url]

        measure(
            "listing → 500 detail pages, parse only",
            lambda: parse_html(
                pages["/evenemang/"], source, SETTINGS, now=NOW, fetch_page=in_memory
            ),
        )
        one_page = jsonld_page(base)
        measure(
            "one page with 500 JSON-LD events",
            lambda: parse_html(one_page, source, SETTINGS, now=NOW),
        )
        calendar = ical_calendar()
        ical_source = Source(id="bench", name="Bench", path="x.ics")
        measure(
            "iCal, same 500 events (for scale)",
            lambda: parse_ical(calendar, ical_source, SETTINGS, now=NOW),
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"process peak RSS (all runs, incl. libxml2 and the server thread): {rss:.0f} MB")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
