"""`chatwatch pii detect`: what the detector would flag, one JSON line per input.

Input: `--text`, or JSON lines with a `text` field (optional `lang`, `region`, `number`) from a file
or stdin. Phones are read in the business number's country, as the worker reads them: `--region`, or
the country of `--number` (the business display number). Values are redacted unless `--show-values`;
that is how analysts look and how the evaluation runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.progress import Progress

from chatwatch.cli.root import cli
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.pii.contact import region_of
from chatwatch.detectors.pii.detector import PiiInput
from chatwatch.detectors.redaction import redact

pii_cli = typer.Typer(no_args_is_help=True, help="Detect PII the way the worker does.")
cli.add_typer(pii_cli, name="pii")
BATCH = 256


@pii_cli.command("detect")
def detect(
    source: Path | None = typer.Argument(None, help="JSON-lines file with a 'text' field; '-' or omitted: stdin."),
    text: str | None = typer.Option(None, "--text", "-t", help="Detect in this text instead."),
    lang: str | None = typer.Option(None, help="es, pt or en (default: guessed per message)."),
    region: str | None = typer.Option(None, help="ISO country for phone numbers, e.g. MX, BR, ES."),
    number: str | None = typer.Option(None, "--number", help="Business display number; its country is the region."),
    ner: bool = typer.Option(True, "--ner/--no-ner", help="Run the spaCy NER models too."),
    show_values: bool = typer.Option(False, "--show-values", help="Print the raw values (handle with care)."),
    progress: bool = typer.Option(False, "--progress", help="Show a progress bar on stderr (files)."),
) -> None:
    detector = PiiDetector(PiiConfig(ner=ner))
    region = region or region_of(number)
    for lang_name, model in detector.ner.missing.items():
        typer.echo(f"warning: NER model {model!r} for {lang_name} is not installed; patterns only", err=True)
    if text is not None:
        items = [PiiInput(text, lang, region)]
    elif source is None or str(source) == "-":
        items = list(_read(sys.stdin, lang, region))
    else:
        with source.open(encoding="utf-8") as stream:
            items = list(_read(stream, lang, region))
    out = sys.stdout
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("detecting", total=len(items))
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            for item, found in zip(chunk, detector.detect_many(chunk, use_ner=ner), strict=True):
                record = {"lang": detector.language(item), "findings": [_finding(f, item.text, show_values) for f in found],
                          "redacted": redact(item.text, found)}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            bar.advance(task, len(chunk))


def _finding(f, text: str, show_values: bool) -> dict:
    d = f.as_dict()
    if show_values:
        d["value"] = text[f.start:f.end]
    return d


def _read(stream, lang: str | None, region: str | None):
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            yield PiiInput(str(doc["text"]), doc.get("lang") or lang,
                           doc.get("region") or region_of(doc.get("number")) or region)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise typer.BadParameter(f"line {n}: expected a JSON object with a 'text' field ({type(exc).__name__})") from None
