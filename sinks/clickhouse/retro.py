"""Retro-scan: run rule packs over archived messages (or any canonical messages) offline, to see
what a new pack would have flagged before it is rolled out.

The archive keeps text redacted by default, so the PII types found when a message was first
scanned (its `pii_types` column) stand in for the values: a PII rule fires on them as it did
live. Messages whose text was archived raw are run through the PII patterns again.
"""

from __future__ import annotations

import heapq
import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatwatch.detectors.alerts import SNIPPET_CHARS, to_alert
from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.redaction import mask_phone, redact, stored_spans
from chatwatch.detectors.scanner import RuleHit, Scanner, Subject
from chatwatch.records import Message, Origin
from chatwatch.rules.loader import RuleSet, load_rules_dir
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.queries import quote
from chatwatch.sinks.clickhouse.rows import alert_rows, utc

COLUMNS = ("message_id", "conversation_key", "business_phone_number_id", "business_display_number",
           "customer_wa_id", "direction", "timestamp", "text", "text_mode", "attachment_mime", "attachment_ext",
           "attachment_size", "attachment_sha256", "pii_types", "team", "employee_id", "type", "masked")
SELECTED = tuple("toUnixTimestamp64Milli(timestamp) AS timestamp_ms" if c == "timestamp" else c for c in COLUMNS)
PAGE = 50_000
REPORTED = ("conversation_key", "customer_wa_id", "timestamp_ms", "timestamp", "text")  # what an example shows
EXAMPLES = 3


@dataclass
class RuleTally:
    rule_id: str
    title: str
    pack_id: str
    severity: str
    hits: int = 0
    conversations: set[str] = field(default_factory=set)
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # (time, customer masked, redacted text)


@dataclass
class ChunkTally:
    """One chunk's hits, tallied where it was scanned (a worker): what travels back is per rule, not per hit."""

    hits: dict[str, int] = field(default_factory=dict)
    conversations: dict[str, set[str]] = field(default_factory=dict)
    examples: dict[str, list[dict]] = field(default_factory=dict)  # up to EXAMPLES rows' report fields per rule
    fired: list[tuple[int, list[str], str]] = field(default_factory=list)  # (row, rule ids, text as shown), only
    # when alerts are kept


@dataclass
class RetroReport:
    scanned: int = 0
    since: datetime | None = None
    until: datetime | None = None
    rules: dict[str, RuleTally] = field(default_factory=dict)
    hits: list[tuple[dict, RuleHit]] = field(default_factory=list)  # kept only when alerts are to be written

    def merge(self, chunk: ChunkTally, by_id: dict[str, tuple[Any, Any]]) -> None:
        for rule_id, n in chunk.hits.items():
            tally = self.rules.get(rule_id)
            if tally is None:
                pack, rule = by_id[rule_id]
                tally = self.rules[rule_id] = RuleTally(rule_id, rule.title, pack.pack.id, rule.severity.value)
            tally.hits += n
            tally.conversations |= chunk.conversations[rule_id]
            for row in chunk.examples.get(rule_id, ())[:EXAMPLES - len(tally.examples)]:
                when = _time(row)
                tally.examples.append((when.isoformat(" ", "seconds") if when else "",
                                       mask_phone(row["customer_wa_id"]), row["text"][:200]))

    def table(self) -> list[dict]:
        rows = sorted(self.rules.values(), key=lambda t: (-t.hits, t.rule_id))
        return [{"rule": t.rule_id, "pack": t.pack_id, "severity": t.severity, "hits": t.hits,
                 "conversations": len(t.conversations),
                 "per_1000_messages": round(1000 * t.hits / self.scanned, 2) if self.scanned else 0.0}
                for t in rows]

    def examples(self) -> list[dict]:
        top = heapq.nlargest(20, self.rules.values(), key=lambda t: t.hits)
        return [{"rule": t.rule_id, "time": when, "customer": who, "text (as archived)": text}
                for t in top for when, who, text in t.examples]


def archived(client: Client, since: datetime, until: datetime, team: str | None = None,
             page: int = PAGE) -> Iterator[Any]:
    """Pages of archived messages in [since, until), oldest first, as Arrow tables (keyset paging: no
    OFFSET scans). Rows become Python objects only where they are scanned: in the worker processes."""
    where = [f"timestamp >= '{utc(since)}'", f"timestamp < '{utc(until)}'"]
    if team:
        where.append(f"team = '{quote(team)}'")
    after = ("1970-01-01 00:00:00.000", "")
    while True:
        table = client.query_arrow(  # times as epoch ms: Arrow -> Python datetimes cost more than the query
            f"SELECT {', '.join(SELECTED)}, toString(timestamp) AS at FROM {client.database}.messages FINAL "
            f"WHERE {' AND '.join(where)} AND (timestamp, message_id) > ('{after[0]}', '{quote(after[1])}') "
            f"ORDER BY timestamp, message_id LIMIT {int(page)}")
        if table is None or table.num_rows == 0:
            return
        yield table
        after = (table.column("at")[-1].as_py(), table.column("message_id")[-1].as_py())
        if table.num_rows < page:
            return


