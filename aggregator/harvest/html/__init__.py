"""Websites → Events: structured data, The Events Calendar's API, listings and recipes.

In order of preference for one source page:

1. The Events Calendar REST JSON (the source URL is the API, or the page is a
   WordPress site running the plugin): exact times, all pages, no scraping.
2. With a recipe in sources.yaml: the recipe's CSS selectors on the page.
3. Otherwise schema.org Events in JSON-LD, microdata and RDFa, and hCalendar.
4. When the page itself gives no events (a listing with one page per event), or
   the recipe could not date some blocks: follow links to detail pages on the
   same site, within ``source.max_pages`` and robots.txt, and read each page.

Nothing here does I/O except through the ``fetch_page`` the pipeline hands in.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from aggregator.harvest.detect import is_tribe_url, looks_like_tribe_json
from aggregator.harvest.html.crawl import Crawler, detail_links, pick_links
from aggregator.harvest.html.jsonld import MAX_BLOCKS, JsonLdError, loads_sloppy
from aggregator.harvest.html.microdata import (
    PARSER_ERRORS,
    has_hcalendar,
    has_microdata,
    has_rdfa_events,
    hcalendar_nodes,
    microdata_nodes,
    rdfa_nodes,
)
from aggregator.harvest.html.recipe import recipe_events
from aggregator.harvest.html.schema_org import (
    MAX_DEPTH,
    HtmlContext,
    event_from_node,
    find_event_nodes,
    finish_events,
    short_type,
)
from aggregator.harvest.html.wordpress_events import harvest_tribe, tribe_endpoint
from aggregator.model import Event, HarvestResult, PageFetcher, Settings, Source

log = logging.getLogger(__name__)

MAX_RECIPE_BLOCKS = 5000
MAX_LINKS = 1000  # candidate links collected; source.max_pages bounds what is fetched
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_ERROR_TITLE_RE = re.compile(
    r"\b(?:404|403|500|502|503|not found|error|fel|hittades inte|finns inte|unavailable)\b",
    re.IGNORECASE,
)


def parse_html(
    content: bytes,
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    fetch_page: PageFetcher | None = None,
) -> HarvestResult:
    ctx = HtmlContext.create(source, settings, now, fetch_page=fetch_page)
    page_url = source.url or ""
    crawler = Crawler(fetch_page, ctx, source.max_pages) if fetch_page is not None else None
    if looks_like_tribe_json(content) or (
        is_tribe_url(page_url) and content.lstrip()[:1] in (b"{", b"[")
    ):
        events = harvest_tribe(content, page_url, ctx, crawler) or []
        return _result(events, ctx)

    text = decode_html(content)
    tree = parse_tree(text)
    if tree is None:
        ctx.warn(
            "Sidan är tom eller inte HTML, så inga evenemang hittades. Kontrollera att "
            "adressen går till sidan med evenemangen och att den öppnas i en webbläsare."
        )
        return _result([], ctx)

    endpoint = tribe_endpoint(tree, text, page_url) if crawler is not None else None
    if endpoint:
        tribe_events = harvest_tribe(None, endpoint, ctx, crawler)
        if tribe_events is not None:
            return _result(tribe_events, ctx)
        log.info("%s: The Events Calendar API not readable; reading the page", source.id)

    follow: list[str] = []
    if source.recipe is not None:
        found = recipe_events(tree, source.recipe, page_url, ctx, limit=MAX_RECIPE_BLOCKS)
        events, follow = found.events, found.follow
    else:
        page = read_page(text, tree, page_url, ctx)
        events, follow = page.events, page.listed_urls

    if crawler is not None and (follow or not events):
        links = follow or detail_links(tree, page_url, page_url, MAX_LINKS)
        events.extend(_crawl(links, crawler, ctx))
    elif follow:
        ctx.warn(
            f"{len(follow)} evenemang på sidan saknar datum här men länkar till egna sidor, "
            "och de sidorna lästes inte; skriv datum i listan eller registrera webbplatsens "
            "kalender (iCal)."
        )
    if not events and not ctx.skipped_old:
        ctx.warn(_nothing_found(tree, page_url, source, followed=crawler is not None))
    return _result(events, ctx)


def _result(events: list[Event], ctx: HtmlContext) -> HarvestResult:
    if ctx.skipped_old:
        log.debug("%s: %d events ended before the window", ctx.source.id, ctx.skipped_old)
    return HarvestResult(tuple(finish_events(events)), tuple(ctx.warnings), kind="html")


def _crawl(links: list[str], crawler: Crawler, ctx: HtmlContext) -> list[Event]:
    events: list[Event] = []
    for url in links:
        if crawler.exhausted:
            crawler.fetch(url)  # records the budget warning
            break
        body = crawler.fetch(url)
        if body is None:
            continue
        text = decode_html(body)
        tree = parse_tree(text)
        if tree is None:
            ctx.warn(f"Sidan {url[:200]} är tom eller inte HTML; den hoppades över.")
            continue
        page = read_page(text, tree, url, ctx)
        if not page.events:
            ctx.warn(
                f"Vi hittade inga evenemangsuppgifter på {url[:200]}; märk upp evenemangen "
                "med schema.org Event så kan de läsas."
            )
        events.extend(page.events)
    return events


# --- one page ----------------------------------------------------------------------


class PageEvents:
    """Events read from one page, and the URLs an ItemList there points to."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.undated_urls: list[str] = []  # events named without a date, linking their page
        self.listed_urls: list[str] = []  # detail pages to read


