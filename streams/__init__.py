"""The worker and the webhook receiver: ingestion (receiver, parser), topics, the roles (agents/,
roles.py), the worker app; and the demo.

Beside the console, below the CLI: it may use sinks, detectors, rules and the records; nothing below
imports it, and it does not import the console (nor the console it). The demo (streams/demo/) runs
everything and counts as the CLI layer.
"""