def rows_of(table: Any, skip: frozenset[str] = frozenset()) -> list[dict]:
    """An Arrow page as dict rows (column by column: several times faster than Table.to_pylist)."""
    columns = {name: table.column(name).to_pylist() for name in table.column_names if name not in skip}
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def subjects(table: Any, detector: PiiDetector | None) -> Iterator[Subject]:
    """What the rules see of each row of an Arrow page, read column by column (no row dicts)."""
    col = {name: table.column(name).to_pylist() for name in SUBJECT_COLUMNS if name in table.column_names}
    n = table.num_rows
    times = col.get("timestamp_ms") or [None] * n
    stamps = col.get("timestamp") or [None] * n
    teams = col.get("team") or [""] * n
    for i, (text, direction, mode, pii_types, phone_id, display, mimes) in enumerate(zip(
            col["text"], col["direction"], col["text_mode"], col["pii_types"], col["business_phone_number_id"],
            col["business_display_number"], col["attachment_mime"], strict=True)):
        if mode == "raw" and detector is not None and text:
            pii = tuple(f.type for f in detector.patterns(text))
        else:
            pii = tuple(pii_types)
        attachments = tuple(
            AttachmentInfo(f"file.{ext}" if ext else None, mime or None, int(size) or None, sha or None)
            for mime, ext, size, sha in zip(mimes, col["attachment_ext"][i], col["attachment_size"][i],
                                            col["attachment_sha256"][i], strict=False)) if mimes else ()
        when = _time({"timestamp_ms": times[i], "timestamp": stamps[i]})
        yield Subject(text=text, direction=direction, timestamp=when,
                      numbers=(phone_id, display) if display else (phone_id,), team=teams[i] or None,
                      attachments=attachments, pii=pii)


SUBJECT_COLUMNS = ("text", "direction", "text_mode", "pii_types", "business_phone_number_id",
                   "business_display_number", "attachment_mime", "attachment_ext", "attachment_size",
                   "attachment_sha256", "timestamp_ms", "timestamp", "team")


def retro_scan(pages: Iterable[Any], ruleset: RuleSet, detector: PiiDetector | None = None,
               keep_hits: bool = False, progress: Callable[[int], None] = lambda n: None,
               jobs: int = 1, packs: tuple[Path, ...] = ()) -> RetroReport:
    """Every row of every page (Arrow tables) through the rules. With `jobs` > 1 (and the `packs`
    folders the ruleset came from), slices of pages go to that many processes, which turn them into
    rows and scan them while this one reads the next page; only the rows that fired come back."""
    report = RetroReport()
    by_id = {rule.id: (pack, rule) for pack, rule in ruleset.rules()}

    def merge(chunk: Any, tally: ChunkTally) -> None:
        report.merge(tally, by_id)
        if keep_hits and tally.fired:
            rows = rows_of(chunk.take([i for i, _, _ in tally.fired]))
            report.hits.extend(({**row, "text": text}, RuleHit(*by_id[r], ()))
                               for row, (_, ids, text) in zip(rows, tally.fired, strict=True) for r in ids)
        report.scanned += chunk.num_rows
        progress(chunk.num_rows)

    if jobs <= 1 or not packs:
        scanner = Scanner(ruleset)
        for table in pages:
            merge(table, _scan_table(table, scanner, detector, keep_hits))
        return report
    context = multiprocessing.get_context("spawn")  # never fork a process that holds an embedded ClickHouse
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(packs, detector is not None)) as pool:
        waiting: deque = deque()  # (slice, future) in page order, at most 2 per process
        for table in pages:
            for i in range(0, table.num_rows, CHUNK):
                chunk = table.slice(i, CHUNK)
                waiting.append((chunk, pool.submit(_scan_in_worker, chunk, keep_hits)))
                while len(waiting) > 2 * jobs:
                    done, future = waiting.popleft()
                    merge(done, future.result())
        while waiting:
            done, future = waiting.popleft()
            merge(done, future.result())
    return report


CHUNK = 5_000
_WORKER: dict = {}


def _start_worker(packs: tuple[Path, ...], pii: bool) -> None:
    _WORKER["scanner"] = Scanner(load_rules_dir(*packs))
    _WORKER["detector"] = PiiDetector(PiiConfig(ner=False)) if pii else None


def _scan_in_worker(chunk: Any, keep_hits: bool) -> ChunkTally:
    """An Arrow slice (it pickles as Arrow IPC: cheap) is read, scanned and tallied here, in the worker."""
    return _scan_table(chunk, _WORKER["scanner"], _WORKER["detector"], keep_hits)


