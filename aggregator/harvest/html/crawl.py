"""Following links from a website source: which ones, how many, and whether we may.

All network I/O goes through the pipeline's ``fetch_page`` (same limits and SSRF
guard as every fetch). This module adds the crawl politeness: a page budget per
harvest (``source.max_pages``), ``robots.txt`` for our user agent, and a choice of
links that look like one page per event on the same site.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml.html import HtmlElement
from protego import Protego

from aggregator.errors import DeadlineExceeded, FetchError
from aggregator.fetch.robots import robots_text
from aggregator.harvest.html.schema_org import HtmlContext
from aggregator.model import PageFetcher
from aggregator.normalize.urls import host_of, join_url, split_url

_SKIP_EXT_RE = re.compile(
    r"\.(?:pdf|jpe?g|png|gif|webp|svg|zip|ics|docx?|xlsx?|pptx?|mp[34]|mov|css|js|xml|rss)$",
    re.IGNORECASE,
)
_SKIP_PATH_RE = re.compile(
    r"/(?:wp-admin|wp-content|wp-json|wp-login|feed|tag|tags|category|kategori|author|"
    r"page|sida|login|logga-in|cart|kassa|varukorg|search|sok|sök|share|print)(?:/|$)",
    re.IGNORECASE,
)
_SKIP_QUERY_RE = re.compile(r"(?:^|&)(?:ical|outlook-ical|format|share|replytocom|print)=")
_EVENTISH_RE = re.compile(
    r"/(?:[^/]*-)?(?:events?|evenemang|evenemanget|kalender|kalendarium|calendar|program|"
    r"aktivitet(?:er)?|arrangemang|konsert(?:er)?|forestallning(?:ar)?|föreställning(?:ar)?|"
    r"happening|whats-on|vad-hander|vad-händer|biljetter|tickets|concerts?|shows?)(?:[-/]|$)",
    re.IGNORECASE,
)


def _host(url: str) -> str:
    host = host_of(url)
    return host[4:] if host.startswith("www.") else host


def same_site(url: str, base: str) -> bool:
    return bool(_host(url)) and _host(url) == _host(base)


def detail_links(tree: HtmlElement, page_url: str, source_url: str, limit: int) -> list[str]:
    """Links on a listing page that look like one page per event on the same site.

    A link qualifies when it sits below the listing's own path
    (``/evenemang/`` → ``/evenemang/julkonsert/``) or its path names events
    (``/event/…``, ``/kalender/…``, ``/program/…``); pagination, feeds, tag
    archives, files and the listing itself do not.
    """
    hrefs = (a.get("href", "") for a in tree.iter("a"))
    return pick_links(hrefs, page_url, source_url, limit)


def pick_links(
    hrefs: Iterable[str], page_url: str, source_url: str, limit: int, *, any_path: bool = False
) -> list[str]:
    """Same-site, non-file, non-archive links; ``any_path`` skips the event-path test
    (for URLs the page's own data says are events)."""
    listing = split_url(page_url)
    listing_path = listing.path.rstrip("/") if listing else ""
    chosen: dict[str, None] = {}
    for href in hrefs:
        if len(chosen) >= limit:
            break
        href = (href or "").strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
            continue
        url = join_url(page_url, href, drop_fragment=True)
        parts = split_url(url)
        if parts is None or parts.scheme not in ("http", "https"):
            continue
        if not same_site(url, source_url or page_url):
            continue
        path = parts.path.rstrip("/")
        if path == listing_path or listing_path.startswith(path + "/") or not path:
            continue
        if _SKIP_EXT_RE.search(path) or _SKIP_PATH_RE.search(path + "/"):
            continue
        if parts.query and _SKIP_QUERY_RE.search(parts.query):
            continue
        below_listing = bool(listing_path) and path.startswith(listing_path + "/")
        if any_path or below_listing or _EVENTISH_RE.search(path):
            chosen.setdefault(url, None)
    return list(chosen)


class Crawler:
    """Fetches follow-up pages within the source's page budget, honouring robots.txt."""

    def __init__(self, fetch_page: PageFetcher, ctx: HtmlContext, budget: int) -> None:
        self._fetch_page = fetch_page
        self._ctx = ctx
        self.budget = max(0, budget)
        self.fetched = 0
        self._robots: dict[str, Protego | None] = {}
        self._budget_warned = False

    @property
    def exhausted(self) -> bool:
        return self.fetched >= self.budget

    def allowed(self, url: str) -> bool:
        parts = split_url(url)
        if parts is None:
            return False
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self._robots:
            self._robots[root] = self._load_robots(root + "/robots.txt")
        rules = self._robots[root]
        if rules is None:
            return True
        try:
            return bool(rules.can_fetch(url, self._ctx.settings.user_agent))
        except Exception:  # a rule Protego chokes on must not fail the harvest
            return True

    def _load_robots(self, url: str) -> Protego | None:
        """The site's rules, read as the host's politeness reads them (Protego: RFC 9309
        with ``*`` and ``$``, which the standard library's parser does not know, so a
        ``Disallow: /*/privat`` was crawled); a missing, unreadable or soft-404 robots.txt
        allows everything."""
        try:
            body = self._fetch_page(url)
        except DeadlineExceeded:
            raise
        except FetchError:
            return None
        text = robots_text(body)
        if text is None:
            return None  # a soft 404 (a web page) or binary data
        try:
            return Protego.parse(text)
        except Exception:  # garbage must never fail a harvest: no rules
            return None

    def fetch(self, url: str) -> bytes | None:
        """The page's bytes, or None (with a warning) when over budget, disallowed or failed."""
        if self.exhausted:
            if not self._budget_warned:
                self._budget_warned = True
                self._ctx.warn(
                    f"Vi följde {self.budget} sidor (max_pages) och lät resten av länkarna "
                    "vara; höj max_pages för källan om fler evenemang ska med."
                )
            return None
        if not self.allowed(url):
            self._ctx.warn(
                f"Webbplatsens robots.txt tillåter inte att vi hämtar {url[:200]}, så sidan "
                "hoppades över; tillåt den i robots.txt om evenemangen ska med."
            )
            return None
        self.fetched += 1
        try:
            return self._fetch_page(url)
        except DeadlineExceeded:
            raise  # the crawl's time is up: the whole source fails
        except FetchError as exc:
            self._ctx.warn(f"Sidan {url[:200]} gick inte att hämta: {exc.message[:300]}")
            return None
