"""The bus's own machinery: streams and durable consumers, the inbox and the outbox, dead letters
and replay, query replies, the errors that decide ack, nak or dead letter, and business time.

The public API of this package: import from here, not from its modules (an import-linter
contract in pyproject.toml holds everyone to it). Names load on first use (PEP 562), so a
module of the runtime that imports a sibling module never waits for this whole package.
"""

from typing import TYPE_CHECKING

from services.runtime.exports import lazy_exports

if TYPE_CHECKING:
    from services.runtime.bus.clock import Clock, FixedClock, SystemClock
    from services.runtime.bus.consumer import BATCH_MAX, FETCH_WAIT_S, EventConsumer
    from services.runtime.bus.dead_letters import (
        DeadLetter,
        LetterRefused,
        check_letter,
        dead_letter_at,
        read_dead_letters,
        replay,
    )
    from services.runtime.bus.dlq import (
        DLQ_CONSUMER_HEADER,
        DLQ_DETAIL_HEADER,
        DLQ_HEADERS,
        DLQ_ORIGINAL_SEQ_HEADER,
        DLQ_ORIGINAL_SUBJECT_HEADER,
        DLQ_REASON_HEADER,
        DLQ_TIME_HEADER,
        REPLAY_FOR_HEADER,
        REPLAY_SUBJECT_HEADER,
        dead_letter,
        replay_of,
    )
    from services.runtime.bus.errors import (
        ConfigurationError,
        IpbusError,
        PermanentError,
        RetryableError,
        StepRefused,
    )
    from services.runtime.bus.exhausted import (
        MAX_DELIVERIES_ADVISORY,
        Exhausted,
        exhausted_message,
        parse_advisory,
    )
    from services.runtime.bus.freshness import check_fresh, stored_on_clock
    from services.runtime.bus.inbox import (
        InboxRecord,
        InboxVerdict,
        claim_in_inbox,
        record_in_inbox,
    )
    from services.runtime.bus.outbox import OutboxRecord, OutboxRelay, put_in_outbox, unsent_count
    from services.runtime.bus.query_replies import InboxRepliesOnly
    from services.runtime.bus.rate_limit import QueryGate, QueryRateLimit, TokenBuckets
    from services.runtime.bus.site_streams import ensure_hub_sources, ensure_site_streams
    from services.runtime.bus.streams import (
        COORDINATOR_CONSUMER,
        DEFAULT_DUPLICATE_WINDOW_S,
        ConsumerSpec,
        StreamLayout,
        StreamRetention,
        agency_consumer_spec,
        coordinator_consumer_spec,
        ensure_consumer,
        ensure_streams,
    )