def read_page(text: str, tree: HtmlElement, page_url: str, ctx: HtmlContext) -> PageEvents:
    """Every structured event on one page: JSON-LD, microdata, RDFa, hCalendar."""
    page = PageEvents()
    listed: list[str] = []
    for data in _jsonld_blocks(tree, page_url, ctx):
        _take(find_event_nodes(data), page_url, ctx, page)
        listed.extend(_list_item_urls(data))
    extractors = (
        ("microdata", has_microdata, lambda: microdata_nodes(tree, page_url)),
        ("RDFa", has_rdfa_events, lambda: rdfa_nodes(text, page_url)),
        ("hCalendar", has_hcalendar, lambda: hcalendar_nodes(tree, page_url)),
    )
    for name, present, extract in extractors:
        if not present(text):
            continue
        try:
            nodes: list[dict[str, Any]] = extract()
        except PARSER_ERRORS as exc:
            log.debug("%s: %s on %s: %s", ctx.source.id, name, page_url[:200], str(exc)[:300])
            ctx.warn(
                f"Evenemangsuppgifterna ({name}) på {page_url[:200]} gick inte att läsa; "
                "kontrollera dem med Googles test för strukturerad data."
            )
            continue
        _take(find_event_nodes(nodes), page_url, ctx, page)
    if page.undated_urls or (listed and not page.events):
        candidates = page.undated_urls + (listed if not page.events else [])
        page.listed_urls = pick_links(candidates, page_url, page_url, MAX_LINKS, any_path=True)
        if page.undated_urls and not page.listed_urls:
            ctx.warn(
                f"{len(page.undated_urls)} evenemang på {page_url[:200] or 'sidan'} visas "
                "inte: de saknar startdatum och länkar till en annan webbplats. Ange "
                "startdatum (startDate) för dem."
            )
    return page


def _take(nodes: Any, page_url: str, ctx: HtmlContext, page: PageEvents) -> None:
    for node in nodes:
        if not node.get("startDate") and isinstance(node.get("url"), str):
            # a listing's teaser (Wix writes name + url only): the event's own page has it
            page.undated_urls.append(node["url"])
            continue
        event = event_from_node(node, page_url, ctx)
        if event is not None:
            ctx.take()
            page.events.append(event)


def _jsonld_blocks(tree: HtmlElement, page_url: str, ctx: HtmlContext) -> list[Any]:
    blocks = []
    count = 0
    for script in tree.iter("script"):
        if "ld+json" not in (script.get("type") or "").lower():
            continue
        count += 1
        if count > MAX_BLOCKS:
            ctx.warn(
                f"Sidan {page_url[:200]} har fler än {MAX_BLOCKS} JSON-LD-block; resten "
                "lästes inte. Dela upp evenemangen på flera sidor."
            )
            break
        try:
            blocks.append(loads_sloppy(script.text or ""))
        except JsonLdError as exc:
            log.debug("%s: broken JSON-LD on %s: %s", ctx.source.id, page_url[:200], exc)
            ctx.warn(
                f"Ett trasigt JSON-LD-block på {page_url[:200] or 'sidan'} hoppades över; "
                "kontrollera det med Googles test för strukturerad data."
            )
    return blocks


def _list_item_urls(data: Any, depth: int = 0) -> list[str]:
    """URLs of an ItemList's ListItems that are not events themselves (a list of pages)."""
    if depth > MAX_DEPTH:
        return []
    urls: list[str] = []
    if isinstance(data, list):
        for item in data[:2000]:
            urls.extend(_list_item_urls(item, depth + 1))
    elif isinstance(data, dict):
        if "listitem" in short_type(data.get("@type")):
            item = data.get("item")
            url = data.get("url") or (item if isinstance(item, str) else None)
            if isinstance(url, str):
                urls.append(url)
        for key in ("@graph", "itemListElement", "mainEntity"):
            if key in data:
                urls.extend(_list_item_urls(data[key], depth + 1))
    return urls


def _nothing_found(tree: HtmlElement, page_url: str, source: Source, *, followed: bool) -> str:
    title = " ".join((tree.findtext(".//title") or "").split())[:100]
    where = page_url[:200] or "sidan"
    if title and _ERROR_TITLE_RE.search(title):
        return (
            f"{where} ser ut som en felsida (”{title}”), så inga evenemang hittades; "
            "kontrollera att adressen är rätt."
        )
    if source.recipe is not None:
        return (
            f"Receptet hittade inga evenemang med läsbart datum på {where}; har webbplatsen "
            "ändrats, uppdatera receptet i sources.yaml."
        )
    message = (
        f"Vi hittade inga evenemang på {where}: inga schema.org Event-uppgifter och ingen hCalendar"
    )
    if followed:
        message += ", inte heller på sidorna den länkar till"
    return (
        message + ". Märk upp evenemangen med schema.org Event, registrera webbplatsens "
        "kalender (iCal), eller beskriv sidan med ett recept i sources.yaml."
    )


# --- bytes → tree ------------------------------------------------------------------


def decode_html(content: bytes) -> str:
    """UTF-8 (BOM or not), else the page's declared charset, else cp1252."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _META_CHARSET_RE.search(content[:4096])
    if declared:
        try:
            return content.decode(declared.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    return content.decode("cp1252", errors="replace")


def parse_tree(text: str) -> HtmlElement | None:
    text = _XML_DECL_RE.sub("", text, count=1)
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None
