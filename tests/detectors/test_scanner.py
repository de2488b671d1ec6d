"""Keyword matching: normalization, whole words, offsets in the original text, exceptions, scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.keywords import KeywordIndex
from detectors.normalize import normalize
from detectors.scanner import Scanner
from rules import load_rules_dir
from streams.settings import PACKAGED_RULES


def test_normalize_folds_case_accents_width_and_space_and_keeps_offsets():
    original = "  Mi  NÚMERO\tpersonal ＡＢ"
    norm = normalize(original)
    assert norm.text == "mi numero personal ab"
    start = norm.text.index("numero")
    o_start, o_end = norm.span(start, start + len("numero"))
    assert original[o_start:o_end] == "NÚMERO"


@pytest.mark.parametrize(
    "text, hits",
    [
        ("meu ZAP pessoal", ["meu zap pessoal"]),
        ("méu zap péssoal", ["meu zap pessoal"]),  # accents folded both ways
        ("meu zap pessoalmente", []),  # whole words only
        ("xmeu zap pessoal", []),
        ("(meu zap pessoal)", ["meu zap pessoal"]),
    ],
)
def test_whole_word_matching(text: str, hits: list[str]):
    assert [h.term for h in KeywordIndex({"Meu zap pessoal"}).find(text)] == hits


def test_offsets_point_into_the_original_text():
    text = "Olá! Anota o MEU   Zap Pessoal: ..."
    (hit,) = KeywordIndex({"meu zap pessoal"}).find(text)
    assert text[hit.start:hit.end] == "MEU   Zap Pessoal"


def test_one_automaton_for_all_rules_and_decomposed_accents():
    index = KeywordIndex({"contraseña", "senha", "password"})
    text = "la contrasen\u0303a y la senha"  # 'ñ' typed as n + combining tilde
    assert sorted(h.term for h in index.find(text)) == ["contrasena", "senha"]


def test_exceptions_and_direction_scope(tmp_path: Path):
    (tmp_path / "p.yaml").write_text(
        "pack: {id: p, version: 1, title: P}\n"
        "lists: {official: [canal oficial]}\n"
        "rules:\n"
        "  - id: p.out\n    title: out\n    severity: high\n    category: c\n    direction: outbound\n"
        "    match: {any: [numero personal], none: [$official]}\n"
        "  - id: p.all\n    title: all\n    severity: low\n    category: c\n"
        "    match: {all: [cuenta, clabe]}\n"
    )
    scanner = Scanner(load_rules_dir(tmp_path))
    ids = lambda text, d: [h.rule.id for h in scanner.scan(text, d)]  # noqa: E731
    assert ids("mi número personal", "outbound") == ["p.out"]
    assert ids("mi número personal", "inbound") == []
    assert ids("por el canal oficial, no mi número personal", "outbound") == []
    assert ids("la cuenta y la CLABE", "inbound") == ["p.all"]
    assert ids("solo la cuenta", "inbound") == []


def test_every_shipped_rule_passes_its_own_examples():
    ruleset = load_rules_dir(PACKAGED_RULES)
    scanner = Scanner(ruleset)
    for _, rule in ruleset.rules():
        direction = "outbound" if rule.direction.value == "both" else rule.direction.value
        assert rule.examples.match, f"{rule.id} has no examples"
        for text in rule.examples.match:
            assert rule.id in [h.rule.id for h in scanner.scan(text, direction)], (rule.id, text)
        for text in rule.examples.no_match:
            assert rule.id not in [h.rule.id for h in scanner.scan(text, direction)], (rule.id, text)
