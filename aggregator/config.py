"""sources.yaml → Settings + Source records.

Validation walks the YAML node tree (not the loaded dict) so every error can name
the file, the line and the key an operator has to fix. The keys and their types
are the model's fields (``Settings``, ``Source``, ``Recipe``): a field added there
is read here. What the types cannot say is checked by name: ranges (a timeout must
be finite, a priority fit in the database), paths (no NUL, ``feeds_dir`` a folder
we can write), zones, URLs, and municipalities whose feed names are distinct.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
import threading
import unicodedata
import zoneinfo
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

import yaml

from aggregator.errors import ConfigError
from aggregator.model import KINDS, Recipe, Settings, Source
from aggregator.normalize.text import slugify
from aggregator.redaction import remember_secret, remember_secrets_in

DEFAULT_CONFIG = "sources.yaml"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
INTERVAL_RE = re.compile(r"^\s*(\d{1,9})\s*([smhd])\s*$")
INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL = 60
MAX_INTERVAL = 366 * 86400  # a source looked at less than once a year is not a source
MAX_TIMEZONE = 64  # no IANA name is longer; longer ones fail the lookup with OSError
MAX_WORKERS = 64
MAX_PER_HOST_DELAY = 60
TRUSTED_HOST_RE = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$")

# the keys sources.yaml may use are the model's fields, no more, no less
SETTINGS_KEYS = {f.name for f in dataclass_fields(Settings)}
SOURCE_KEYS = {f.name for f in dataclass_fields(Source)}
RECIPE_KEYS = {f.name for f in dataclass_fields(Recipe)}
_SETTINGS_TYPES = get_type_hints(Settings)
_SOURCE_TYPES = get_type_hints(Source)

# (lowest, highest) a number may be; each bound says why in a word
SETTINGS_RANGES: dict[str, tuple[float, float]] = {
    "timeout": (0.1, 600),  # seconds a server may take to answer
    "max_bytes": (1024, 2**30),  # a calendar file; more than 1 GB is not one
    "max_events": (1, 1_000_000),
    "parse_timeout": (1, 86_400),
    "parse_memory": (64, 1_048_576),  # MB
    "workers": (1, MAX_WORKERS),
    "per_host_delay": (0, MAX_PER_HOST_DELAY),  # seconds between two requests to one host
}
SOURCE_RANGES: dict[str, tuple[float, float]] = {
    "priority": (-1_000_000, 1_000_000),  # stored in SQLite, compared in merges
    "max_pages": (0, 1000),
    "max_events": (1, 1_000_000),
}


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    settings: Settings
    sources: tuple[Source, ...]

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise ConfigError(f"no source with id '{source_id}'", file=str(self.path))

    def resolve(self, relative: str) -> Path:
        """Paths in sources.yaml are relative to the file itself."""
        p = Path(relative)
        return p if p.is_absolute() else self.path.parent / p


class ConfigHolder:
    """The configuration a running service uses now, shared by its scheduler and its web app.

    ``aggregator run`` re-reads sources.yaml and the approved registrations while it
    runs; the scheduler ``set``s each new configuration here and every web request reads
    ``current``, so /kallor, /api/sources, the feed names and the settings follow a reload
    without a restart. A ``Config`` is frozen: a reader gets one whole configuration,
    never half of an old one and half of a new one.
    """

    def __init__(self, config: Config, file: Config | None = None) -> None:
        self._config = config
        self._file = file or config
        self._lock = threading.Lock()

    @property
    def current(self) -> Config:
        """sources.yaml and the approved registrations, as the service runs them now."""
        with self._lock:
            return self._config

    @property
    def file(self) -> Config:
        """sources.yaml alone: what the registrations are merged into (never merged twice)."""
        with self._lock:
            return self._file

    def set(self, config: Config, file: Config | None = None) -> None:
        with self._lock:
            self._config = config
            if file is not None:
                self._file = file


def config_path(cli_value: str | None) -> Path:
    return Path(cli_value or os.environ.get("AGGREGATOR_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("configuration file not found", file=str(path)) from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ConfigError(f"cannot read configuration: {exc}", file=str(path)) from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    reader = _Reader(str(path), path.parent)
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML: {problem}", file=str(path), line=line) from exc
    if root is None:
        raise ConfigError("file is empty; expected 'settings:' and 'sources:'", file=str(path))
    top = reader.mapping(root, "top level", {"settings", "sources"})
    settings = reader.settings(top["settings"][1]) if "settings" in top else Settings()
    if "sources" not in top:
        raise ConfigError("missing 'sources:' list", file=str(path), line=1, key="sources")
    sources = reader.sources(top["sources"][1], settings)
    for source in sources:  # never printed from here on
        if source.token_env:
            remember_secret(os.environ.get(source.token_env))
        if source.url:
            remember_secrets_in(source.url)
    return Config(path=path.resolve(), settings=settings, sources=tuple(sources))


def _compose(text: str) -> yaml.Node | None:
    """libyaml reads a 200-source file in a tenth of the pure-Python parser's time (every
    command starts with it); a file it refuses is read again by the pure-Python parser, so
    the error names its problem in the words (and at the line) operators know."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


