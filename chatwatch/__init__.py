"""chatwatch: streaming compliance monitoring for business WhatsApp.

One namespace, layers that depend one way (docs/architecture.md; tests/test_layout.py enforces it):

    chatwatch.records, chatwatch.settings   the canonical records, the configuration and the people
    chatwatch.people                        directory (bottom)
    chatwatch.rules                         rule packs: the policy language, loader, shipped packs
    chatwatch.detectors                     pure functions: matching, PII, redaction, alert building
    chatwatch.sinks                         outputs: ClickHouse archive, manager notifications
    chatwatch.console | chatwatch.streams   two applications side by side: the compliance console, and
                                            the worker and webhook receiver (Kafka/Faust wiring, roles)
    chatwatch.cli                           the `chatwatch` command, and the demo (top)

A package imports only from its own layer or the ones listed above it here; the console and the
worker never import each other (the CLI starts the console inside a worker when asked).
"""
