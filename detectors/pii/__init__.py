"""PII detection: checksum-validated identifiers, contact data, secrets and (optionally) NER names.

Public API: `PiiDetector`, `PiiConfig`, `Finding`. Values never leave this package raw unless a
caller asks for them (`Finding.start/end` index the text the caller already holds); alerts,
logs and analytics use `detectors.redaction`.
"""

from chatwatch.detectors.pii.detector import PiiConfig, PiiDetector
from chatwatch.detectors.pii.findings import Finding

__all__ = ["Finding", "PiiConfig", "PiiDetector"]
