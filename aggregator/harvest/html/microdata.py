"""Microdata, RDFa (via extruct) and hCalendar (via mf2py) → schema.org-shaped dicts.

Each syntax is turned into the compact JSON-LD form ``html_schema`` maps, so the
three need no mapping of their own. The parsers are only run when the page shows
a trace of their syntax: they cost more than reading a page for JSON-LD.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import lxml.etree
import lxml.html
import mf2py
from extruct.rdfa import RDFaExtractor
from extruct.uniform import flatten_dict
from extruct.utils import parse_xmldom_html
from extruct.w3cmicrodata import MicrodataExtractor
from lxml.html import HtmlElement

log = logging.getLogger(__name__)

SCHEMA = "http://schema.org"
_SCHEMA_IRI_RE = re.compile(r"^https?://schema\.org/")
_ITEMSCOPE_RE = re.compile(r"\bitemscope\b", re.IGNORECASE)
_RDFA_RE = re.compile(r"\btypeof\s*=\s*[\"'][^\"']*event", re.IGNORECASE)
_HCAL_RE = re.compile(r"class\s*=\s*[\"'][^\"']*\b(?:vevent|h-event)\b", re.IGNORECASE)
MAX_RDFA_DEPTH = 6
MAX_HCAL_ROOTS = 2000
MAX_HCAL_NESTING = 3  # an event's sub-events; deeper is hostile
_HCAL_XPATH = lxml.etree.XPath(
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' vevent ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' h-event ')]"
)

# Foreign exceptions these libraries raise on hostile markup; a page with bad
# microdata should still give its JSON-LD events.
PARSER_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)


def has_microdata(text: str) -> bool:
    return bool(_ITEMSCOPE_RE.search(text))


def has_rdfa_events(text: str) -> bool:
    return bool(_RDFA_RE.search(text)) and "schema.org" in text


def has_hcalendar(text: str) -> bool:
    return bool(_HCAL_RE.search(text))


def microdata_nodes(tree: HtmlElement, page_url: str) -> list[dict[str, Any]]:
    """Top-level microdata items as compact schema.org dicts."""
    items = MicrodataExtractor().extract_items(tree, page_url)
    return [flatten_dict(item, SCHEMA, False) for item in items if isinstance(item, dict)]


def rdfa_nodes(text: str, page_url: str) -> list[dict[str, Any]]:
    """schema.org RDFa, from pyRdfa's expanded graph back to nested compact dicts."""
    tree = parse_xmldom_html(text.encode("utf-8"), encoding="utf-8")
    graph = RDFaExtractor().extract_items(tree, base_url=page_url)
    by_id = {n["@id"]: n for n in graph if isinstance(n, dict) and "@id" in n}
    out = []
    for node in graph:
        types = node.get("@type", []) if isinstance(node, dict) else []
        if any(_SCHEMA_IRI_RE.match(t) for t in types):
            out.append(_compact(node, by_id, 0, set()))
    return out


