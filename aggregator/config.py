"""sources.yaml → Settings + Source records.

Validation walks the YAML node tree (not the loaded dict) so every error can name
the file, the line and the key an operator has to fix.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import soupsieve
import yaml

from aggregator.errors import ConfigError
from aggregator.model import KINDS, Recipe, Settings, Source

DEFAULT_CONFIG = "sources.yaml"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL = 60
TRUSTED_HOST_RE = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$")

# the keys sources.yaml may use are the model's fields, no more, no less
SETTINGS_KEYS = {f.name for f in dataclass_fields(Settings)}
SOURCE_KEYS = {f.name for f in dataclass_fields(Source)}
RECIPE_KEYS = {f.name for f in dataclass_fields(Recipe)}


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


def config_path(cli_value: str | None) -> Path:
    return Path(cli_value or os.environ.get("AGGREGATOR_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("configuration file not found", file=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration: {exc}", file=str(path)) from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    reader = _Reader(str(path))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
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
    return Config(path=path.resolve(), settings=settings, sources=tuple(sources))


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file

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

    def scalar(self, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, key, f"'{key}' must be a single value")
        return yaml.constructor.SafeConstructor().construct_object(node)

    def string(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node, key)
        if value is None or str(value).strip() == "":
            raise self.error(node, key, f"'{key}' must not be empty")
        return str(value).strip()

    def integer(self, node: yaml.Node, key: str) -> int:
        value = self.scalar(node, key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(node, key, f"'{key}' must be a whole number, not '{node.value}'")
        return value

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

    def settings(self, node: yaml.Node) -> Settings:
        if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return Settings()
        fields = self.mapping(node, "settings", SETTINGS_KEYS)
        values: dict[str, Any] = {}
        for key, (_, value) in fields.items():
            if key in ("allow_private_hosts",):
                values[key] = self.boolean(value, key)
            elif key in ("max_bytes",):
                values[key] = self.integer(value, key)
            elif key == "timeout":
                number = self.scalar(value, key)
                if not isinstance(number, int | float) or isinstance(number, bool) or number <= 0:
                    raise self.error(value, key, "'timeout' must be a positive number of seconds")
                values[key] = float(number)
            elif key in ("municipalities", "trusted_hosts"):
                values[key] = self.string_list(value, key)
            else:
                values[key] = self.string(value, key)
        if "timezone" in values:
            try:
                zoneinfo.ZoneInfo(values["timezone"])
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise self.error(
                    fields["timezone"][1],
                    "timezone",
                    f"unknown time zone '{values['timezone']}' (use an IANA name like Europe/Stockholm)",
                ) from exc
        if "trusted_hosts" in values:
            values["trusted_hosts"] = tuple(h.lower() for h in values["trusted_hosts"])
            for entry in values["trusted_hosts"]:
                if not TRUSTED_HOST_RE.match(entry):
                    raise self.error(
                        fields["trusted_hosts"][1],
                        "trusted_hosts",
                        f"'{entry}' is not host:port (like 127.0.0.1:8765 or [::1]:8765)",
                    )
        if "base_url" in values and not _is_http_url(values["base_url"]):
            raise self.error(
                fields["base_url"][1],
                "base_url",
                f"base_url '{values['base_url']}' is not an http(s) URL",
            )
        if "base_url" in values:
            values["base_url"] = values["base_url"].rstrip("/")
        return Settings(**values)

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
        fields = self.mapping(node, "source", SOURCE_KEYS)
        if "id" not in fields:
            raise self.error(node, "id", "source has no 'id'")
        id_node = fields["id"][1]
        source_id = self.string(id_node, "id")
        if not SLUG_RE.match(source_id):
            raise self.error(
                id_node,
                "id",
                f"source id '{source_id}' must be lowercase letters, digits and dashes (like 'vimmerby-teater')",
            )
        values: dict[str, Any] = {"id": source_id}
        values["name"] = self.string(fields["name"][1], "name") if "name" in fields else source_id
        if ("url" in fields) == ("path" in fields):
            raise self.error(
                node, "url", f"source '{source_id}' needs exactly one of 'url' or 'path'"
            )
        if "url" in fields:
            url = self.string(fields["url"][1], "url")
            if url.startswith("webcal://"):
                url = "https://" + url.removeprefix("webcal://")
            if not _is_http_url(url):
                raise self.error(fields["url"][1], "url", f"'{url}' is not an http(s) URL")
            values["url"] = url
        else:
            values["path"] = self.string(fields["path"][1], "path")
        if "kind" in fields:
            kind = self.string(fields["kind"][1], "kind")
            if kind not in KINDS:
                raise self.error(
                    fields["kind"][1], "kind", f"unknown kind '{kind}' (one of: {', '.join(KINDS)})"
                )
            values["kind"] = kind
        if "municipality" in fields:
            municipality = self.string(fields["municipality"][1], "municipality")
            known = {m.casefold(): m for m in settings.municipalities}
            if municipality.casefold() not in known:
                raise self.error(
                    fields["municipality"][1],
                    "municipality",
                    f"unknown municipality '{municipality}' (settings.municipalities: "
                    f"{', '.join(settings.municipalities)})",
                )
            values["municipality"] = known[municipality.casefold()]
        if "categories" in fields:
            values["categories"] = self.string_list(fields["categories"][1], "categories")
        if "interval" in fields:
            values["interval"] = self.interval(fields["interval"][1])
        if "priority" in fields:
            values["priority"] = self.integer(fields["priority"][1], "priority")
        if "token_env" in fields:
            values["token_env"] = self.string(fields["token_env"][1], "token_env")
        if "max_pages" in fields:
            values["max_pages"] = self.integer(fields["max_pages"][1], "max_pages")
            if not 0 <= values["max_pages"] <= 1000:
                raise self.error(fields["max_pages"][1], "max_pages", "'max_pages' must be 0–1000")
        if "recipe" in fields:
            values["recipe"] = self.recipe(fields["recipe"][1])
        return Source(**values)

    def recipe(self, node: yaml.Node) -> Recipe:
        found = self.mapping(node, "recipe", RECIPE_KEYS)
        for required in ("event", "title", "date"):
            if required not in found:
                raise self.error(
                    node, f"recipe.{required}", f"recipe needs a '{required}' selector"
                )
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

    def interval(self, node: yaml.Node) -> int:
        raw = str(self.scalar(node, "interval"))
        match = INTERVAL_RE.match(raw)
        if not match:
            raise self.error(
                node,
                "interval",
                f"bad interval '{raw}' (use a number and s, m, h or d, like 30m or 1h)",
            )
        seconds = int(match.group(1)) * INTERVAL_UNITS[match.group(2)]
        if seconds < MIN_INTERVAL:
            raise self.error(node, "interval", f"interval '{raw}' is shorter than one minute")
        return seconds


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url
