"""Pydantic's request-validation errors as one Swedish sentence.

FastAPI checks types and bounds before our code runs and words its refusals in English
("Input should be less than or equal to 500"); the website's developer and the organizer
filling in a form read Swedish everywhere else, so the refusal is said in Swedish too,
keyed by pydantic's stable error ``type`` (its English text changes between versions).
A type we do not know yet still gets a Swedish sentence, never pydantic's English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_BY_TYPE: dict[str, str] = {
    "missing": "måste anges",
    "int_parsing": "måste vara ett heltal",
    "int_type": "måste vara ett heltal",
    "int_from_float": "måste vara ett heltal",
    "float_parsing": "måste vara ett tal",
    "float_type": "måste vara ett tal",
    "bool_parsing": "måste vara true eller false",
    "bool_type": "måste vara true eller false",
    "string_type": "måste vara text",
    "string_unicode": "måste vara giltig text (UTF-8)",
    "list_type": "måste vara en lista",
    "dict_type": "måste vara ett objekt",
    "model_type": "måste vara ett objekt",
    "model_attributes_type": "måste vara ett objekt",
    "json_invalid": "är ingen giltig JSON",
    "json_type": "är ingen giltig JSON",
    "extra_forbidden": "är inget känt fält",
    "date_parsing": "är inget datum (ÅÅÅÅ-MM-DD)",
    "date_from_datetime_parsing": "är inget datum (ÅÅÅÅ-MM-DD)",
    "date_type": "är inget datum (ÅÅÅÅ-MM-DD)",
    "datetime_parsing": "är ingen tidpunkt (ÅÅÅÅ-MM-DDTTT:MM)",
    "datetime_from_date_parsing": "är ingen tidpunkt (ÅÅÅÅ-MM-DDTTT:MM)",
    "datetime_type": "är ingen tidpunkt (ÅÅÅÅ-MM-DDTTT:MM)",
    "url_parsing": "är ingen giltig webbadress",
    "url_type": "är ingen giltig webbadress",
    "url_scheme": "måste börja med http:// eller https://",
    "value_error": "har ett ogiltigt värde",
    "assertion_error": "har ett ogiltigt värde",
}


def _bounded(kind: str, ctx: Mapping[str, Any]) -> str | None:
    """The sentences that name the bound the value broke."""
    bound = {
        "less_than_equal": ("le", "får vara högst {}"),
        "less_than": ("lt", "måste vara mindre än {}"),
        "greater_than_equal": ("ge", "måste vara minst {}"),
        "greater_than": ("gt", "måste vara större än {}"),
        "string_too_long": ("max_length", "får vara högst {} tecken"),
        "string_too_short": ("min_length", "måste vara minst {} tecken"),
        "too_long": ("max_length", "får ha högst {} värden"),
        "too_short": ("min_length", "måste ha minst {} värden"),
    }.get(kind)
    if bound is None or bound[0] not in ctx:
        return None
    key, sentence = bound
    return sentence.format(ctx[key])


def swedish_reason(error: Mapping[str, Any]) -> str:
    """Why one value was refused, in Swedish (without the field's name)."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    bounded = _bounded(kind, ctx)
    if bounded:
        return bounded
    if kind == "value_error" and ctx.get("error"):
        return str(ctx["error"])  # our own validators speak Swedish already
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace(" or ", " eller ")
        return f"måste vara något av: {expected}" if expected else "har ett okänt värde"
    return _BY_TYPE.get(kind, "har ett ogiltigt värde")
