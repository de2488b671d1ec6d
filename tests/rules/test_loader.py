"""Rule packs load, and every kind of mistake is reported with file:line:column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chatwatch.rules import SHIPPED_PACKS, RulePackError, load_pack, load_rules_dir

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
    ruleset = load_rules_dir(SHIPPED_PACKS)
    assert "off_channel" in ruleset.versions()
    assert ruleset.rules()


def test_good_pack(tmp_path: Path):
    pack = load_pack(write(tmp_path, GOOD))
    assert pack.pack.version == "2"
    assert pack.term_list("words").terms == ["alpha", "beta"]


@pytest.mark.parametrize(
    "old, new, line, col, needle",
    [
        ("    severity: low\n", "    severity: low\n    colour: red\n", 11, 5, "unknown key 'colour'"),
        ("    severity: low\n", "    severity: urgent\n", 10, 15, "severity"),
        ("      any: [$words]\n", "      any: [$nouns]\n", 13, 13, "unknown list '$nouns'"),
        ("      any: [$words]\n", "      none: [$words]\n", 13, 7, "empty condition"),
        ("      any: [$words]\n", "      regex: ['(a)\\1']\n", 13, 15, "invalid RE2 regex `(a)\\1`: invalid escape sequence: \\1"),
        ("      any: [$words]\n", "      any: [$other.words]\n", 13, 13, "not in this pack's includes"),
        ("    severity: low\n", "    severity: low\n    scope: {outside_hours: {timezone: Mars/Olympus}}\n", 11, 39,
         "unknown timezone"),
        ("      any: [$words]\n", "      attachment: {sha256: [abc]}\n", 13, 19, "64 hex digits"),
        ("      any: [$words]\n", "      any: [$words]\n      always: true\n", 13, 7, "'always' cannot be combined"),
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


def test_yaml_1_1_traps_are_avoided(tmp_path: Path):
    """'no' is a word in Spanish and Portuguese, not False; '09:00' is a time, not 540."""
    text = GOOD.replace("words: [alpha, beta]", "words: [no, si, on, off]").replace(
        "    severity: low\n", "    severity: low\n    scope: {outside_hours: {timezone: UTC, start: 09:00, end: 18:30}}\n")
    pack = load_pack(write(tmp_path, text))
    assert pack.term_list("words").terms == ["no", "si", "on", "off"]
    hours = pack.rules[0].scope.outside_hours
    assert (hours.start.hour, hours.start.minute, hours.end.hour, hours.end.minute) == (9, 0, 18, 30)


def test_union_errors_point_at_the_precise_field(tmp_path: Path):
    text = GOOD.replace("      any: [$words]\n", "      any: [$words]\n    examples:\n      match:\n"
                        "        - {attachments: [{sha256: 00}]}\n")
    found = problems(write(tmp_path, text))
    assert len(found) == 1 and "examples.match.0.attachments.0.sha256" in found[0] and ":16:35:" in found[0]


def test_lists_of_included_packs(tmp_path: Path):
    write(tmp_path, "pack: {id: base, version: 1, title: B}\nlists: {secret: [senha, clave]}\n", "base.yaml")
    write(tmp_path, GOOD.replace("id: demo\n", "id: user\n").replace("lists:\n  words: [alpha, beta]\n",
          "includes: [base]\n").replace("$words", "$base.secret"), "user.yaml")
    ruleset = load_rules_dir(tmp_path)
    user = next(p for p in ruleset.packs if p.pack.id == "user")
    assert ruleset.term_list(user, "$base.secret").terms == ["senha", "clave"]
    (tmp_path / "base.yaml").unlink()
    assert any("includes pack 'base', which is not loaded" in p for p in problems(tmp_path))


def test_every_shipped_rule_has_at_least_five_examples_each_way():
    for pack in load_rules_dir(SHIPPED_PACKS).packs:
        for rule in pack.rules:
            assert len(rule.examples.match) >= 5 and len(rule.examples.no_match) >= 5, rule.id


def test_every_shipped_rule_passes_its_examples():
    from chatwatch.detectors.rule_tests import run_examples

    failures = [(r.rule_id, r.example.text, r.reason) for r in run_examples(load_rules_dir(SHIPPED_PACKS)) if not r.ok]
    assert not failures


def test_json_schema_is_current_and_accepts_the_shipped_packs():
    import json

    import jsonschema
    import yaml

    from chatwatch.rules.json_schema import SCHEMA_FILE, render

    assert SCHEMA_FILE.read_text() == render(), "run: python -m chatwatch.rules.json_schema"
    schema = json.loads(render())
    for path in sorted(SHIPPED_PACKS.glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


CONVERSATION = """
pack: {id: sla, version: 1, title: SLA}
conversation:
  - id: sla.unanswered
    title: Customer left unanswered
    severity: medium
    category: service
    absence: {after: {from: customer}, expect: {from: employee}, within: {minutes: 15}}
  - id: sla.off_channel_after_complaint
    title: Off-channel after a complaint
    severity: high
    category: off_channel
    sequence: {first: {rule: WHAT}, then: {rule: off_channel.personal_contact}, within: {messages: 6}}
"""


def test_conversation_rules_load_and_their_message_rules_must_exist(tmp_path: Path):
    import shutil

    folder = tmp_path / "packs"
    shutil.copytree(SHIPPED_PACKS, folder)
    write(folder, CONVERSATION.replace("WHAT", "off_channel.personal_contact"), "sla.yaml")
    ruleset = load_rules_dir(folder)
    sla = next(p for p in ruleset.packs if p.pack.id == "sla")
    assert [r.kind for r in sla.conversation] == ["absence", "sequence"]
    write(folder, CONVERSATION.replace("WHAT", "complaints.nonexistent"), "sla.yaml")
    with pytest.raises(RulePackError) as info:
        load_rules_dir(folder)
    assert "complaints.nonexistent" in str(info.value) and "sla.yaml" in str(info.value)
    write(folder, CONVERSATION.replace("    absence:", "    rate: {event: {from: employee}, more_than: 5, per: day}\n"
                                       "    absence:"), "sla.yaml")
    with pytest.raises(RulePackError) as info:
        load_rules_dir(folder)
    assert "exactly one of absence, accumulation, sequence, rate" in str(info.value)
