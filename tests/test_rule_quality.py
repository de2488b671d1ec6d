"""`chatwatch rules quality`: precision and recall of packs on a labelled corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatwatch.cli import cli
from chatwatch.detectors.rule_quality import CorpusError, read_corpus, score
from chatwatch.rules import SHIPPED_CORPUS, SHIPPED_PACKS, load_rules_dir

CORPUS = SHIPPED_CORPUS
PACK = """
pack: {id: q, version: 1, title: Quality test}
rules:
  - id: q.card
    title: Card asked
    severity: high
    category: payment_data
    scope: {sender: employee}
    match: {any: ["numero do cartao"]}
  - id: q.insult
    title: Insult
    severity: medium
    category: harassment
    match: {any: [idiota]}
  - id: q.marker
    title: A marker is never scored
    severity: info
    category: privacy
    alert: false
    match: {any: [privacidade]}
"""


def corpus(tmp_path: Path, *lines: dict | str) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    return path


def pack(tmp_path: Path) -> Path:
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "q.yaml").write_text(PACK)
    return tmp_path / "packs"


def test_precision_and_recall_per_family_rule_and_language(tmp_path: Path):
    lines = read_corpus(corpus(
        tmp_path,
        {"text": "Me passa o número do cartão?", "sender": "employee", "labels": ["payment_data"], "lang": "pt"},
        {"text": "Pode me mandar os dados do cartão?", "sender": "employee", "labels": ["payment_data"], "lang": "pt"},
        {"text": "Nunca pedimos o número do cartão", "sender": "employee", "labels": [], "lang": "pt"},
        {"text": "Que idiota", "sender": "customer", "labels": ["q.insult"], "lang": "pt"},
        {"text": "Nossa política de privacidade", "sender": "employee", "labels": [], "lang": "pt"},
        {"text": "Gracias", "sender": "customer", "labels": [], "lang": "es"},
    ))
    report = score(load_rules_dir(pack(tmp_path)), lines)
    card, insult = report.families["payment_data"], report.families["harassment"]
    assert (card.tp, card.fp, card.fn) == (1, 1, 1) and card.precision == 0.5 and card.recall == 0.5
    assert (insult.tp, insult.fp, insult.fn) == (1, 0, 0)
    assert "privacy" not in report.families  # the marker raises nothing, so it is not scored
    assert (report.overall.tp, report.overall.fp, report.overall.fn) == (2, 1, 1)
    assert report.rules["q.card"].precision == 0.5 and report.rules["q.insult"].recall == 1.0
    assert report.languages["pt"].recall == 2 / 3 and report.languages["es"].precision is None
    assert [(o.line.text, f) for o, f in report.misses] == [("Pode me mandar os dados do cartão?", "payment_data")]
    assert [(o.line.where.rsplit(":", 1)[1], f) for o, f in report.false_alarms] == [("3", "payment_data")]
    assert report.below(0.9, 0.9) == ["payment_data"] and report.below(0.5, 0.5) == []


def test_bad_lines_are_refused_with_file_and_line(tmp_path: Path):
    for bad, says in [('{"text": "x", "sender": "boss", "labels": []}', "sender"),
                      ('{"text": "x", "sender": "customer", "label": []}', r"unknown key\(s\) label"),
                      ("not json", "not JSON"),
                      ('{"text": "", "sender": "customer"}', "text")]:
        with pytest.raises(CorpusError, match=says) as caught:
            read_corpus(corpus(tmp_path, {"text": "ok", "sender": "customer", "labels": []}, bad))
        assert ":2:" in str(caught.value)
    lines = read_corpus(corpus(tmp_path, {"text": "Oi", "sender": "customer", "labels": ["bribary"]}))
    with pytest.raises(CorpusError, match="'bribary' is neither a family"):
        score(load_rules_dir(pack(tmp_path)), lines)


def test_the_cli_prints_tables_gates_on_the_bars_and_speaks_json(tmp_path: Path):
    path = corpus(tmp_path, {"text": "Me passa o número do cartão?", "sender": "employee", "labels": ["payment_data"]},
                  {"text": "Pode me mandar os dados do cartão?", "sender": "employee", "labels": ["payment_data"]})
    packs = pack(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(cli, ["rules", "quality", str(packs), "--corpus", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "payment_data" in shown.output and "Pode me mandar os dados do cartão?" in shown.output
    gated = runner.invoke(cli, ["rules", "quality", str(packs), "--corpus", str(path), "--min-recall", "0.85"])
    assert gated.exit_code == 1 and "below the bar" in gated.output
    doc = json.loads(runner.invoke(cli, ["rules", "quality", str(packs), "--corpus", str(path), "--json"]).output)
    assert doc["families"]["payment_data"]["recall"] == 0.5 and doc["misses"][0]["family"] == "payment_data"
    shipped = runner.invoke(cli, ["rules", "quality", str(SHIPPED_PACKS), "--json"])  # the shipped corpus
    assert shipped.exit_code == 0 and json.loads(shipped.output)["lines"] == len(read_corpus(SHIPPED_CORPUS))


def test_the_shipped_corpus_is_labelled_with_what_the_shipped_packs_know():
    lines = read_corpus(CORPUS)
    assert len(lines) >= 150 and {line.lang for line in lines} == {"es", "pt", "en"}
    report = score(load_rules_dir(SHIPPED_PACKS), lines)  # raises on a label no pack knows
    innocent = sum(1 for line in lines if not line.labels)
    assert 0.4 < innocent / len(lines) < 0.7  # near-misses and ordinary chat, not only violations
    assert report.overall.tp > 0
