"""Redaction helpers: what may leave a detector about a person. (The full API grows with PII detection.)"""

from __future__ import annotations


def mask_phone(number: str | None, keep: int = 4) -> str:
    """'5511987654321' -> '*********4321': enough to tell customers apart, not to call them."""
    if not number:
        return ""
    digits = "".join(c for c in number if c.isdigit()) or number
    if len(digits) <= keep:
        return "*" * len(digits)
    return "*" * (len(digits) - keep) + digits[-keep:]
