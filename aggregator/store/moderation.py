"""What a moderator looks at: an event's sources, the scores that joined them, the queue
of pairs the matcher was unsure about (``aggregator events show | review``)."""

from __future__ import annotations

from collections.abc import Sequence

from aggregator.model import MatchDecision
from aggregator.store.base import StoreBase
from aggregator.store.codec import event_from_json
from aggregator.store.rows import ActiveMember, MatchPair, MemberRef, ReviewPair


class ModerationQueries(StoreBase):
    """Reads over ``source_events``, ``match_pairs`` and ``overrides`` for moderators."""

    def active_members_of(self, event_id: str) -> list[ActiveMember]:
        """The source events a published event is made of now, by source and key."""
        return [
            ActiveMember(source_id, key, start_utc, event_from_json(data))
            for source_id, key, start_utc, data in self.conn.execute(
                """SELECT source_id, key, start_utc, data FROM source_events
                   WHERE event_id = ? AND removed_at IS NULL ORDER BY source_id, key""",
                (event_id,),
            )
        ]

    def match_pairs_of(self, members: Sequence[MemberRef]) -> list[MatchPair]:
        """The remembered scores of every pair touching these members, sorted, once each."""
        pairs: set[MatchPair] = set()
        for member in set(members):
            for a_source, a_key, b_source, b_key, decision, total, reason in self.conn.execute(
                """SELECT a_source, a_key, b_source, b_key, decision, total, reason FROM match_pairs
                   WHERE (a_source = ? AND a_key = ?) OR (b_source = ? AND b_key = ?)""",
                (*member, *member),
            ):
                pairs.add(
                    MatchPair(
                        a_source, a_key, b_source, b_key, MatchDecision(decision), total, reason
                    )
                )
        return sorted(pairs)

    def review_pairs(self) -> list[ReviewPair]:
        """Undecided pairs whose events are still apart and no moderator has ruled on.

        ``decision = 'review'`` stays a literal: the partial index ``match_pairs_review``
        serves only a query that names the value itself."""
        return [
            ReviewPair(*row)
            for row in self.conn.execute(
                """SELECT sa.event_id, json_extract(sa.data, '$.title'), sb.event_id,
                          json_extract(sb.data, '$.title'), p.total, p.reason,
                          sa.source_id || ':' || sa.key, sb.source_id || ':' || sb.key
                   FROM match_pairs p
                   JOIN source_events sa ON sa.source_id = p.a_source AND sa.key = p.a_key
                   JOIN source_events sb ON sb.source_id = p.b_source AND sb.key = p.b_key
                   WHERE p.decision = 'review' AND sa.removed_at IS NULL AND sb.removed_at IS NULL
                     AND sa.event_id != sb.event_id
                     AND NOT EXISTS (SELECT 1 FROM overrides o WHERE o.a_source = p.a_source
                          AND o.a_key = p.a_key AND o.b_source = p.b_source AND o.b_key = p.b_key)
                   ORDER BY sa.start_utc, p.total DESC"""
            )
        ]
