"""JSON-LD blocks as real CMSs write them → Python data, one broken block at a time.

Seen in the wild: trailing commas, raw newlines and tabs inside strings, ``//`` and
``/* */`` comments, ``<!-- -->`` or ``<![CDATA[ ]]>`` wrapped around the JSON,
HTML-escaped blocks (``{&quot;@context&quot;…``), several objects written one after
another, ``\\'`` escapes. A block we cannot repair is skipped with a warning; the
others on the page are kept.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

MAX_BLOCKS = 200  # ld+json scripts read per page
MAX_BLOCK_CHARS = 2_000_000

_WRAPPER_RE = re.compile(
    r"^\s*(?:<!--|//\s*<!\[CDATA\[|/\*\s*<!\[CDATA\[\s*\*/|<!\[CDATA\[)"
    r"|(?:-->|//\s*\]\]>|/\*\s*\]\]>\s*\*/|\]\]>)\s*$"
)
_BAD_ESCAPE_RE = re.compile(r"\\(?=[^\"\\/bfnrtu])")


class JsonLdError(ValueError):
    """A block that is not JSON even after the usual repairs."""


def loads_sloppy(text: str) -> Any:
    """Parse one ld+json block, repairing the common CMS mistakes."""
    if len(text) > MAX_BLOCK_CHARS:
        raise JsonLdError(f"block of {len(text)} characters is too large")
    text = _WRAPPER_RE.sub("", text.strip()).strip()
    if text.startswith("{&quot;") or text.startswith("[{&quot;"):
        text = html.unescape(text)
    if not text:
        raise JsonLdError("empty block")
    try:
        return json.loads(text, strict=False)
    except RecursionError as exc:
        raise JsonLdError("nested too deeply") from exc
    except ValueError:
        pass
    repaired = _strip_comments_and_trailing_commas(text)
    repaired = _BAD_ESCAPE_RE.sub("", repaired)
    try:
        return _loads_concatenated(repaired)
    except RecursionError as exc:
        raise JsonLdError("nested too deeply") from exc
    except ValueError as exc:
        raise JsonLdError(str(exc)[:120]) from exc


def _loads_concatenated(text: str) -> Any:
    """One value, or several written back to back (``{…}{…}`` / ``{…},{…}``) as a list."""
    decoder = json.JSONDecoder(strict=False)
    values: list[Any] = []
    index = 0
    while index < len(text):
        value, index = decoder.raw_decode(text, index)
        values.append(value)
        while index < len(text) and text[index] in " \t\r\n,;":
            index += 1
    if not values:
        raise ValueError("no JSON value")
    return values[0] if len(values) == 1 else values


def _strip_comments_and_trailing_commas(text: str) -> str:
    """Drop ``//``/``/* */`` comments and commas before ``}``/``]``, outside strings."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    pending_comma = -1
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            pending_comma = -1
        elif ch == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        elif ch == ",":
            pending_comma = len(out)
        elif ch in "}]" and pending_comma >= 0:
            out[pending_comma] = ""
            pending_comma = -1
        elif not ch.isspace():
            pending_comma = -1
        out.append(ch)
        i += 1
    return "".join(out)