__all__ = [
    "BATCH_MAX",
    "COORDINATOR_CONSUMER",
    "DEFAULT_DUPLICATE_WINDOW_S",
    "DLQ_CONSUMER_HEADER",
    "DLQ_DETAIL_HEADER",
    "DLQ_HEADERS",
    "DLQ_ORIGINAL_SEQ_HEADER",
    "DLQ_ORIGINAL_SUBJECT_HEADER",
    "DLQ_REASON_HEADER",
    "DLQ_TIME_HEADER",
    "FETCH_WAIT_S",
    "MAX_DELIVERIES_ADVISORY",
    "REPLAY_FOR_HEADER",
    "REPLAY_SUBJECT_HEADER",
    "Clock",
    "ConfigurationError",
    "ConsumerSpec",
    "DeadLetter",
    "EventConsumer",
    "Exhausted",
    "FixedClock",
    "InboxRecord",
    "InboxRepliesOnly",
    "InboxVerdict",
    "IpbusError",
    "LetterRefused",
    "OutboxRecord",
    "OutboxRelay",
    "PermanentError",
    "QueryGate",
    "QueryRateLimit",
    "RetryableError",
    "StepRefused",
    "StreamLayout",
    "StreamRetention",
    "SystemClock",
    "TokenBuckets",
    "agency_consumer_spec",
    "check_fresh",
    "check_letter",
    "claim_in_inbox",
    "coordinator_consumer_spec",
    "dead_letter",
    "dead_letter_at",
    "ensure_consumer",
    "ensure_hub_sources",
    "ensure_site_streams",
    "ensure_streams",
    "exhausted_message",
    "parse_advisory",
    "put_in_outbox",
    "read_dead_letters",
    "record_in_inbox",
    "replay",
    "replay_of",
    "stored_on_clock",
    "unsent_count",
]
_EXPORTS = {
    "BATCH_MAX": "services.runtime.bus.consumer",
    "COORDINATOR_CONSUMER": "services.runtime.bus.streams",
    "Clock": "services.runtime.bus.clock",
    "ConfigurationError": "services.runtime.bus.errors",
    "ConsumerSpec": "services.runtime.bus.streams",
    "DEFAULT_DUPLICATE_WINDOW_S": "services.runtime.bus.streams",
    "DeadLetter": "services.runtime.bus.dead_letters",
    "EventConsumer": "services.runtime.bus.consumer",
    "Exhausted": "services.runtime.bus.exhausted",
    "FETCH_WAIT_S": "services.runtime.bus.consumer",
    "FixedClock": "services.runtime.bus.clock",
    "InboxRecord": "services.runtime.bus.inbox",
    "InboxRepliesOnly": "services.runtime.bus.query_replies",
    "InboxVerdict": "services.runtime.bus.inbox",
    "IpbusError": "services.runtime.bus.errors",
    "LetterRefused": "services.runtime.bus.dead_letters",
    "MAX_DELIVERIES_ADVISORY": "services.runtime.bus.exhausted",
    "OutboxRecord": "services.runtime.bus.outbox",
    "OutboxRelay": "services.runtime.bus.outbox",
    "PermanentError": "services.runtime.bus.errors",
    "QueryGate": "services.runtime.bus.rate_limit",
    "QueryRateLimit": "services.runtime.bus.rate_limit",
    "DLQ_CONSUMER_HEADER": "services.runtime.bus.dlq",
    "DLQ_DETAIL_HEADER": "services.runtime.bus.dlq",
    "DLQ_HEADERS": "services.runtime.bus.dlq",
    "DLQ_ORIGINAL_SEQ_HEADER": "services.runtime.bus.dlq",
    "DLQ_ORIGINAL_SUBJECT_HEADER": "services.runtime.bus.dlq",
    "DLQ_REASON_HEADER": "services.runtime.bus.dlq",
    "DLQ_TIME_HEADER": "services.runtime.bus.dlq",
    "REPLAY_FOR_HEADER": "services.runtime.bus.dlq",
    "REPLAY_SUBJECT_HEADER": "services.runtime.bus.dlq",
    "RetryableError": "services.runtime.bus.errors",
    "StepRefused": "services.runtime.bus.errors",
    "StreamLayout": "services.runtime.bus.streams",
    "StreamRetention": "services.runtime.bus.streams",
    "SystemClock": "services.runtime.bus.clock",
    "TokenBuckets": "services.runtime.bus.rate_limit",
    "agency_consumer_spec": "services.runtime.bus.streams",
    "check_fresh": "services.runtime.bus.freshness",
    "check_letter": "services.runtime.bus.dead_letters",
    "claim_in_inbox": "services.runtime.bus.inbox",
    "coordinator_consumer_spec": "services.runtime.bus.streams",
    "dead_letter": "services.runtime.bus.dlq",
    "dead_letter_at": "services.runtime.bus.dead_letters",
    "ensure_consumer": "services.runtime.bus.streams",
    "ensure_hub_sources": "services.runtime.bus.site_streams",
    "ensure_site_streams": "services.runtime.bus.site_streams",
    "ensure_streams": "services.runtime.bus.streams",
    "exhausted_message": "services.runtime.bus.exhausted",
    "parse_advisory": "services.runtime.bus.exhausted",
    "put_in_outbox": "services.runtime.bus.outbox",
    "read_dead_letters": "services.runtime.bus.dead_letters",
    "record_in_inbox": "services.runtime.bus.inbox",
    "replay": "services.runtime.bus.dead_letters",
    "replay_of": "services.runtime.bus.dlq",
    "stored_on_clock": "services.runtime.bus.freshness",
    "unsent_count": "services.runtime.bus.outbox",
}
"""Where each name of :data:`__all__` is defined (the imports above, for type checkers)."""


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
