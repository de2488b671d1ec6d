"""`chatwatch rules validate | test | explain`: what compliance analysts run before a rollout."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
import yaml
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from chatwatch.cli.root import cli, console, err
from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.normalize import fold
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.rule_quality import CorpusError, Report, Score, read_corpus, score
from chatwatch.detectors.rule_tests import DEFAULT_TIME, explain_conversation, run_conversation_examples, run_examples
from chatwatch.detectors.scanner import Scanner, Subject
from chatwatch.rules import SHIPPED_CORPUS, RulePackError, RuleSet, load_rules_dir
from chatwatch.rules.conversation import ConversationExample

rules_cli = typer.Typer(no_args_is_help=True, help="Validate, test and explain rule packs.")
cli.add_typer(rules_cli, name="rules")
PATHS = typer.Argument(..., help="Pack files or folders (a folder loads every *.yaml under it).")


def _load(paths: list[Path]) -> RuleSet:
    try:
        return load_rules_dir(*paths)
    except RulePackError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        err.print(f"{len(exc.problems)} problem(s)")
        raise typer.Exit(1) from None


@rules_cli.command("validate")
def validate(paths: list[Path] = PATHS) -> None:
    """Check packs; print every problem as file:line:column and exit 1 if there is one."""
    ruleset = _load(paths)
    scanner = Scanner(ruleset)
    for pack in ruleset.packs:
        extra = f" + {len(pack.conversation)} conversation rule(s)" if pack.conversation else ""
        console.print(f"ok  {pack.pack.id}@{pack.pack.version}  {len(pack.rules)} rule(s){extra}")
    console.print(f"{len(ruleset.rules())} enabled rule(s), {len(ruleset.conversation_rules())} conversation rule(s), "
                  f"{scanner.term_count} distinct term(s)")


@rules_cli.command("test")
def test(paths: list[Path] = PATHS, verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run every rule's examples (match / no_match; conversation rules: fires / silent scripts); report
    failures per rule; exit 1 on any."""
    ruleset = _load(paths)
    results = run_examples(ruleset) + run_conversation_examples(ruleset)
    by_rule: dict[str, list] = {}
    for r in results:
        by_rule.setdefault(r.rule_id, []).append(r)
    for rule_id, rs in by_rule.items():
        failed = [r for r in rs if not r.ok]
        mark = "[red]FAIL[/]" if failed else "[green]ok[/]  "
        console.print(f"{mark} {rule_id}: {len(rs) - len(failed)}/{len(rs)}")
        for r in (rs if verbose else failed):
            want = "should match" if r.expected else "should not match"
            console.print(f"      {'✗' if not r.ok else '✓'} {want}: {r.example.text!r} — {r.reason}",
                          markup=False, highlight=False)
    failures = sum(not r.ok for r in results)
    console.print(f"{len(results) - failures} passed, {failures} failed")
    raise typer.Exit(1 if failures else 0)