class _Reader:
    def __init__(self, file: str, base: Path) -> None:
        self.file = file
        self.base = base

    def error(self, node: yaml.Node, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=node.start_mark.line + 1, key=key)

    def mapping(
        self, node: yaml.Node, where: str, allowed: set[str]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, where, f"{where} must be a mapping of keys to values")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                raise self.error(key_node, key, f"unknown key '{key}' in {where} (known: {hint})")
            if key in out:
                raise self.error(key_node, key, f"key '{key}' appears twice in {where}")
            out[key] = (key_node, value_node)
        return out

    # --- values by type -------------------------------------------------------------------

    def scalar(self, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, key, f"'{key}' must be a single value")
        try:
            return yaml.constructor.SafeConstructor().construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise self.error(node, key, f"'{key}' cannot be read: {exc}") from exc

    def string(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node, key)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            kind = "binary data" if isinstance(value, bytes) else type(value).__name__
            raise self.error(node, key, f"'{key}' must be text, not {kind}")
        text = str(value).strip()
        if not text:
            raise self.error(node, key, f"'{key}' must not be empty")
        bad = next((c for c in text if unicodedata.category(c) == "Cc"), None)
        if bad is not None:
            raise self.error(
                node, key, f"'{key}' holds a control character ({ord(bad):#04x}); remove it"
            )
        return text

    def integer(self, node: yaml.Node, key: str) -> int:
        value = self.scalar(node, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(node, key, f"'{key}' must be a whole number, not '{node.value}'")
        return value

    def number(self, node: yaml.Node, key: str) -> float:
        value = self.scalar(node, key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(node, key, f"'{key}' must be a number, not '{node.value}'")
        if not math.isfinite(value):
            raise self.error(node, key, f"'{key}' must be a finite number, not '{node.value}'")
        return float(value)

    def boolean(self, node: yaml.Node, key: str) -> bool:
        value = self.scalar(node, key)
        if not isinstance(value, bool):
            raise self.error(node, key, f"'{key}' must be true or false, not '{node.value}'")
        return value

    def string_list(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode):
            return (self.string(node, key),)
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, key, f"'{key}' must be a list")
        return tuple(self.string(item, key) for item in node.value)

    def typed(self, node: yaml.Node, key: str, kind: Any) -> Any:
        """A value read as the model field's type says (``X | None`` reads as X)."""
        options = [k for k in getattr(kind, "__args__", (kind,)) if k is not type(None)]
        kind = options[0] if len(options) == 1 else kind
        if kind is bool:
            return self.boolean(node, key)
        if kind is int:
            return self.integer(node, key)
        if kind is float:
            return self.number(node, key)
        if getattr(kind, "__origin__", None) is tuple:
            return self.string_list(node, key)
        return self.string(node, key)

    def in_range(
        self, node: yaml.Node, key: str, value: float, bounds: tuple[float, float]
    ) -> None:
        low, high = bounds
        if not low <= value <= high:
            raise self.error(
                node, key, f"'{key}' must be between {low:g} and {high:g}, not {value:g}"
            )

    # --- settings ---------------------------------------------------------------------------

    def settings(self, node: yaml.Node) -> Settings:
        if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return Settings()
        found = self.mapping(node, "settings", SETTINGS_KEYS)
        values: dict[str, Any] = {}
        for key, (_, value) in found.items():
            if key == "pause_after":
                values[key] = self.interval(value, key)
            else:
                values[key] = self.typed(value, key, _SETTINGS_TYPES[key])
            if key in SETTINGS_RANGES:
                self.in_range(value, key, values[key], SETTINGS_RANGES[key])
        if "timezone" in values:
            self.check_timezone(found["timezone"][1], values["timezone"])
        if "trusted_hosts" in values:
            values["trusted_hosts"] = tuple(h.lower() for h in values["trusted_hosts"])
            for entry in values["trusted_hosts"]:
                if not TRUSTED_HOST_RE.match(entry):
                    raise self.error(
                        found["trusted_hosts"][1],
                        "trusted_hosts",
                        f"'{entry}' is not host:port (like 127.0.0.1:8765 or [::1]:8765)",
                    )
        if "trusted_proxies" in values:
            self.check_trusted_proxies(found["trusted_proxies"][1], values["trusted_proxies"])
        if "base_url" in values:
            if not _is_http_url(values["base_url"]):
                raise self.error(
                    found["base_url"][1],
                    "base_url",
                    f"base_url '{values['base_url']}' is not an http(s) URL",
                )
            values["base_url"] = values["base_url"].rstrip("/")
        if "municipalities" in values:
            self.check_municipalities(found["municipalities"][1], values["municipalities"])
        if "database" in values:
            self.check_database(found["database"][1], values["database"])
        self.check_feeds_dir(
            found["feeds_dir"][1] if "feeds_dir" in found else node,
            values.get("feeds_dir", Settings().feeds_dir),
        )
        return Settings(**values)

    def check_timezone(self, node: yaml.Node, name: str) -> None:
        problem = len(name) > MAX_TIMEZONE
        if not problem:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                problem = True
        if problem:
            raise self.error(
                node,
                "timezone",
                f"unknown time zone '{name[:MAX_TIMEZONE]}' (use an IANA name like "
                "Europe/Stockholm)",
            )

    def check_municipalities(self, node: yaml.Node, names: tuple[str, ...]) -> None:
        """Each municipality gets a feed named by its slug: no slug may be empty or shared."""
        seen: dict[str, str] = {}
        items = node.value if isinstance(node, yaml.SequenceNode) else [node] * len(names)
        for name, item in zip(names, items, strict=False):
            slug = slugify(name)
            if not slug:
                raise self.error(
                    item,
                    "municipalities",
                    f"the municipality '{name}' has no letters or digits to name its feed "
                    "(municipality/<name>.ics) by",
                )
            if slug in seen:
                raise self.error(
                    item,
                    "municipalities",
                    f"the municipalities '{seen[slug]}' and '{name}' would share one feed "
                    f"(municipality/{slug}.ics); list each municipality once",
                )
            seen[slug] = name

    def check_trusted_proxies(self, node: yaml.Node, entries: tuple[str, ...]) -> None:
        """Each proxy is an IP address or a network; uvicorn would quietly take anything
        else as a name no connection ever has, and the proxy's headers would be ignored."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node] * len(entries)
        for entry, item in zip(entries, items, strict=False):
            problem = ""
            if entry.strip() in ("*", "0.0.0.0/0", "::/0"):
                problem = (
                    f"'{entry}' would trust every client's X-Forwarded-For (any visitor could "
                    "pose as any address); list your proxies' addresses"
                )
            elif "/" in entry:
                try:
                    ipaddress.ip_network(entry)
                except ValueError:
                    problem = f"'{entry}' is not a network (like 10.0.0.0/8 or fd00::/8)"
            else:
                try:
                    ipaddress.ip_address(entry)
                except ValueError:
                    problem = f"'{entry}' is not an IP address (like 127.0.0.1 or ::1)"
            if problem:
                raise self.error(item, "trusted_proxies", problem)

    def check_database(self, node: yaml.Node, value: str) -> None:
        path = self.resolve(value)
        if path.is_dir():
            raise self.error(node, "database", f"database '{value}' is a folder, not a file")
        if not path.parent.is_dir():
            raise self.error(
                node, "database", f"the folder of the database '{value}' does not exist"
            )

    def check_feeds_dir(self, node: yaml.Node, value: str) -> None:
        """The feeds are written there: it must be, or become, a folder we can write."""
        path = self.resolve(value)
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if existing != path and not existing.is_dir():
            raise self.error(
                node,
                "feeds_dir",
                f"feeds_dir '{value}' cannot be made: {existing} is a file, not a folder",
            )
        if not existing.is_dir():
            raise self.error(node, "feeds_dir", f"feeds_dir '{value}' is a file, not a folder")
        if not _writable(existing):
            where = "" if existing == path else f" (its folder {existing} is)"
            raise self.error(
                node,
                "feeds_dir",
                f"feeds_dir '{value}' is read-only{where}; feeds cannot be written",
            )

    def resolve(self, value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else self.base / path

    # --- sources ----------------------------------------------------------------------------

    def sources(self, node: yaml.Node, settings: Settings) -> list[Source]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, "sources", "'sources' must be a list of sources")
        seen: dict[str, int] = {}
        result = []
        for item in node.value:
            source = self.source(item, settings)
            line = item.start_mark.line + 1
            if source.id in seen:
                raise self.error(
                    item,
                    "id",
                    f"duplicate source id '{source.id}' (first defined on line {seen[source.id]})",
                )
            seen[source.id] = line
            result.append(source)
        return result

    def source(self, node: yaml.Node, settings: Settings) -> Source:
        found = self.mapping(node, "source", SOURCE_KEYS)
        if "id" not in found:
            raise self.error(node, "id", "source has no 'id'")
        id_node = found["id"][1]
        source_id = self.string(id_node, "id")
        if not SLUG_RE.match(source_id):
            raise self.error(
                id_node,
                "id",
                f"source id '{source_id}' must be lowercase letters, digits and dashes (like 'vimmerby-teater')",
            )
        if ("url" in found) == ("path" in found):
            raise self.error(
                node, "url", f"source '{source_id}' needs exactly one of 'url' or 'path'"
            )
        values: dict[str, Any] = {"id": source_id, "name": source_id}
        for key, (_, value) in found.items():
            if key == "id":
                continue
            if key == "recipe":
                values[key] = self.recipe(value)
            elif key == "interval":
                values[key] = self.interval(value, key)
            else:
                values[key] = self.typed(value, key, _SOURCE_TYPES[key])
            if key in SOURCE_RANGES:
                self.in_range(value, key, values[key], SOURCE_RANGES[key])
        if "url" in values:
            values["url"] = self.url(found["url"][1], values["url"])
        if "kind" in values and values["kind"] not in KINDS:
            raise self.error(
                found["kind"][1],
                "kind",
                f"unknown kind '{values['kind']}' (one of: {', '.join(KINDS)})",
            )
        if "municipality" in values:
            values["municipality"] = self.municipality(
                found["municipality"][1], values["municipality"], settings
            )
        if "token_env" in values and not ENV_NAME_RE.match(values["token_env"]):
            raise self.error(
                found["token_env"][1],
                "token_env",
                f"token_env '{values['token_env'][:60]}' is not the name of an environment "
                "variable (letters, digits and _)",
            )
        return Source(**values)

    def url(self, node: yaml.Node, url: str) -> str:
        if url.startswith("webcal://"):
            url = "https://" + url.removeprefix("webcal://")
        if not _is_http_url(url):
            raise self.error(node, "url", f"'{url}' is not an http(s) URL")
        return url

    def municipality(self, node: yaml.Node, name: str, settings: Settings) -> str:
        known = {m.casefold(): m for m in settings.municipalities}
        if name.casefold() not in known:
            raise self.error(
                node,
                "municipality",
                f"unknown municipality '{name}' (settings.municipalities: "
                f"{', '.join(settings.municipalities)})",
            )
        return known[name.casefold()]

    def recipe(self, node: yaml.Node) -> Recipe:
        found = self.mapping(node, "recipe", RECIPE_KEYS)
        for required in ("event", "title", "date"):
            if required not in found:
                raise self.error(
                    node, f"recipe.{required}", f"recipe needs a '{required}' selector"
                )
        # imported here, not at the top: soupsieve brings bs4 and lxml (a quarter of a
        # second), which only a configuration with a recipe needs
        import soupsieve

        values = {}
        for key, (_, value) in found.items():
            selector = self.string(value, f"recipe.{key}")
            try:
                soupsieve.compile(selector)
            except soupsieve.SelectorSyntaxError as exc:
                raise self.error(
                    value,
                    f"recipe.{key}",
                    f"bad CSS selector in recipe: recipe {key}: '{selector}' is not a valid "
                    "CSS selector",
                ) from exc
            values[key] = selector
        return Recipe(**values)

    def interval(self, node: yaml.Node, key: str) -> int:
        raw = str(self.scalar(node, key))
        match = INTERVAL_RE.match(raw)
        if not match:
            raise self.error(
                node,
                key,
                f"bad {key} '{raw[:40]}' (use a number and s, m, h or d, like 30m or 1h)",
            )
        seconds = int(match.group(1)) * INTERVAL_UNITS[match.group(2)]
        if seconds < MIN_INTERVAL:
            raise self.error(node, key, f"{key} '{raw[:40]}' is shorter than one minute")
        if seconds > MAX_INTERVAL:
            raise self.error(node, key, f"{key} '{raw[:40]}' is longer than a year")
        return seconds


def _writable(folder: Path) -> bool:
    """Writable by us, and not marked read-only for everyone (root ignores the marks)."""
    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK) and bool(
        mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    )


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(hostname)
        and " " not in url
        and "\\" not in parts.netloc
    )
