"""Per-source recipes: CSS selectors for sites with no structured data at all.

A recipe (``recipe:`` in sources.yaml, :class:`aggregator.model.Recipe`) names the
element of each event and, inside it, the title, date, time, place, link,
description and image. Dates are Swedish prose, read by ``swedish_dates``; a
``<time datetime=…>`` attribute wins when the site has one. A block whose date
cannot be read but that links to its own page is left for the crawler, which
reads the structured data there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import lxml.html
import soupsieve
from bs4 import BeautifulSoup, Tag
from lxml.html import HtmlElement

from aggregator.errors import ParseError
from aggregator.harvest.dates import When, parse_swedish, parse_when
from aggregator.harvest.html.schema_org import (
    HtmlContext,
    clean,
    compose_description,
    ended_before_window,
    url_of,
)
from aggregator.model import CANCELLED, CONFIRMED, Event, Place, Recipe

log = logging.getLogger(__name__)

_CANCELLED_WORDS = ("inställt", "inställd", "installt", "cancelled", "canceled")


@dataclass
class RecipeResult:
    events: list[Event] = field(default_factory=list)
    follow: list[str] = field(default_factory=list)  # detail pages to read instead


def check_recipe(recipe: Recipe) -> None:
    """Raise ValueError naming the first selector that is not valid CSS (for config checks)."""
    for name in ("event", "title", "date", "time", "place", "link", "description", "image"):
        selector = getattr(recipe, name)
        if selector:
            try:
                soupsieve.compile(selector)
            except soupsieve.SelectorSyntaxError as exc:
                raise ValueError(
                    f"Receptets {name}: ”{selector}” är ingen giltig CSS-väljare; rätta "
                    "receptet i sources.yaml."
                ) from exc


def recipe_events(
    tree: HtmlElement, recipe: Recipe, page_url: str, ctx: HtmlContext, *, limit: int
) -> RecipeResult:
    try:
        check_recipe(recipe)
    except ValueError as exc:
        raise ParseError(str(exc), source_id=ctx.source.id) from exc
    # from lxml's tree, not the raw text: libxml2 caps nesting at 255 levels, and a
    # block inside a block is skipped, so hostile nesting cannot make this quadratic
    soup = BeautifulSoup(lxml.html.tostring(tree, encoding="unicode"), "lxml")
    found = soup.select(recipe.event, limit=limit)
    chosen = {id(block) for block in found}
    blocks = [b for b in found if not any(id(p) in chosen for p in b.parents)]
    result = RecipeResult()
    if not blocks:
        ctx.warn(
            f"Receptets väljare för evenemang ”{recipe.event}” hittade inget på "
            f"{page_url[:200]}; har webbplatsen ändrats, uppdatera receptet i sources.yaml."
        )
        return result
    for block in blocks:
        event, link = _event(block, recipe, page_url, ctx)
        if event is not None:
            ctx.take()
            result.events.append(event)
        elif link:
            result.follow.append(link)
    return result


def _event(block: Tag, recipe: Recipe, page_url: str, ctx: HtmlContext) -> tuple[Event | None, str]:
    title = _text(block, recipe.title)
    link = _link(block, recipe, page_url)
    label = f"”{title[:60]}”" if title else "(utan titel)"
    date_el = block.select_one(recipe.date) if recipe.date else None
    date_text = clean(date_el.get_text(" ")) if date_el is not None else ""
    time_text = _text(block, recipe.time)
    problems: list[str] = []
    when = _when(date_el, date_text, time_text, ctx, problems)
    if when is None:
        if not link:
            written = f"”{(date_text + ' ' + time_text).strip()[:60]}”"
            why = ""
            if problems:
                log.debug("%s: recipe date %s: %s", ctx.source.id, written, problems[0])
                why = f" ({problems[0].split(': ', 1)[0]})"
            ctx.warn(
                f"Evenemanget {label} visas inte: inget datum gick att läsa ur {written}{why}. "
                "Skriv ett entydigt datum, till exempel ”5 december 2026 kl. 19”."
            )
        return None, link
    start, end = when
    if start.all_day and not isinstance(end, date):
        end = start.value + timedelta(days=1)
    if ended_before_window(start, end, ctx):
        ctx.skipped_old += 1
        return None, ""
    description_el = block.select_one(recipe.description) if recipe.description else None
    raw_description = description_el.decode_contents() if description_el is not None else ""
    description, description_html = compose_description(raw_description)
    status = CANCELLED if any(w in title.lower() for w in _CANCELLED_WORDS) else CONFIRMED
    return (
        Event(
            source_id=ctx.source.id,
            key=link,
            title=title,
            start=start.value,
            end=end,
            all_day=start.all_day,
            timezone=ctx.tz_name,
            status=status,
            description=description,
            description_html=description_html,
            url=link,
            place=Place(),
            location_text=_text(block, recipe.place),
            image=_image(block, recipe.image, page_url),
            uid=link,
        ),
        link,
    )


def _when(
    date_el: Tag | None, date_text: str, time_text: str, ctx: HtmlContext, problems: list[str]
) -> tuple[When, datetime | date | None] | None:
    machine = str(date_el.get("datetime") or date_el.get("content") or "") if date_el else ""
    parsed = parse_when(machine, ctx.tz) if machine else None
    if parsed is not None and (not parsed.all_day or not time_text):
        return parsed, None
    found = parse_swedish(f"{date_text} {time_text}".strip(), ctx.now, ctx.tz, problems)
    if found is None and parsed is not None:
        found = parse_swedish(f"{parsed.value.isoformat()} {time_text}", ctx.now, ctx.tz)
    if found is None:
        return (parsed, None) if parsed is not None else None
    start, end = found
    return start, end.value if end is not None else None


def _text(block: Tag, selector: str) -> str:
    if not selector:
        return ""
    element = block.select_one(selector)
    return clean(element.get_text(" ")) if element is not None else ""


def _link(block: Tag, recipe: Recipe, page_url: str) -> str:
    """The recipe's link, else the block itself when it is an <a>, else a link in the title."""
    element = block.select_one(recipe.link) if recipe.link else None
    if element is None and block.name == "a":
        element = block
    if element is None and recipe.title:
        element = block.select_one(recipe.title)
    if element is not None and not element.get("href"):
        element = _descendant(element, "a")
    return url_of(str(element.get("href") or ""), page_url) if element is not None else ""


def _descendant(element: Tag, name: str) -> Tag | None:
    found = element.find(name)
    return found if isinstance(found, Tag) else None


def _image(block: Tag, selector: str, page_url: str) -> str:
    element = block.select_one(selector) if selector else None
    if element is None:
        return ""
    if element.name != "img":
        element = _descendant(element, "img") or element
    for attr in ("src", "data-src", "data-lazy-src", "content", "href"):
        value = str(element.get(attr) or "").strip()
        if value and not value.startswith("data:"):
            return url_of(value, page_url)
    srcset = str(element.get("srcset") or "").strip()
    return url_of(srcset.split(",")[0].split(" ")[0], page_url) if srcset else ""
