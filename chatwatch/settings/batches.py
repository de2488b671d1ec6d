"""Batches of the normalize and scan roles."""

from __future__ import annotations

from pydantic import Field

from chatwatch.settings.base import SettingsPart


class BatchSettings(SettingsPart):
    """Batches: how many records the normalize and scan roles take at once (`streams/agents/normalize.py`, `scan.py`)."""

    normalize_batch_size: int = Field(1000, ge=1, description="Webhook bodies normalized per batch (one produce "
                                      "round for all their outputs).")
    normalize_batch_wait_s: float = Field(0.02, gt=0, description="Longest wait to fill a normalize batch.")
    scan_batch_size: int = Field(256, ge=1, description="Messages scanned together (one NER batch).")
    scan_batch_wait_s: float = Field(0.02, gt=0, description="Longest wait to fill a scan batch.")
