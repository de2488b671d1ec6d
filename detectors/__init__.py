"""Detectors: pure functions from a canonical message (and a RuleSet) to findings and alerts. No I/O.

Matching (normalize, keywords, attachments, scanner), PII (`pii/`), redaction, alert building.
"""
