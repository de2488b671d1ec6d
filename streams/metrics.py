"""Metrics of the stream side: webhook receiver, agents, rule reloads, PII detection in the scan.

Naming: chatwatch_<noun>_<unit>_total for counters, _seconds for durations. Labels come only
from bounded sets (message type, direction, rule id, severity, stage, reason code, field
name from a known list); never message text, phone numbers or raw error strings. The archive
and notification metrics live beside the code that counts them (sinks/*/metrics.py).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

KNOWN_FIELDS = {
    "messages", "smb_message_echoes", "account_update", "account_alerts", "account_review_update",
    "business_capability_update", "message_template_status_update", "message_template_quality_update",
    "phone_number_name_update", "phone_number_quality_update", "template_category_update", "flows",
    "security", "calls", "history", "smb_app_state_sync", "user_preferences",
}

# webhook receiver (streams/ingest/web.py)
webhook_requests = Counter("chatwatch_webhook_requests_total", "Webhook HTTP requests by method and response code.", ["method", "code"])
payloads_received = Counter("chatwatch_payloads_received_total", "Signed webhook payloads accepted and stored on the raw topic.")

# normalize agent
messages_received = Counter("chatwatch_messages_received_total", "Raw events read by the normalize agent.")
messages_normalized = Counter("chatwatch_messages_normalized_total", "Canonical messages produced.", ["type", "direction"])
statuses_normalized = Counter("chatwatch_statuses_normalized_total", "Delivery status updates produced.", ["status"])
changes_ignored = Counter("chatwatch_webhook_changes_ignored_total", "Webhook changes deliberately not processed.", ["field"])
history_messages = Counter("chatwatch_history_messages_total", "Past messages from coexistence history sync.")
call_events = Counter("chatwatch_call_events_total", "WhatsApp call events (connect, terminate, recording…).", ["event"])
webhook_errors = Counter("chatwatch_webhook_errors_total",
                         "Errors WhatsApp reports for a business number with no message (e.g. 130429 rate limit).",
                         ["code"])
CALL_EVENTS = {"connect", "terminate", "call_recording_available", "status", "unknown"}

# scan agent
messages_scanned = Counter("chatwatch_messages_scanned_total", "Messages run through the detectors.", ["direction"])
alerts_produced = Counter("chatwatch_alerts_produced_total", "Alerts written to the alerts topic.", ["rule_id", "severity"])
pii_findings = Counter("chatwatch_pii_findings_total", "PII findings by type and source (pattern or ner); never values.",
                       ["type", "source"])
end_to_end_seconds = Histogram("chatwatch_end_to_end_seconds", "From the webhook's raw record (Kafka timestamp) to "
                               "the message's scan, for live messages.",
                               buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
pii_ner_model_missing = Gauge("chatwatch_pii_ner_model_missing",
                              "1 when the configured NER model of a language is not installed.", ["lang"])
ner_child_restarts = Counter("chatwatch_ner_child_restarts_total", "NER child processes started again after one died.")
ner_unavailable = Counter("chatwatch_ner_unavailable_total", "Messages scanned without NER because its children kept "
                          "dying (their name-like words were masked instead).")
unknown_employees = Counter("chatwatch_people_unknown_employees_total", "Messages whose employee id (by source) the "
                            "people directory does not list: add it to an employee's ids (PEOPLE_FILE).", ["source"])

# every agent (streams/agents/outputs.py)
dead_letters = Counter("chatwatch_dead_letters_total", "Records sent to the dead-letter topic.", ["stage", "reason"])
# observed once per batch, not per record: at thousands of records a second the observation is a cost
batch_size = Histogram("chatwatch_batch_size", "Records per batch an agent takes.", ["agent"],
                       buckets=(1, 4, 16, 64, 256, 1024, 4096, 16384))
batch_seconds = Histogram("chatwatch_batch_seconds", "Time an agent spends on one batch (its outputs handed to "
                          "the producer; for the archive, written).", ["agent"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

# delivery to Kafka (streams/agents/outputs.py): error classes at the produce
delivery_backoff_episodes = Counter("chatwatch_delivery_backoff_episodes_total",
                                    "Times a stage had to wait for Kafka to take its outputs (retriable errors).", ["stage"])
delivery_backing_off = Gauge("chatwatch_delivery_backing_off", "1 while a stage waits for Kafka and does not consume.",
                             ["stage"])
outputs_rejected = Counter("chatwatch_outputs_rejected_total",
                           "Outputs Kafka refused for good (dead-lettered), by error class.", ["stage", "error"])
dead_letters_unwritable = Counter("chatwatch_dead_letters_unwritable_total",
                                  "Dead letters Kafka refused too: logged and dropped so the partition moves on.",
                                  ["stage"])

# rule reloads (streams/active_rules.py)
rule_packs = Gauge("chatwatch_rule_pack_info", "Rule packs loaded by this worker (value 1).", ["pack", "version"])
rules_loaded = Gauge("chatwatch_rules_loaded", "Enabled rules in the running rule set.")
rules_reloads = Counter("chatwatch_rules_reloads_total", "Rule reload attempts by result (ok, rejected, error).", ["result"])
rules_reload_failing = Gauge("chatwatch_rules_reload_failing",
                             "1 while the rules folder holds a set that was rejected (old rules run).")
rules_last_reload = Gauge("chatwatch_rules_last_reload_timestamp_seconds",
                          "When the running rule set was loaded (Unix time).")


def call_event_label(event: str) -> str:
    return event if event in CALL_EVENTS else "other"


def field_label(field: str) -> str:
    """Bounded label for a webhook change field."""
    return field if field in KNOWN_FIELDS else "other"
# conversation rules (streams/agents/conversation.py)
conversation_states = Gauge("chatwatch_conversation_states", "Conversations with rule state in this worker's active "
                            "partitions (the table's size).")
conversation_state_bytes = Histogram("chatwatch_conversation_state_bytes", "Size of a conversation's rule state "
                                     "when written (bounded to 4 KiB).",
                                     buckets=(128, 256, 512, 1024, 1536, 2048, 3072, 4096))
conversation_late = Counter("chatwatch_conversation_late_messages_total", "Messages older than ones their "
                            "conversation had already played: 'replayed' were put in their place and the recent "
                            "messages played again; 'beyond_window' were older than the whole window (played "
                            "where they arrived).", ["placed"])
conversation_upstream_behind = Gauge("chatwatch_conversation_upstream_behind_seconds", "How far behind the wall clock "
                                     "the time is up to which every received message has reached the conversation "
                                     "rules (raw, messages and scans read and committed); quiet partitions judge "
                                     "deadlines no later than it. Grows while normalize or scan lag or are down.")
conversation_deadlines = Gauge("chatwatch_conversation_deadlines", "Absence deadlines waiting in this worker.")
conversation_expired = Counter("chatwatch_conversation_states_expired_total", "Conversation states dropped after "
                               "the idle time.")

partition_stuck = Gauge("chatwatch_partition_stuck", "1 while an assigned partition has waiting records and its "
                        "committed offset has not moved for the watchdog's time (no known backoff).",
                        ["topic", "partition"])
