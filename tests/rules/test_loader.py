"""Rule packs load, and every kind of mistake is reported with file:line:column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rules import RulePackError, load_pack, load_rules_dir
from streams.settings import PACKAGED_RULES

GOOD = """\
pack:
  id: demo
  version: 2
  title: Demo
lists:
  words: [alpha, beta]
rules:
  - id: demo.words
    title: Words
    severity: low
    category: demo
    match:
      any: [$words]
"""


def write(tmp_path: Path, text: str, name: str = "pack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(RulePackError) as info:
        load_rules_dir(path)
    return [str(p) for p in info.value.problems]


def test_shipped_packs_load():
    ruleset = load_rules_dir(PACKAGED_RULES)
    assert "off_channel" in ruleset.versions()
    assert ruleset.rules()


def test_good_pack(tmp_path: Path):
    pack = load_pack(write(tmp_path, GOOD))
    assert pack.pack.version == "2"
    assert pack.terms_of("$words") == ["alpha", "beta"]


@pytest.mark.parametrize(
    "old, new, line, col, needle",
    [
        ("    severity: low\n", "    severity: low\n    colour: red\n", 11, 5, "unknown key 'colour'"),
        ("    severity: low\n", "    severity: urgent\n", 10, 15, "severity"),
        ("      any: [$words]\n", "      any: [$nouns]\n", 13, 13, "unknown list '$nouns'"),
        ("      any: [$words]\n", "      none: [$words]\n", 13, 7, "non-empty 'any' or 'all'"),
        ("  title: Demo\n", "  title: Demo\n  title: Again\n", 5, 3, "duplicate key 'title'"),
        ("    match:\n", "    match: [\n", 14, 1, "YAML syntax"),
        ("  - id: demo.words\n", "  - id: Demo Words!\n", 8, 9, "rules.0.id"),
    ],
)
def test_errors_name_file_line_and_column(tmp_path: Path, old: str, new: str, line: int, col: int, needle: str):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    found = problems(path)
    assert any(p.startswith(f"{path}:{line}:{col}:") and needle in p for p in found), found


def test_rule_id_is_named_in_the_error(tmp_path: Path):
    path = write(tmp_path, GOOD.replace("    severity: low\n", "    severity: urgent\n"))
    assert any("[rule demo.words]" in p for p in problems(path))


def test_duplicate_rule_ids_within_and_across_packs(tmp_path: Path):
    rule = GOOD.split("rules:\n", 1)[1]
    path = write(tmp_path, GOOD + rule)
    assert any("duplicate rule id" in p for p in problems(path))

    folder = tmp_path / "two"
    folder.mkdir()
    write(folder, GOOD, "a.yaml")
    write(folder, GOOD.replace("id: demo\n", "id: other\n"), "b.yaml")
    assert any("rule id also defined in pack 'demo'" in p for p in problems(folder))


def test_all_problems_of_all_files_in_one_pass(tmp_path: Path):
    write(tmp_path, GOOD.replace("severity: low", "severity: nope"), "a.yaml")
    write(tmp_path, GOOD.replace("id: demo\n", "id: b\n").replace("$words", "$missing"), "b.yaml")
    found = problems(tmp_path)
    assert any("a.yaml" in p for p in found) and any("b.yaml" in p for p in found)


def test_missing_path_is_an_error(tmp_path: Path):
    assert "no such file" in problems(tmp_path / "nope")[0]