@rules_cli.command("explain")
def explain(
    paths: list[Path] = PATHS,
    text: str = typer.Option("", "--text", "-t", help="The message text."),
    sender: str = typer.Option("employee", help="employee (outbound) or customer (inbound)."),
    attachment: list[str] = typer.Option([], "--attachment", "-a",
                                         help="name[:mime[:size]], e.g. 'factura.pdf.exe:application/x-msdownload:2048'."),
    at: datetime = typer.Option(DEFAULT_TIME.isoformat(), "--at", help="When it was sent (ISO 8601, with offset)."),
    number: str = typer.Option("", help="Business phone number id or display number."),
    team: str = typer.Option("", help="Sender's team."),
    only_fired: bool = typer.Option(False, "--fired", help="Show only the rules that fired."),
    conversation: Path | None = typer.Option(None, "--conversation", "-c", help="A scripted conversation (YAML: "
                                             "a list of {at, from, text} lines, or {lines: [...], until: HH:MM, number: N}, N the business "
                                             "number: its calendar and phone region) "
                                             "to play through the conversation rules instead of one message."),
    as_json: bool = typer.Option(False, "--json", help="With --conversation: one JSON document (for CI logs and "
                                                       "scripts; tables are cut at the terminal's width)."),
) -> None:
    """Show the normalized text, every hit with offsets, and for each rule why it fired or did not.
    With --conversation: each line's message rules and PII, what conversation rules fired when, and
    where each conversation rule stands at the end."""
    if conversation is not None:
        _explain_conversation(_load(paths), conversation, as_json)
        raise typer.Exit(0)
    scanner = Scanner(_load(paths))
    pii = PiiDetector(PiiConfig(ner=False)).patterns(text)
    subject = Subject(text=text, direction="outbound" if sender == "employee" else "inbound", timestamp=at,
                      numbers=(number,) if number else (), team=team or None,
                      attachments=tuple(_attachment(a) for a in attachment), pii=tuple(f.type for f in pii))
    hits, verdicts = scanner.explain(subject)
    if pii:
        console.print("pii:        " + ", ".join(f"{f.type} [{f.start}:{f.end}] ({f.validator})" for f in pii))
    console.print(Text("normalized: ") + Text(fold(text), style="cyan"))
    spans = [(h, *hits.span(h)) for h in hits]
    highlighted = Text(text)
    for _, start, end in spans:
        highlighted.stylize("bold reverse", start, end)
    console.print(Text("original:   ") + highlighted)
    table = Table(title="hits (offsets in the original text)")
    for col in ("term", "start", "end", "original", "obfuscated"):
        table.add_column(col)
    for h, start, end in spans:
        table.add_row(h.term, str(start), str(end), text[start:end], "yes" if h.obfuscated else "")
    console.print(table)
    verdict_table = Table(title="rules")
    for col in ("rule", "severity", "fired", "why"):
        verdict_table.add_column(col)
    for v in verdicts:
        if only_fired and not v.fired:
            continue
        verdict_table.add_row(v.rule.id, v.rule.severity.value, "[green]yes[/]" if v.fired else "no", v.reason)
    console.print(verdict_table)
    raise typer.Exit(0)


SCRIPT_KEYS = {"lines", "until", "number"}  # number: the business number (its calendar, its phone region)


def _explain_conversation(ruleset: RuleSet, path: Path, as_json: bool = False) -> None:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc = doc if isinstance(doc, dict) else {"lines": doc}
        if unknown := set(doc) - SCRIPT_KEYS:
            raise ValueError(f"unknown key(s) {sorted(unknown)}; a script has {sorted(SCRIPT_KEYS)}")
        script = [ConversationExample.model_validate(line) for line in doc.get("lines") or []]
    except (OSError, yaml.YAMLError, ValidationError, TypeError, ValueError) as exc:
        err.print(f"{path}: not a conversation script: {exc}", markup=False)
        raise typer.Exit(1) from None
    if not script:
        err.print(f"{path}: the script has no lines")
        raise typer.Exit(1)
    steps, standing = explain_conversation(ruleset, script, doc.get("until"),
                                           str(doc["number"]) if doc.get("number") else None)
    if as_json:
        typer.echo(json.dumps(_conversation_json(ruleset, steps, standing), ensure_ascii=False, indent=2))
        return
    table = Table(title="conversation, line by line")
    for col in ("at", "from", "text", "message rules", "pii", "conversation alerts"):
        table.add_column(col)
    for step in steps:
        line, seen = step.line, step.seen
        fired = "\n".join(f"{f.rule.id}: {f.why}" for f in step.fired)
        table.add_row(step.at.strftime("%a %H:%M"), line.sender if line else "", line.text if line else "(clock runs on)",
                      ", ".join(sorted(seen.rules)) if seen else "", ", ".join(sorted(seen.pii)) if seen else "", fired)
    console.print(table)
    rules_table = Table(title="conversation rules at the end")
    for col in ("rule", "severity", "fired", "state"):
        rules_table.add_column(col)
    fired_ids = {f.rule.id for s in steps for f in s.fired}
    for _, rule in ruleset.conversation_rules():
        rules_table.add_row(rule.id, rule.severity.value, "[green]yes[/]" if rule.id in fired_ids else "no",
                            standing[rule.id])
    console.print(rules_table)


def _conversation_json(ruleset: RuleSet, steps: list, standing: dict[str, str]) -> dict:
    """Each line with its date and time, what fired on it and which script lines made it fire."""
    def line_of(message_id: str) -> int | None:
        return int(message_id.rsplit("-", 1)[1]) if message_id.startswith("example-") else None

    lines = [{"line": n + 1 if step.line else None, "at": step.at.isoformat(),
              "from": str(step.line.sender) if step.line else None, "text": step.line.text if step.line else None,
              "clock_runs_on": step.line is None,
              "message_rules": sorted(step.seen.rules) if step.seen else [],
              "pii": sorted(step.seen.pii) if step.seen else [],
              "conversation_alerts": [{"rule": f.rule.id, "why": f.why, "at": f.at.isoformat(),
                                       "because_of_lines": [line_of(e.message_id) for e in f.evidence]}
                                      for f in step.fired]} for n, step in enumerate(steps)]
    fired = {f.rule.id for s in steps for f in s.fired}
    rules = [{"rule": rule.id, "kind": rule.kind, "severity": rule.severity.value, "fired": rule.id in fired,
              "state": standing[rule.id]} for _, rule in ruleset.conversation_rules()]
    return {"lines": lines, "conversation_rules": rules}


