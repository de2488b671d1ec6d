"""Kafka/Faust wiring: ingestion (webhook receiver, parser), topics, agents, the worker app, the demo.

The top layer below the CLI: it may use sinks, detectors, rules and the records; nothing below imports it.
"""
