"""Text archived raw is redacted on the case page as the pipeline redacted it: PII found again by the
detector, and what a rule marked sensitive, from the spans the pipeline stored with the message."""

from __future__ import annotations

import json

from chatwatch.console.casefile import Redactor
from chatwatch.detectors.pii import PiiConfig, PiiDetector


def test_raw_text_is_shown_with_the_spans_the_pipeline_masked():
    text = "usa s.e.n.h.a abacaxi77 e meu CPF 529.982.247-25"
    start = text.index("abacaxi77")
    message = {"text": text, "text_mode": "raw", "masked": json.dumps([["secret", start, start + 9]])}
    shown = Redactor(lambda: PiiDetector(PiiConfig(ner=False))).shown(message)
    assert "abacaxi77" not in shown and "529.982.247-25" not in shown
    assert shown == "usa s.e.n.h.a [SECRET] e meu CPF [CPF]"
    assert Redactor(lambda: PiiDetector(PiiConfig(ner=False))).shown(message, reveal=True) == text


def test_stored_spans_that_do_not_fit_the_text_are_ignored():
    message = {"text": "hola", "text_mode": "raw", "masked": "[[\"secret\", 2, 99], \"junk\"]"}
    assert Redactor(lambda: PiiDetector(PiiConfig(ner=False))).shown(message) == "hola"