def _attachment(spec: str) -> AttachmentInfo:
    name, _, rest = spec.partition(":")
    mime, _, size = rest.partition(":")
    return AttachmentInfo(filename=name or None, mime_type=mime or None, size=int(size) if size else None)


@rules_cli.command("quality")
def quality(
    paths: list[Path] = PATHS,
    corpus: list[Path] | None = typer.Option(None, "--corpus", help="Labelled chat lines (JSON lines: text, "
                                             "sender, labels); may be given more than once. Default: the corpus "
                                             "shipped with the packs."),
    worst: int = typer.Option(10, help="How many misses and false alarms to list."),
    min_precision: float = typer.Option(0.0, help="Exit 1 if a family's precision is below this."),
    min_recall: float = typer.Option(0.0, help="Exit 1 if a family's recall is below this."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of tables."),
) -> None:
    """Precision and recall of the packs on a labelled corpus, per family, rule and language, with the
    lines they miss and the innocent lines they alert on. Labels are families (rule categories) or rule
    ids; a line with none is innocent."""
    ruleset = _load(paths)
    try:
        lines = [line for path in corpus or [SHIPPED_CORPUS] for line in read_corpus(path)]
        report = score(ruleset, lines)
    except (CorpusError, OSError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None
    failing = report.below(min_precision, min_recall)
    if as_json:
        console.print_json(json.dumps(_quality_doc(report, worst, failing), ensure_ascii=False))
    else:
        _quality_tables(report, worst, failing)
    raise typer.Exit(1 if failing else 0)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _score_doc(s: Score, recall: bool = True) -> dict:
    return {"tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": s.precision, "recall": s.recall if recall else None}


def _quality_doc(report: Report, worst: int, failing: list[str]) -> dict:
    def line(outcome, family: str) -> dict:
        return {"where": outcome.line.where, "text": outcome.line.text, "sender": outcome.line.sender,
                "family": family, "labels": list(outcome.line.labels), "fired": sorted(outcome.rules)}

    return {"lines": report.lines, "overall": _score_doc(report.overall),
            "families": {k: _score_doc(v) for k, v in report.families.items()},
            "rules": {k: _score_doc(v, k in report.named) for k, v in report.rules.items()},
            "languages": {k: _score_doc(v) for k, v in sorted(report.languages.items())},
            "misses": [line(o, f) for o, f in report.misses[:worst]],
            "false_alarms": [line(o, f) for o, f in report.false_alarms[:worst]],
            "below_bar": failing}


def _quality_tables(report: Report, worst: int, failing: list[str]) -> None:
    for title, scores in (("family", report.families), ("language", dict(sorted(report.languages.items()))),
                          ("rule", report.rules)):
        table = Table(title=f"by {title}")
        for column in (title, "precision", "recall", "tp", "fp", "fn"):
            table.add_column(column, justify="left" if column == title else "right")
        for name, s in scores.items():
            if s.tp + s.fp + s.fn == 0:
                continue
            mark = " [red](below the bar)[/]" if name in failing else ""
            recall = s.recall if scores is not report.rules or name in report.named else None
            table.add_row(Text(name) + Text.from_markup(mark), _ratio(s.precision), _ratio(recall),
                          str(s.tp), str(s.fp), str(s.fn))
        console.print(table)
    o = report.overall
    console.print(f"{report.lines} line(s); overall precision {_ratio(o.precision)}, recall {_ratio(o.recall)}")
    for title, found in (("missed", report.misses), ("false alarms", report.false_alarms)):
        if found:
            console.print(f"{title}: {len(found)}" + (f"; the first {min(worst, len(found))}:" if worst > 0 else ""))
        for outcome, family in found[:worst]:
            fired = ", ".join(sorted(outcome.rules)) or "nothing"
            console.print(f"  {outcome.line.where}  [{family}] {outcome.line.sender}: {outcome.line.text!r} "
                          f"(fired: {fired})", markup=False, highlight=False)
