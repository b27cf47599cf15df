"""A small published calendar for the web tests: real files, a real run, a real store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aggregator.cli import main
from aggregator.config import Config, load_config
from aggregator.store import Store
from tests.support import write_config

# An iCal SUMMARY is plain text (RFC 5545): this very markup is the title's text, reaches
# the web as text and must never become markup.
HOSTILE = '<script>alert(1)</script> Fika & "lotter" </script><!--'
HOSTILE_SOURCE = HOSTILE


def vevent(uid: str, start: str, end: str, summary: str, **extra: str) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTART;TZID=Europe/Stockholm:{start}",
        f"DTEND;TZID=Europe/Stockholm:{end}",
        f"SUMMARY:{summary}",
    ]
    lines += [f"{key.replace('_', '-')}:{value}" for key, value in extra.items()]
    return "\r\n".join([*lines, "END:VEVENT"]) + "\r\n"


def calendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Webb//SV\r\n"
        + "".join(events)
        + "END:VCALENDAR\r\n"
    )


FORENING = calendar(
    vevent(
        "jul@forening.se",
        "20261212T100000",
        "20261212T150000",
        "Julmarknad i Lönneberga",
        LOCATION="Hembygdsgården\\, Lönneberga",
        URL="https://forening.example/jul",
        DESCRIPTION="Fika\\, lotter och tomte.",
    ),
    vevent(
        "nasty@forening.se",
        "20261213T150000",
        "20261213T170000",
        HOSTILE_SOURCE,
        STATUS="CANCELLED",
        URL="javascript:alert(2)",
    ),
)
KOMMUN = calendar(
    vevent(
        "kommun-jul@hultsfred.se",
        "20261212T100000",
        "20261212T150000",
        "Julmarknad i Lönneberga",
        LOCATION="Hembygdsgården\\, Lönneberga",
    ),
)
TEATER = calendar(
    vevent(
        "jazz@teater.se",
        "20261205T190000",
        "20261205T220000",
        "Jazzkväll på teatern",
        CATEGORIES="Jazz",
        LOCATION="Vimmerby teater",
    ),
    vevent(
        "revy@teater.se",
        "20270115T190000",
        "20270115T210000",
        "Nyårsrevy",
        LOCATION="Vimmerby teater",
    ),
    vevent(
        "early@teater.se",
        "20261127T090000",
        "20261127T100000",
        "Morgonläsning",
        LOCATION="Vimmerby bibliotek",
    ),
)


@dataclass(frozen=True, slots=True)
class Site:
    folder: Path
    config: Config
    ids: dict[str, str]  # title → published event id

    def rerun(self) -> None:
        assert main(["--config", str(self.config.path), "run", "--once"]) == 0

    def write(self, name: str, text: str) -> None:
        (self.folder / name).write_text(text, encoding="utf-8")

    def store(self) -> Store:
        return Store(self.config.settings.database)


def build_site(folder: Path) -> Site:
    (folder / "forening.ics").write_text(FORENING, encoding="utf-8")
    (folder / "kommun.ics").write_text(KOMMUN, encoding="utf-8")
    (folder / "teater.ics").write_text(TEATER, encoding="utf-8")
    config_file = write_config(
        folder,
        [
            {
                "id": "forening",
                "name": "Lönneberga hembygdsförening",
                "path": str(folder / "forening.ics"),
                "municipality": "Hultsfred",
                "categories": ["Marknad"],
            },
            {
                "id": "kommun",
                "name": "Hultsfreds kommun",
                "path": str(folder / "kommun.ics"),
                "municipality": "Hultsfred",
                "priority": 10,
            },
            {
                "id": "teater",
                "name": "Vimmerby Teaterförening",
                "path": str(folder / "teater.ics"),
                "municipality": "Vimmerby",
                "categories": ["Teater"],
            },
        ],
    )
    assert main(["--config", str(config_file), "run", "--once"]) == 0
    config = load_config(config_file)
    return Site(folder, config, titles(config))


def titles(config: Config) -> dict[str, str]:
    store = Store(config.settings.database)
    try:
        rows = store.conn.execute(
            "SELECT id, data FROM events WHERE removed_at IS NULL AND content_hash != ''"
        ).fetchall()
    finally:
        store.close()
    return {json.loads(data)["title"]: event_id for event_id, data in rows}
