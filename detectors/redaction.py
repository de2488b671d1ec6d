"""The redaction API: what may leave a detector about a person.

Alerts, notifications, logs and analytics call these instead of handling raw values:
  replace  "[CPF]"-style type labels (the default everywhere)
  mask     keep a few trailing characters of numbers: "***********1111" (enough to tell two cards
           apart); secrets and what a rule marked sensitive are masked whole
  hash     "<br_cpf:3f9a1c0d2b>" — an HMAC, so the same value links across messages without
           revealing it (the key is a deployment secret; without it, a phone number's hash could be
           brute-forced)
  keep     the raw value (only where a deployment explicitly allows it)
The modes are `chatwatch.records.SnippetMode`'s; its `none` (no text at all) is for the caller to honour.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from chatwatch.records import SnippetMode


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
    keep_from = alnum[-keep] if keep and len(alnum) > keep else len(value)
    return "".join(char if c.isalnum() and i < keep_from else c for i, c in enumerate(value))


def hash_value(pii_type: str, value: str, key: bytes) -> str:
    digest = hmac.new(key, f"{pii_type}\x1f{value}".encode(), hashlib.sha256).hexdigest()[:10]
    return f"<{pii_type}:{digest}>"


# Types whose last characters tell two values apart without revealing them (cards, accounts, numbers);
# every other type (a secret, a rule's own match, a credential URL) is masked whole in `mask` mode.
TAIL_SHOWN = frozenset({"payment_card", "iban", "phone", "br_cpf", "br_cnpj", "mx_curp", "mx_rfc", "es_dni", "es_nie",
                        "es_nif", "ar_cuit", "cl_rut", "co_nit", "co_cedula"})


def merged(spans: Iterable[Span]) -> list[tuple[str, int, int]]:
    """Overlapping or touching spans joined into one (type of the longest part): a name found by NER
    inside a password a rule matched must not leave the password's tail in clear."""
    out: list[list] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        start = max(0, span.start)
        if span.end <= start:
            continue
        if out and start < out[-1][2]:
            last = out[-1]
            if span.type not in TAIL_SHOWN and last[0] in TAIL_SHOWN:
                last[0], last[3] = span.type, 10**9  # a secret inside a number: the whole span is masked whole
            elif span.end - start > last[3] and (last[0] in TAIL_SHOWN or span.type not in TAIL_SHOWN):
                last[0], last[3] = span.type, span.end - start
            last[2] = max(last[2], span.end)
            continue
        out.append([span.type, start, span.end, span.end - start])
    return [(t, a, b) for t, a, b, _ in out]


def redact(text: str, spans: Iterable[Span], mode: SnippetMode | str = SnippetMode.replace, key: bytes = b"") -> str:
    """The text with every span replaced as `mode` says; overlapping spans are merged first."""
    mode = SnippetMode(mode)
    if mode is SnippetMode.none:
        raise ValueError("'none' is not a redaction: the caller leaves the text out")
    if mode is SnippetMode.keep:
        return text
    if mode is SnippetMode.hash and not key:
        raise ValueError("hash redaction needs a key (CHATWATCH_REDACTION_KEY)")
    out, pos = [], 0
    for kind, start, end in merged(spans):
        end = min(end, len(text))
        if start >= end:
            continue
        value = text[start:end]
        out.append(text[pos:start])
        if mode is SnippetMode.replace:
            out.append(label(kind))
        elif mode is SnippetMode.mask:
            out.append(mask_value(value) if kind in TAIL_SHOWN else mask_value(value, keep=0))
        else:
            out.append(hash_value(kind, value, key))
        pos = end
    out.append(text[pos:])
    return "".join(out)


@dataclass(frozen=True)
class StoredSpan:
    type: str
    start: int
    end: int


def stored_spans(text: str, stored: str | None) -> list[StoredSpan]:
    """The spans the pipeline masked in a message archived raw (JSON [[type, start, end], …]): what rules
    marked sensitive and NER found, which a later reader would not find again with the patterns alone.
    Spans that do not fit the text, and values that do not parse, are ignored."""
    try:
        spans = [StoredSpan(str(t), int(a), int(b)) for t, a, b in json.loads(stored or "[]")]
    except (ValueError, TypeError):
        return []
    return [s for s in spans if 0 <= s.start < s.end <= len(text)]


def mask_phone(number: str | None, keep: int = 4) -> str:
    """'5511987654321' -> '*********4321': enough to tell customers apart, not to call them."""
    if not number:
        return ""
    digits = "".join(c for c in number if c.isdigit()) or number
    if len(digits) <= keep:
        return "*" * len(digits)
    return "*" * (len(digits) - keep) + digits[-keep:]