def _compact(
    node: dict[str, Any], by_id: dict[str, dict[str, Any]], depth: int, seen: set[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node_id = node.get("@id", "")
    if node_id and not node_id.startswith("_:"):
        out["@id"] = node_id
    types = [_SCHEMA_IRI_RE.sub("", t) for t in node.get("@type", [])]
    if types:
        out["@type"] = types if len(types) > 1 else types[0]
    for key, values in node.items():
        if not _SCHEMA_IRI_RE.match(key) or not isinstance(values, list):
            continue
        converted = []
        for value in values:
            if not isinstance(value, dict):
                continue
            if "@value" in value:
                converted.append(value["@value"])
            elif "@id" in value:
                ref = value["@id"]
                target = by_id.get(ref)
                if target is not None and ref not in seen and depth < MAX_RDFA_DEPTH:
                    converted.append(_compact(target, by_id, depth + 1, seen | {ref}))
                else:
                    converted.append(ref)
        if converted:
            out[_SCHEMA_IRI_RE.sub("", key)] = converted if len(converted) > 1 else converted[0]
    return out


def hcalendar_nodes(tree: HtmlElement, page_url: str) -> list[dict[str, Any]]:
    """hCalendar (classic ``vevent`` and microformats2 ``h-event``) as schema.org Events.

    Only the event elements are handed to mf2py: its backcompat rules copy
    elements over and over and cost ~0.5 s on a whole 25 KB page.
    """
    roots = _HCAL_XPATH(tree)
    root_set = set(roots)
    nested = {el: sum(1 for a in el.iterancestors() if a in root_set) for el in roots}
    if any(depth > MAX_HCAL_NESTING for depth in nested.values()):
        # events inside events inside events: mf2py's time grows with the square
        raise ValueError(f"hCalendar events nested more than {MAX_HCAL_NESTING} deep")
    outermost = [el for el in roots if nested[el] == 0]
    if not outermost:
        return []
    fragment = "".join(
        lxml.html.tostring(el, encoding="unicode") for el in outermost[:MAX_HCAL_ROOTS]
    )
    parsed = mf2py.parse(doc=f"<div>{fragment}</div>", url=page_url or None, html_parser="lxml")
    out: list[dict[str, Any]] = []
    stack: list[tuple[Any, int]] = [(item, 0) for item in parsed.get("items", [])]
    while stack and len(out) < 5000:
        item, depth = stack.pop(0)
        if not isinstance(item, dict) or depth > 8:
            continue
        if "h-event" in item.get("type", []):
            out.append(_hevent(item))
            continue
        stack.extend((child, depth + 1) for child in item.get("children", []))
        for values in item.get("properties", {}).values():
            stack.extend((v, depth + 1) for v in values if isinstance(v, dict))
    return out


def _hevent(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties", {})

    def first(name: str) -> Any:
        values = props.get(name) or []
        return values[0] if values else None

    node: dict[str, Any] = {"@type": "Event"}
    for ours, theirs in (
        ("name", "name"),
        ("startDate", "start"),
        ("endDate", "end"),
        ("duration", "duration"),
        ("url", "url"),
        ("@id", "uid"),
    ):
        value = first(theirs)
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, str) and value.strip():
            node[ours] = value.strip()
    description = first("description") or first("summary")
    if isinstance(description, dict):
        description = description.get("html") or description.get("value")
    if isinstance(description, str) and description.strip() != node.get("name"):
        node["description"] = description
    if str(first("status") or "").lower().startswith("cancel"):
        node["eventStatus"] = "EventCancelled"
    location = first("location")
    if isinstance(location, str):
        node["location"] = location
    elif isinstance(location, dict):
        node["location"] = _hcard_place(location)
    if "@id" in node and not node["@id"].startswith(("http://", "https://")):
        node["@id"] = "hcal:" + node["@id"]
    return node


def _hcard_place(card: dict[str, Any]) -> dict[str, Any]:
    props = card.get("properties", {})

    def first(name: str) -> str:
        values = props.get(name) or []
        value = values[0] if values else ""
        if isinstance(value, dict):
            value = value.get("value", "")
        return str(value).strip()

    adr = props.get("adr", [{}])[0] if props.get("adr") else {}
    adr_props = adr.get("properties", {}) if isinstance(adr, dict) else {}

    def adr_first(name: str) -> str:
        return first(name) or str((adr_props.get(name) or [""])[0]).strip()

    place: dict[str, Any] = {"@type": "Place", "name": first("name") or first("org")}
    if not place["name"]:
        place["name"] = str(card.get("value", "")).strip()
    street, locality = adr_first("street-address"), adr_first("locality")
    if street or locality:
        place["address"] = {"streetAddress": street, "addressLocality": locality}
    elif isinstance(adr, dict) and str(adr.get("value") or "").strip():
        # mf2py's backcompat keeps a nested adr only as text
        lines = str(adr["value"]).splitlines()
        place["address"] = ", ".join(line.strip() for line in lines if line.strip())
    latitude, longitude = first("latitude"), first("longitude")
    geo = props.get("geo", [{}])[0] if props.get("geo") else {}
    if isinstance(geo, dict) and not latitude:
        gprops = geo.get("properties", {})
        latitude = str((gprops.get("latitude") or [""])[0])
        longitude = str((gprops.get("longitude") or [""])[0])
    if latitude and longitude:
        place["geo"] = {"latitude": latitude, "longitude": longitude}
    return place
