"""Dead letters: input a stage could not process, kept whole with a reason code."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from enum import StrEnum

from chatwatch.records import DeadLetter


class Reason(StrEnum):
    invalid_json = "invalid_json"  # body is not JSON (or not UTF-8)
    invalid_shape = "invalid_shape"  # JSON, but not the webhook envelope we know
    unexpected_object = "unexpected_object"  # object is not whatsapp_business_account
    invalid_message = "invalid_message"  # one message inside a payload is unusable
    invalid_status = "invalid_status"  # one status inside a payload is unusable
    invalid_record = "invalid_record"  # a topic record is not a valid canonical record
    processing_error = "processing_error"  # a bug or unexpected failure while processing
    store_rejected = "store_rejected"  # ClickHouse refused the record's rows (not an outage)
    delivery_failed = "delivery_failed"  # a notification channel failed after its retries


def dead_letter(stage: str, reason: str, error: str, original: bytes | None,
                topic: str | None = None, partition: int | None = None, offset: int | None = None) -> DeadLetter:
    return DeadLetter(
        stage=stage,
        reason=Reason(reason).value,
        error=error[:2000],
        original_b64=base64.b64encode(original or b"").decode(),
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        failed_at=datetime.now(UTC),
    )
