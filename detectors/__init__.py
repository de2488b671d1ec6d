"""Detectors: pure functions from a canonical message (and a RuleSet) to findings. No I/O."""
