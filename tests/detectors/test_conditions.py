"""Every `match:` key of the rule language is one condition class, and the scanner dispatches by class."""

from __future__ import annotations

from pathlib import Path

from chatwatch.detectors import conditions
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.rules.loader import load_rules_dir
from chatwatch.rules.model import Match


def test_every_match_key_has_exactly_one_condition_class():
    keys = [cls.key for cls in conditions.CONDITIONS]
    assert len(keys) == len(set(keys))
    assert set(keys) | conditions.NOT_CONDITIONS == set(Match.model_fields)


PACK = """
pack: {id: t, version: "1", title: t}
rules:
  - id: t.mixed
    title: mixed
    category: pii
    severity: high
    match:
      near: [{items: [cpf, manda], within: 3}]
      none: [teste]
      regex: ['\\d{3}\\.\\d{3}']
      pii: {types: [br_cpf]}
"""


def test_a_rule_of_several_conditions_fires_with_each_ones_evidence_in_checking_order(tmp_path: Path):
    (tmp_path / "t.yaml").write_text(PACK)
    scanner = Scanner(load_rules_dir(tmp_path))
    (hit,) = scanner.scan(Subject(text="manda o cpf 123.456.789-09", pii=("br_cpf",)))
    assert [e.kind for e in hit.evidence] == ["keyword", "keyword", "regex", "pii"]
    _, verdicts = scanner.explain(Subject(text="manda o cpf 123.456.789-09 teste", pii=("br_cpf",)))
    assert [v.reason for v in verdicts] == ["none: item 'teste' occurs"]
    _, verdicts = scanner.explain(Subject(text="manda o cpf 123.456.789-09", pii=()))
    assert [v.reason for v in verdicts] == ["pii: 0 finding(s) of ['br_cpf'], needs 1"]
    assert scanner.scan(Subject(text="manda o cpf 123.456.789-09", pii=())) == []