def _scan_table(table: Any, scanner: Scanner, detector: PiiDetector | None, keep_hits: bool = False) -> ChunkTally:
    out = ChunkTally()
    keys = table.column("conversation_key").to_pylist()
    modes = table.column("text_mode").to_pylist()
    stored = table.column("masked").to_pylist() if "masked" in table.column_names else [""] * table.num_rows
    for i, subject in enumerate(subjects(table, detector)):
        hits, sensitive = scanner.scan_masked(subject)
        if not hits:
            continue
        shown = _shown(subject.text, modes[i], [*sensitive, *stored_spans(subject.text, stored[i])], detector)
        ids = [h.rule.id for h in hits]
        for r in ids:
            out.hits[r] = out.hits.get(r, 0) + 1
            out.conversations.setdefault(r, set()).add(keys[i])
            examples = out.examples.setdefault(r, [])
            if len(examples) < EXAMPLES:
                examples.append({**rows_of(table.slice(i, 1).select(_reported_columns(table)))[0], "text": shown})
        alerting = [h.rule.id for h in hits if h.rule.alert]  # marker rules (alert: false) are tallied only
        if keep_hits and alerting:
            out.fired.append((i, alerting, shown))
    return out


def _shown(text: str, mode: str, spans: list, detector: PiiDetector | None) -> str:
    """The text a report example or a retro alert may show: what the rules marked sensitive masked and,
    for text archived raw, the PII too (the spans stored live, and the patterns again)."""
    if mode == "raw" and text:
        spans += (detector or _display_detector()).patterns(text)
    return redact(text, spans) if spans else text


_DISPLAY: list[PiiDetector] = []


def _display_detector() -> PiiDetector:
    if not _DISPLAY:
        _DISPLAY.append(PiiDetector(PiiConfig(ner=False)))
    return _DISPLAY[0]


def _reported_columns(table: Any) -> list[str]:
    return [c for c in REPORTED if c in table.column_names]


def rows_of_messages(messages: Iterable[Message], detector: PiiDetector | None) -> Iterator[Any]:
    """Canonical messages (e.g. a chat export) as archive-like rows, their text redacted as the archive
    would keep it, so exports and the archive go through one retro-scan."""
    page = []
    for m in messages:
        found = detector.patterns(m.text or "") if detector else []
        page.append({
            "message_id": m.message_id, "conversation_key": m.conversation_key,
            "business_phone_number_id": m.business_phone_number_id,
            "business_display_number": m.business_display_number or "", "customer_wa_id": m.customer_wa_id,
            "direction": m.direction.value, "type": m.type.value, "timestamp": m.timestamp.isoformat(),
            "text_mode": "redacted", "masked": "",
            "text": redact(m.text or "", found), "pii_types": [f.type for f in found], "team": "",
            "employee_id": m.employee_id or "",
            "attachment_mime": [a.mime_type or "" for a in m.attachments],
            "attachment_ext": [(a.filename or "").rsplit(".", 1)[-1].lower() if a.filename and "." in a.filename
                               else "" for a in m.attachments],
            "attachment_size": [a.size or 0 for a in m.attachments],
            "attachment_sha256": [a.sha256 or "" for a in m.attachments]})
        if len(page) >= PAGE:
            yield _table(page)
            page = []
    if page:
        yield _table(page)


def _table(rows: list[dict]) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist(rows)


def alert_rows_of(report: RetroReport, now: datetime) -> list[dict]:
    """The kept hits as rows of the archive's alerts table, built by the live path (`to_alert`, `alert_rows`)
    from the archived message, marked historical and tagged `retro`; ids are the live ids (message + rule),
    so a retro alert and a live one for the same message are one alert."""
    out = []
    for row, hit in report.hits:
        alert = to_alert(archived_message(row, now), hit, now, snippet=row["text"][:SNIPPET_CHARS],  # cut, no "…"
                         pii=dict(Counter(row["pii_types"])))
        (alert_row,) = alert_rows(alert.model_copy(update={"tags": [*alert.tags, "retro"]}))["alerts"]
        del alert_row["evidence"]  # a retro hit has none (workers send back rule ids): the column's default
        out.append({**alert_row, "team": row.get("team") or ""})
    return out


def archived_message(row: dict, now: datetime) -> Message:
    """An archive row (as `archived` or `rows_of_messages` give it) as the canonical message `to_alert`
    reads, historical: what a retro-scan raises is about the past. The origin is not archived with these
    columns and no alert reads it."""
    kind = row.get("type") or "text"
    return Message(message_id=row["message_id"], business_phone_number_id=row["business_phone_number_id"],
                   business_display_number=row.get("business_display_number") or None,
                   customer_wa_id=row["customer_wa_id"], conversation_key=row["conversation_key"],
                   employee_id=row.get("employee_id") or None, direction=row["direction"],
                   timestamp=_time(row) or now, type=kind, source_type=kind, text=row["text"], historical=True,
                   origin=Origin(field="archive"))


def _time(row: dict) -> datetime | None:
    if row.get("timestamp_ms") is not None:
        return datetime.fromtimestamp(row["timestamp_ms"] / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(str(row.get("timestamp")).replace(" ", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
