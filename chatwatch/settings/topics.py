"""Topics: their names, how they are created, and what a dead letter carries."""

from __future__ import annotations

from pydantic import Field

from chatwatch.settings.base import SettingsPart


class TopicSettings(SettingsPart):
    """Topics: their names, how chatwatch creates them, what a dead letter carries (`streams/topics.py`)."""

    topic_prefix: str = Field("chatwatch", pattern=r"^[A-Za-z0-9._-]+$", description="Prefix of every "
                              "topic name: `<prefix>.raw`, `<prefix>.messages`… (the topic table in docs/architecture.md).")
    topic_partitions: int = Field(4, ge=1, description="Partitions of newly created topics (max workers sharing one).")
    topic_replication: int = Field(1, ge=1, description="Replication factor of newly created topics.")
    deadletter_max_payload_bytes: int = Field(256 * 1024, ge=0, description="Largest original a dead letter carries; "
                                              "beyond it: source topic/partition/offset, size and SHA-256.")
