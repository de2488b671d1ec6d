"""The redaction API: what may leave a detector about a person.

Alerts, notifications, logs and analytics call these instead of handling raw values:
  replace  "[CPF]"-style type labels (the default everywhere)
  mask     keep a few trailing characters: "***********1111" (enough to tell two cards apart)
  hash     "<br_cpf:3f9a1c0d2b>" — an HMAC, so the same value links across messages without
           revealing it (the key is a deployment secret; without it, a phone number's hash could be
           brute-forced)
  keep     the raw value (only where a deployment explicitly allows it)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol


class Mode(StrEnum):
    replace = "replace"
    mask = "mask"
    hash = "hash"
    keep = "keep"


class Span(Protocol):
    type: str
    start: int
    end: int


LABELS = {
    "br_cpf": "CPF", "br_cnpj": "CNPJ", "mx_curp": "CURP", "mx_rfc": "RFC", "es_dni": "DNI", "es_nie": "NIE",
    "es_nif": "NIF", "ar_cuit": "CUIT", "cl_rut": "RUT", "co_nit": "NIT", "co_cedula": "CEDULA", "iban": "IBAN",
    "payment_card": "CARD", "email": "EMAIL", "phone": "PHONE", "ip_address": "IP", "url_credentials": "URL",
    "secret": "SECRET", "person": "PERSON", "organization": "ORG", "location": "LOCATION",
}


def label(pii_type: str) -> str:
    return f"[{LABELS.get(pii_type, pii_type.upper())}]"


def mask_value(value: str, keep: int = 4, char: str = "*") -> str:
    """Keep the last `keep` letters/digits; everything else that is a letter or digit becomes `char`."""
    alnum = [i for i, c in enumerate(value) if c.isalnum()]
    keep_from = alnum[-keep] if len(alnum) > keep else len(value)
    return "".join(char if c.isalnum() and i < keep_from else c for i, c in enumerate(value))


def hash_value(pii_type: str, value: str, key: bytes) -> str:
    digest = hmac.new(key, f"{pii_type}\x1f{value}".encode(), hashlib.sha256).hexdigest()[:10]
    return f"<{pii_type}:{digest}>"


def redact(text: str, spans: Iterable[Span], mode: Mode | str = Mode.replace, key: bytes = b"") -> str:
    """The text with every span replaced as `mode` says; overlapping spans are merged first."""
    mode = Mode(mode)
    if mode is Mode.keep:
        return text
    if mode is Mode.hash and not key:
        raise ValueError("hash redaction needs a key (CHATWATCH_REDACTION_KEY)")
    out, pos = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < pos:
            continue  # overlaps the previous one: already redacted
        value = text[span.start:span.end]
        out.append(text[pos:span.start])
        if mode is Mode.replace:
            out.append(label(span.type))
        elif mode is Mode.mask:
            out.append(mask_value(value))
        else:
            out.append(hash_value(span.type, value, key))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def mask_phone(number: str | None, keep: int = 4) -> str:
    """'5511987654321' -> '*********4321': enough to tell customers apart, not to call them."""
    if not number:
        return ""
    digits = "".join(c for c in number if c.isdigit()) or number
    if len(digits) <= keep:
        return "*" * len(digits)
    return "*" * (len(digits) - keep) + digits[-keep:]
