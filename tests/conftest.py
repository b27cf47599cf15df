from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.model import Settings, Source

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs at the same instant, so fixtures dated 2026–2027 never age out."""
    monkeypatch.setenv("AGGREGATOR_NOW", NOW.isoformat())


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def source() -> Source:
    return Source(id="test-source", name="Testföreningen", path="x.ics", municipality="Vimmerby")
