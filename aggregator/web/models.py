"""The JSON API's shapes, for the OpenAPI document (``/openapi.json``).

Listings are assembled from the JSON Feed items the publisher pre-rendered, not
re-serialised through these models; they describe that output exactly, and extra
keys are allowed so a new field in the feed never breaks a client's validator.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Location(Open):
    name: str
    address: str
    locality: str
    municipality: str
    latitude: float | None
    longitude: float | None


class Organizer(Open):
    name: str
    url: str | None


class SourceLink(Open):
    id: str
    url: str | None


class EventDetails(Open):
    start: str = Field(description="ISO 8601 with offset, or a date for all-day events")
    end: str | None
    all_day: bool
    timezone: str
    status: str
    location: Location
    organizer: Organizer
    categories: list[str]
    sources: list[SourceLink]


class EventItem(Open):
    """A JSON Feed 1.1 item with the event in ``_event``, as in the published .json feeds."""

    id: str
    url: str
    title: str
    content_text: str
    content_html: str | None = None
    image: str | None = None
    date_published: str
    date_modified: str
    tags: list[str] | None = None
    event: EventDetails = Field(alias="_event")


class EventPage(BaseModel):
    events: list[EventItem]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null at the end")


class Change(BaseModel):
    id: str
    change: Literal["updated", "removed", "merged"]
    successor: str | None = Field(description="for merged: the event that replaced this one")
    event: EventItem | None = Field(description="the event now, for updated")


class ChangesPage(BaseModel):
    changes: list[Change]
    next_since: str = Field(description="pass as since next time")
    more: bool = Field(description="true when more changes wait: ask again at once")


class FeedLinks(BaseModel):
    ics: str
    rss: str
    json_feed: str = Field(alias="json")


class Facet(BaseModel):
    slug: str
    name: str
    upcoming: int
    feeds: FeedLinks


class SourceStatus(BaseModel):
    id: str
    name: str
    status: str = Field(description="ok, unchanged, failed, held, paused or never")
    pause_reason: str | None = Field(
        default=None,
        description="when paused: failing (failed for a long time; its events stay) or "
        "moderator (paused by a person; its events are out of the feeds)",
    )
    last_success: str | None
    events: int


class ErrorBody(BaseModel):
    error: str
    field: str | None


class JsonFeed(Open):
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1) with ``_event`` in each item."""

    version: str
    title: str
    home_page_url: str
    feed_url: str
    language: str
    items: list[EventItem]
