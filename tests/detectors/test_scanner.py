"""The rule language evaluated: normalization, whole words, offsets, every condition, scope, exceptions."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.keywords import KeywordIndex, TermSpec
from chatwatch.detectors.normalize import deobfuscate, fold, normalize
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.rules import load_rules_dir

WED_NOON_UTC = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def scanner_for(tmp_path: Path, rules_yaml: str, lists_yaml: str = "{}") -> Scanner:
    (tmp_path / "p.yaml").write_text(
        f"pack: {{id: p, version: 1, title: P}}\nlists: {lists_yaml}\nrules:\n{textwrap.indent(textwrap.dedent(rules_yaml), '  ')}")
    return Scanner(load_rules_dir(tmp_path))


def fired(scanner: Scanner, text: str = "", **kw) -> list[str]:
    kw.setdefault("direction", "outbound")
    kw.setdefault("timestamp", WED_NOON_UTC)
    return [h.rule.id for h in scanner.scan(Subject(text=text, **kw))]


def index(*terms: str, **opts) -> KeywordIndex:
    return KeywordIndex([TermSpec(i, t, fold(t), None, opts.get("whole_word", True), opts.get("obfuscated", False))
                         for i, t in enumerate(terms)])


# --- normalization ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "  Mi  NÚMERO\tpersonal ＡＢ", "ﬁnal Straße", "e\u0301le\u0300ve", "São João\n\ncoração", "ǅemal ½ x\u2002y",
    "plain ascii  text ", "", "\u3000", "Ⅻ ㎏ ﬀ", "mañana ¿qué? ¡sí!", "emoji 😮 👍🏽 ok",
])
def test_fast_fold_equals_the_offset_keeping_normalizer(text: str):
    assert fold(text) == normalize(text).text


def test_offsets_map_back_to_the_original():
    original = "  Mi  NÚMERO\tpersonal ＡＢ"
    norm = normalize(original)
    start = norm.text.index("numero")
    assert original[slice(*norm.span(start, start + 6))] == "NÚMERO"


def test_deobfuscation():
    assert deobfuscate(fold("minha s.e.n.h.a é p4ssw0rd")).text == "minha senha e password"
    assert deobfuscate(fold("c o n t r a s e ñ a")).text == "contrasena"


# --- keyword index ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, hits", [
    ("meu ZAP pessoal", ["meu zap pessoal"]),
    ("méu zap péssoal", ["meu zap pessoal"]),
    ("meu zap pessoalmente", []),
    ("xmeu zap pessoal", []),
    ("(meu zap pessoal)", ["meu zap pessoal"]),
])
def test_whole_word_matching(text: str, hits: list[str]):
    assert [h.term for h in index("Meu zap pessoal").find(text).hits] == hits


def test_substring_terms_when_asked():
    assert [h.term for h in index("senha", whole_word=False).find("minhasenhasecreta").hits] == ["senha"]


def test_hit_offsets_point_into_the_original_text():
    text = "Olá! Anota o MEU   Zap Pessoal: ..."
    matches = index("meu zap pessoal").find(text)
    (hit,) = matches.hits
    start, end = matches.span(hit)
    assert text[start:end] == "MEU   Zap Pessoal"


def test_obfuscated_hits_only_for_terms_that_allow_it():
    text = "la s.e.n.h.a y la p4ssw0rd"
    assert sorted(h.term for h in index("senha", "password", obfuscated=True).find(text)) == ["password", "senha"]
    assert index("senha", "password").find(text).hits == []
    matches = index("password", obfuscated=True).find(text)
    (hit,) = matches.hits
    start, end = matches.span(hit)
    assert text[start:end] == "p4ssw0rd" and hit.obfuscated


# --- conditions ------------------------------------------------------------------------------

RULE = "- id: p.r\n  title: R\n  severity: high\n  category: c\n"


def test_any_all_none(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match: {all: [cuenta, clabe], none: [$official]}\n", "{official: [canal oficial]}")
    assert fired(s, "la cuenta y la CLABE") == ["p.r"]
    assert fired(s, "solo la cuenta") == []
    assert fired(s, "cuenta y clabe por el canal oficial") == []


def test_accent_strict_terms(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match: {any: [$l]}\n", "{l: [{term: año, accents: strict}]}")
    assert fired(s, "feliz AÑO nuevo") == ["p.r"]
    assert fired(s, "me duele el ano") == []


def test_near_within_and_order(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match: {near: [{items: [paga, propina], within: 2, ordered: true}]}\n")
    assert fired(s, "paga uma propina") == ["p.r"]
    assert fired(s, "paga que a gente pensa na propina") == []
    assert fired(s, "propina paga") == []


def test_count(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match: {count: [{items: [$w], at_least: 3}]}\n", "{w: [idiota, burro]}")
    assert fired(s, "idiota burro idiota") == ["p.r"]
    assert fired(s, "idiota burro") == []
    d = scanner_for(tmp_path, RULE + "  match: {count: [{items: [$w], at_least: 2, distinct: true}]}\n",
                    "{w: [idiota, burro]}")
    assert fired(d, "idiota idiota idiota") == [] and fired(d, "idiota burro") == ["p.r"]


def test_regex_is_re2_and_reports_its_span(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match: {regex: ['\\b\\d{4}-\\d{4}\\b']}\n")
    (hit,) = s.scan(Subject(text="código 1234-5678 ok", direction="inbound"))
    assert (hit.evidence[0].kind, hit.evidence[0].start, hit.evidence[0].end) == ("regex", 7, 16)
    assert fired(s, "(a+)+" * 3 + "a" * 5000) == []  # linear time: returns at once


def test_pii_hook(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match: {pii: {types: [br_cpf, payment_card], at_least: 2}}\n")
    assert fired(s, "x", pii=("br_cpf", "payment_card")) == ["p.r"]
    assert fired(s, "x", pii=("br_cpf", "email")) == []


def test_exception_phrases_cancel_only_the_hits_they_cover(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match: {any: [senha]}\n  exceptions: {phrases: [senha do wifi]}\n")
    assert fired(s, "a senha do wifi é 1234") == []
    assert fired(s, "a senha do wifi é 1234 e a senha do banco é 99") == ["p.r"]


def test_exception_numbers_and_teams(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match: {any: [senha]}\n  exceptions: {numbers: ['5511'], teams: [security]}\n")
    assert fired(s, "senha", numbers=("5511",)) == []
    assert fired(s, "senha", team="security") == []
    assert fired(s, "senha", numbers=("5522",), team="sales") == ["p.r"]


def test_scope_direction_numbers_teams(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  scope: {sender: customer, numbers: ['106540352242922'], teams: [vip]}\n"
                                     "  match: {any: [senha]}\n")
    ok = {"direction": "inbound", "numbers": ("106540352242922",), "team": "vip"}
    assert fired(s, "senha", **ok) == ["p.r"]
    assert fired(s, "senha", **{**ok, "direction": "outbound"}) == []
    assert fired(s, "senha", **{**ok, "numbers": ("1",)}) == []
    assert fired(s, "senha", **{**ok, "team": None}) == []


def test_outside_hours_in_the_rules_timezone(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  scope: {outside_hours: {timezone: America/Mexico_City, start: '09:00', "
                                     "end: '18:00'}}\n  match: {always: true}\n")
    mx = lambda h, d=18: datetime(2026, 11, d, h, 0, tzinfo=UTC)
    assert fired(s, timestamp=mx(16)) == []  # 10:00 local, a Wednesday
    assert fired(s, timestamp=mx(14)) == ["p.r"]  # 08:00 local
    assert fired(s, timestamp=mx(16, 21)) == ["p.r"]  # Saturday


def test_attachment_predicates(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  match:\n    attachment:\n"
                                     "      - {extensions: [exe], max_size: 1MB}\n"
                                     "      - {double_extension: true}\n"
                                     "      - {mime_types: ['application/vnd.ms-*'], filename_globs: ['*.xls?']}\n")
    att = lambda name, mime=None, size=None: (AttachmentInfo(name, mime, size),)
    assert fired(s, attachments=att("a.exe", size=10)) == ["p.r"]
    assert fired(s, attachments=att("a.exe", size=2_000_000)) == []
    assert fired(s, attachments=att("nota.pdf.scr")) == ["p.r"]
    assert fired(s, attachments=att("m.xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12")) == ["p.r"]
    assert fired(s, attachments=att("m.xlsx", "application/pdf")) == []
    assert fired(s, "a.exe") == []


def test_explain_says_which_condition_failed(tmp_path: Path):
    s = scanner_for(tmp_path, RULE + "  scope: {sender: employee}\n  match: {all: [cuenta, clabe]}\n")
    hits, (verdict,) = s.explain(Subject(text="la cuenta", direction="outbound"))
    assert [h.term for h in hits] == ["cuenta"]
    assert hits.span(hits.hits[0]) == (3, 9)
    assert not verdict.fired and "clabe" in verdict.reason
    _, (verdict,) = s.explain(Subject(text="cuenta clabe", direction="inbound"))
    assert verdict.reason.startswith("scope:")


def test_cost_does_not_grow_with_untouched_rules(tmp_path: Path):
    rules = "".join(f"- id: p.r{i}\n  title: R\n  severity: low\n  category: c\n  match: {{any: [palavra{i}]}}\n"
                    for i in range(300))
    s = scanner_for(tmp_path, rules)
    assert s.term_count == 300
    assert fired(s, "nada aqui") == [] and fired(s, "uma palavra7 só") == ["p.r7"]


@pytest.mark.parametrize(("text", "found"), [
    ("pedido 12345, hola! me passa a s3nh4", ["senha"]),  # numbers and "!" elsewhere do not hide it
    ("$enha: 4 1 0", ["senha"]),
    ("minha s.e.n.h.a", ["senha"]),
    ("pedido 12345 chegou! 10h", []),  # no leet next to a letter, nothing spelled out: no second pass needed
])
def test_obfuscated_terms_are_found_next_to_plain_numbers(text, found):
    assert sorted(h.term for h in index("senha", obfuscated=True).find(text)) == found


# --- sensitive matches (redact) --------------------------------------------------------------

def test_redact_match_masks_every_regex_match_and_evidence_never_holds_the_value(tmp_path):
    from chatwatch.detectors.redaction import redact

    s = scanner_for(tmp_path, """
        - id: p.secret
          title: t
          severity: high
          category: credentials
          match: {any: [clave], regex: ['[A-Za-z]*[0-9#!][A-Za-z0-9#!]*']}
          redact: match
          redact_as: secret
        """)
    text = "usuario juan99, la clave es Tigre99# ok"
    (hit,) = s.scan(Subject(text=text, direction="outbound", timestamp=WED_NOON_UTC))
    assert [text[m.start:m.end] for m in hit.masked] == ["juan99", "Tigre99#"]  # every match, not only the first
    assert redact(text, hit.masked) == "usuario [SECRET], la clave es [SECRET] ok"
    assert all("Tigre99#" not in (e.term or "") for e in hit.evidence)


def test_a_redact_list_masks_its_hits_and_evidence_names_the_list(tmp_path):
    s = scanner_for(tmp_path, """
        - id: p.codes
          title: t
          severity: high
          category: leaks
          match: {any: [$codes]}
        """, lists_yaml="{codes: {terms: [ALFA-2291, BRAVO-7713], redact: true}}")
    text = "el proyecto ALFA-2291 sale mañana"
    (hit,) = s.scan(Subject(text=text, direction="outbound", timestamp=WED_NOON_UTC))
    assert [text[m.start:m.end] for m in hit.masked] == ["ALFA-2291"]
    assert [e.term for e in hit.evidence] == ["$codes"]


def test_redact_match_needs_a_regex(tmp_path):
    from chatwatch.rules.errors import RulePackError

    with pytest.raises(RulePackError, match="redact: match"):
        scanner_for(tmp_path, """
            - id: p.x
              title: t
              severity: high
              category: c
              match: {any: [clave]}
              redact: match
            """)


def test_overlapping_spans_are_merged_so_no_tail_is_left_in_clear():
    from chatwatch.detectors.redaction import redact
    from chatwatch.detectors.scanner import Masked

    text = "la clave es Centro2026! ya"
    spans = [Masked("person", 12, 18), Masked("secret", 12, 23)]  # NER saw "Centro", the rule the whole secret
    assert redact(text, spans) == "la clave es [SECRET] ya"
    assert "2026" not in redact(text, spans, "mask")  # a secret keeps no tail in mask mode


def test_a_redact_list_is_masked_even_when_another_rule_fires(tmp_path):
    s = scanner_for(tmp_path, """
        - id: p.codes
          title: t
          severity: high
          category: leaks
          scope: {sender: employee}
          match: {near: [{items: [$codes, te paso], within: 2}]}
        - id: p.urgent
          title: t
          severity: low
          category: other
          match: {any: [urgente]}
        """, lists_yaml="{codes: {terms: [ALFA-2291], redact: true}}")
    text = "urgente: el proyecto ALFA-2291 sale hoy"
    hits, masked = s.scan_masked(Subject(text=text, direction="inbound", timestamp=WED_NOON_UTC))
    assert [h.rule.id for h in hits] == ["p.urgent"]
    assert [text[m.start:m.end] for m in masked] == ["ALFA-2291"]


def test_business_numbers_match_however_the_pack_writes_them(tmp_path):
    s = scanner_for(tmp_path, """
        - id: p.mx
          title: t
          severity: low
          category: c
          scope: {numbers: ["+52 55 1234-5678"]}
          match: {any: [hola]}
          exceptions: {numbers: ["+55 11 4004 0000"]}
        """)
    assert fired(s, "hola", numbers=("106540352242922", "525512345678")) == ["p.mx"]
    assert fired(s, "hola", numbers=("525512345678", "551140040000")) == []  # the exception, written alike
    assert fired(s, "hola", numbers=("106540352242922", "551140040000")) == []
