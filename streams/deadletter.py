"""Dead letters: input a stage could not process, or an output Kafka refused, with a reason code.

A dead letter must always be writable, so the original rides along only up to a size cap
(`CHATWATCH_DEADLETTER_MAX_PAYLOAD_BYTES`, applied by the worker at start); past it the dead
letter carries the source coordinates, the size and the SHA-256 instead.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from chatwatch.records import DeadLetter

DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024
_max_payload_bytes = DEFAULT_MAX_PAYLOAD_BYTES


class Reason(StrEnum):
    invalid_json = "invalid_json"  # body is not JSON (or not UTF-8)
    invalid_shape = "invalid_shape"  # JSON, but not the webhook envelope we know
    unexpected_object = "unexpected_object"  # object is not whatsapp_business_account
    invalid_message = "invalid_message"  # one message inside a payload is unusable
    invalid_status = "invalid_status"  # one status inside a payload is unusable
    invalid_record = "invalid_record"  # a topic record is not a valid canonical record
    processing_error = "processing_error"  # a bug or unexpected failure while processing
    output_rejected = "output_rejected"  # Kafka refused an output for good (too large, not authorized…)
    store_rejected = "store_rejected"  # ClickHouse refused the record's rows (not an outage)
    delivery_failed = "delivery_failed"  # a notification channel failed after its retries


def limit_payload(max_bytes: int) -> None:
    """Set the largest original a dead letter carries (the worker calls this once, from settings)."""
    global _max_payload_bytes
    _max_payload_bytes = max_bytes


def dead_letter(stage: str, reason: str, error: str, original: bytes | None,
                topic: str | None = None, partition: int | None = None, offset: int | None = None, *,
                error_class: str | None = None, item_index: str | None = None) -> DeadLetter:
    original = original or b""
    carried = len(original) <= _max_payload_bytes
    return DeadLetter(
        stage=stage,
        reason=Reason(reason).value,
        error=error[:2000],
        error_class=error_class,
        original_b64=base64.b64encode(original).decode() if carried else None,
        original_size=len(original),
        original_sha256=hashlib.sha256(original).hexdigest(),
        item_index=item_index,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        failed_at=datetime.now(UTC),
    )
