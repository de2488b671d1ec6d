"""chatwatch: streaming compliance monitoring for business WhatsApp.

One namespace, layers that depend one way (docs/architecture.md; tests/test_layout.py enforces it):

    chatwatch.records, chatwatch.settings   the canonical records and the configuration (bottom)
    chatwatch.rules                         rule packs: the policy language, loader, shipped packs
    chatwatch.detectors                     pure functions: matching, PII, redaction, alert building
    chatwatch.sinks                         outputs: ClickHouse archive, manager notifications
    chatwatch.streams                       Kafka/Faust wiring: ingestion, topics, agents, the worker app
    chatwatch.cli                           the `chatwatch` command (top)

A package imports only from its own layer or the ones listed above it here.
"""
