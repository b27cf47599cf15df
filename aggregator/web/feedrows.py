"""Which events a filtered feed (``/api/events.ics|.rss|.json``) carries.

A filtered subscription behaves like a published one: a calendar is cut only at 1 MB
(``DayCut``, nearest days first, the horizon in its description), read page by page so
the server stops reading where the cut falls. RSS and JSON have no size limit, so the
server bounds them by a count (or the ``limit`` asked for); that cut, too, falls between
whole local days and says the last day it holds: a subscriber is never handed a
silently shortened feed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aggregator.publish.write import DayCut, FeedFrame
from aggregator.store import Store, iso
from aggregator.store.web_queries import EventQuery, Fragment, ListedEvent

PAGE = 1000  # rows read at a time for a calendar, until its 1 MB cut
MAX_ITEMS = 5000  # an RSS/JSON feed without limit: the server's bound (whole days)
MAX_DAY = 50_000  # one local day that alone exceeds a bound is still given whole


def calendar_body(
    store: Store,
    query: EventQuery,
    frame_for: Callable[[date | None], FeedFrame],
    max_bytes: int,
    local_day: Callable[[str], date],
) -> bytes:
    """The whole calendar for ``query``, cut only by its size, nearest days first."""
    cut = DayCut(frame_for, max_bytes, local_day)
    after = query.after
    while True:
        rows = store.list_events(replace(query, after=after, limit=PAGE), Fragment.ICS)
        cut.add([row.fragment for row in rows], [row.start_utc for row in rows])
        if cut.cut or len(rows) < PAGE:
            break
        after = (rows[-1].start_utc, rows[-1].id)
    frame, body, _ = cut.finish()
    return frame.head.encode() + b"".join(body) + frame.tail.encode()


def whole_days(
    store: Store,
    query: EventQuery,
    fragment: Fragment,
    cap: int,
    zone: ZoneInfo,
    day: Callable[[str], date],
) -> tuple[list[ListedEvent], date | None]:
    """At most ``cap`` events in whole local days, and the last day held when any were
    left out (None: nothing was). A first day that alone holds more than ``cap`` is
    given whole rather than cut inside (a horizon must never be wrong)."""
    rows = store.list_events(replace(query, limit=cap + 1), fragment)
    if len(rows) <= cap:
        return rows, None
    first_out = day(rows[cap].start_utc)
    kept = [row for row in rows[:cap] if day(row.start_utc) < first_out]
    if kept:
        return kept, day(kept[-1].start_utc)
    next_midnight = datetime.combine(first_out + timedelta(days=1), time(), tzinfo=zone)
    bound = iso(next_midnight)
    if query.starts_before is not None:
        bound = min(bound, query.starts_before)
    rows = store.list_events(replace(query, starts_before=bound, limit=MAX_DAY), fragment)
    return rows, first_out
