"""Re-reading sources.yaml while ``aggregator run`` runs: noticing a change, and what it means.

The operator edits one file; the service notices within seconds (or at once on SIGHUP),
without a restart. A file that does not load keeps the running configuration and says
why in the log, so a typo never stops the harvests.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from aggregator.config import Config, load_config
from aggregator.errors import ConfigError
from aggregator.model import Source

log = logging.getLogger(__name__)

# settings a running process cannot switch to: the open database, the served folder
RESTART_SETTINGS = ("database", "feeds_dir")


class ConfigWatcher:
    """Tells when the configuration file's bytes changed since the last look (by content:
    an editor's save that changes nothing, or a touch, is no change)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen = self._digest()

    def _digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None  # being replaced (editors write a new file and rename it)

    def changed(self) -> bool:
        digest = self._digest()
        if digest is None or digest == self._seen:
            return False
        self._seen = digest
        return True


@dataclass(frozen=True, slots=True)
class SourceChanges:
    """What a reload changes: ids added, removed, and edited (with their new records)."""

    added: tuple[Source, ...]
    removed: tuple[str, ...]
    edited: tuple[Source, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.edited)


def diff_sources(old: Config, new: Config) -> SourceChanges:
    before = {s.id: s for s in old.sources}
    after = {s.id: s for s in new.sources}
    return SourceChanges(
        added=tuple(s for s in new.sources if s.id not in before),
        removed=tuple(sid for sid in before if sid not in after),
        edited=tuple(s for s in new.sources if s.id in before and before[s.id] != s),
    )


def reload_config(current: Config) -> Config | None:
    """The file's new configuration, or None (logged) when it does not load. Settings a
    running process cannot take (the database, the feeds folder) keep their old values."""
    try:
        new = load_config(current.path)
    except ConfigError as exc:
        log.error("configuration not reloaded, the running one stays: %s", exc)
        return None
    kept = {}
    for name in RESTART_SETTINGS:
        if getattr(new.settings, name) != getattr(current.settings, name):
            log.warning("settings.%s changed: that takes effect at the next restart", name)
            kept[name] = getattr(current.settings, name)
    if kept:
        new = replace(new, settings=replace(new.settings, **kept))
    return new
