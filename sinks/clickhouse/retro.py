"""Retro-scan: run rule packs over archived messages (or any canonical messages) offline, to see
what a new pack would have flagged before it is rolled out.

The archive keeps text redacted by default, so the PII types found when a message was first
scanned (its `pii_types` column) stand in for the values: a PII rule fires on them as it did
live. Messages whose text was archived raw are run through the PII patterns again.
"""

from __future__ import annotations

import heapq
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatwatch.detectors.alerts import alert_id
from chatwatch.detectors.attachments import AttachmentInfo
from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.redaction import mask_phone, redact
from chatwatch.detectors.scanner import RuleHit, Scanner, Subject
from chatwatch.records import Message
from chatwatch.rules.loader import RuleSet, load_rules_dir
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.queries import quote
from chatwatch.sinks.clickhouse.rows import utc

COLUMNS = ("message_id", "conversation_key", "business_phone_number_id", "business_display_number",
           "customer_wa_id", "direction", "timestamp", "text", "text_mode", "attachment_mime", "attachment_ext",
           "attachment_size", "attachment_sha256", "pii_types", "team", "employee_id")
SELECTED = tuple("toUnixTimestamp64Milli(timestamp) AS timestamp_ms" if c == "timestamp" else c for c in COLUMNS)
PAGE = 50_000
NOT_SCANNED = frozenset({"message_id", "employee_id", "at"})  # columns the rules and the tallies never read
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
class RetroReport:
    scanned: int = 0
    since: datetime | None = None
    until: datetime | None = None
    rules: dict[str, RuleTally] = field(default_factory=dict)
    hits: list[tuple[dict, RuleHit]] = field(default_factory=list)  # kept only when alerts are to be written

    def add(self, row: dict, hits: list[RuleHit], keep: bool) -> None:
        for hit in hits:
            rule = hit.rule
            tally = self.rules.get(rule.id)
            if tally is None:
                tally = self.rules[rule.id] = RuleTally(rule.id, rule.title, hit.pack.pack.id, rule.severity.value)
            tally.hits += 1
            tally.conversations.add(row["conversation_key"])
            if len(tally.examples) < EXAMPLES and "text" in row:
                when = _time(row)
                tally.examples.append((when.isoformat(" ", "seconds") if when else "", mask_phone(row["customer_wa_id"]),
                                       row["text"][:200]))
            if keep:
                self.hits.append((row, hit))

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


def subject_of_row(row: dict, detector: PiiDetector | None) -> Subject:
    if row["text_mode"] == "raw" and detector is not None and row["text"]:
        pii = tuple(f.type for f in detector.patterns(row["text"]))
    else:
        pii = tuple(row["pii_types"])
    attachments = tuple(AttachmentInfo(f"file.{ext}" if ext else None, mime or None, int(size) or None, sha or None)
                        for mime, ext, size, sha in zip(row["attachment_mime"], row["attachment_ext"],
                                                        row["attachment_size"], row["attachment_sha256"], strict=False)
                        ) if row["attachment_mime"] else ()
    numbers = (row["business_phone_number_id"], row["business_display_number"]) if row["business_display_number"] \
        else (row["business_phone_number_id"],)
    return Subject(text=row["text"], direction=row["direction"], timestamp=_time(row), numbers=numbers,
                   team=row.get("team") or None, attachments=attachments, pii=pii)


def retro_scan(pages: Iterable[Any], ruleset: RuleSet, detector: PiiDetector | None = None,
               keep_hits: bool = False, progress: Callable[[int], None] = lambda n: None,
               jobs: int = 1, packs: tuple[Path, ...] = ()) -> RetroReport:
    """Every row of every page (Arrow tables) through the rules. With `jobs` > 1 (and the `packs`
    folders the ruleset came from), slices of pages go to that many processes, which turn them into
    rows and scan them while this one reads the next page; only the rows that fired come back."""
    report = RetroReport()
    by_id = {rule.id: (pack, rule) for pack, rule in ruleset.rules()}

    def merge(chunk: Any, found: list[tuple[int, list[str], dict]]) -> None:
        """`found`: (row index, rule ids, the row's report fields); whole rows only when alerts are kept."""
        full = rows_of(chunk.take([i for i, _, _ in found])) if keep_hits and found else [row for _, _, row in found]
        for row, (_, rule_ids, _) in zip(full, found, strict=True):
            report.add(row, [RuleHit(*by_id[r], ()) for r in rule_ids], keep_hits)
        report.scanned += chunk.num_rows
        progress(chunk.num_rows)

    if jobs <= 1 or not packs:
        scanner = Scanner(ruleset)
        for table in pages:
            merge(table, _scan_rows(rows_of(table), scanner, detector))
        return report
    context = multiprocessing.get_context("spawn")  # never fork a process that holds an embedded ClickHouse
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(packs, detector is not None)) as pool:
        waiting: deque = deque()  # (slice, future) in page order, at most 2 per process
        for table in pages:
            for i in range(0, table.num_rows, CHUNK):
                chunk = table.slice(i, CHUNK)
                waiting.append((chunk, pool.submit(_scan_in_worker, chunk)))
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


def _scan_in_worker(chunk: Any) -> list[tuple[int, list[str], dict]]:
    """An Arrow slice (it pickles as Arrow IPC: cheap) becomes rows here, in the worker."""
    return _scan_rows(rows_of(chunk, NOT_SCANNED), _WORKER["scanner"], _WORKER["detector"])


def _scan_rows(rows: list[dict], scanner: Scanner, detector: PiiDetector | None) -> list[tuple[int, list[str], dict]]:
    """(row index, ids of the rules that fire, what the report needs of the row) where any fires."""
    out = []
    shown: dict[str, int] = {}  # examples per rule in this chunk: the report keeps EXAMPLES per rule in all
    for i, row in enumerate(rows):
        hits = scanner.scan(subject_of_row(row, detector))
        if hits:
            ids = [h.rule.id for h in hits]
            wanted = any(shown.get(r, 0) < EXAMPLES for r in ids)
            for r in ids:
                shown[r] = shown.get(r, 0) + 1
            out.append((i, ids, {k: row.get(k) for k in REPORTED} if wanted
                        else {"conversation_key": row["conversation_key"]}))
    return out


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
            "direction": m.direction.value, "timestamp": m.timestamp.isoformat(), "text_mode": "redacted",
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
    """The kept hits as rows of the archive's alerts table, marked historical and tagged `retro`; ids are
    the live ids (message + rule), so a retro alert and a live one for the same message are one alert."""
    out = []
    for row, hit in report.hits:
        rule = hit.rule
        out.append({
            "alert_id": alert_id(row["message_id"], rule.id), "rule_id": rule.id, "rule_title": rule.title,
            "pack_id": hit.pack.pack.id, "pack_version": hit.pack.pack.version, "severity": rule.severity.value,
            "category": rule.category, "tags": [*rule.tags, "retro"], "message_id": row["message_id"],
            "conversation_key": row["conversation_key"], "business_phone_number_id": row["business_phone_number_id"],
            "customer_masked": mask_phone(row["customer_wa_id"]), "employee_id": row.get("employee_id") or "",
            "team": row.get("team") or "", "direction": row["direction"], "message_type": "text",
            "message_timestamp": utc(_time(row) or now), "created_at": utc(now),
            "snippet": row["text"][:280], "pii_types": sorted(set(row["pii_types"])), "held": 0, "historical": 1})
    return out


def _time(row: dict) -> datetime | None:
    if row.get("timestamp_ms") is not None:
        return datetime.fromtimestamp(row["timestamp_ms"] / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(str(row.get("timestamp")).replace(" ", "T"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
