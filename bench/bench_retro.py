"""Retro-scan throughput: archived messages/s read from embedded ClickHouse (chdb) and run through the
shipped rule packs, as `chatwatch scan --since 90d` does.

    .venv/bin/python bench/bench_retro.py [--messages 200000] [--page 50000]

The archive is filled first (chat-corpus lines, redacted as the worker archives them, over 90 days,
~10% with PII). Then, in the same process: the read alone (pages of archived rows), the rule scan
alone (rows already in memory), and the retro-scan end to end. Target >= 50,000 msg/s end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import chat_corpus

from chatwatch.detectors.pii import PiiConfig, PiiDetector
from chatwatch.detectors.redaction import redact
from chatwatch.records import Direction, Message, MessageType, Origin, ScanRecord, conversation_key
from chatwatch.rules import SHIPPED_PACKS
from chatwatch.rules.loader import load_rules_dir
from chatwatch.sinks.clickhouse.client import ChdbClient
from chatwatch.sinks.clickhouse.ddl import Renderer
from chatwatch.sinks.clickhouse.migrate import migrate
from chatwatch.sinks.clickhouse.retro import archived, retro_scan
from chatwatch.sinks.clickhouse.rows import scan_rows
from chatwatch.sinks.clickhouse.writer import ArchiveWriter

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def fill(client: ChdbClient, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    lines = chat_corpus.build(min(n, 20_000), seed)
    detector = PiiDetector(PiiConfig(ner=False))
    found = [detector.patterns(text, region) for text, _, region, _ in lines]
    writer = ArchiveWriter(client)
    batch = []
    for i in range(n):
        text, _, _, _ = lines[i % len(lines)]
        pii = found[i % len(lines)]
        customer = f"55119{rng.randint(10_000_000, 99_999_999)}"
        m = Message(message_id=f"wamid.retro.{i}", business_phone_number_id="106540352242922",
                    business_display_number="551140040000", customer_wa_id=customer,
                    conversation_key=conversation_key("106540352242922", customer),
                    direction=rng.choice([Direction.inbound, Direction.outbound]),
                    timestamp=NOW - timedelta(seconds=rng.randint(0, 89 * 86_400)), type=MessageType.text,
                    source_type="text", text=redact(text, pii), origin=Origin(field="messages"))
        record = ScanRecord(message=m, text_mode="redacted", pii={f.type: 1 for f in pii}, scanned_at=NOW)
        batch.append(scan_rows(record, NOW))
        if len(batch) == 20_000:
            assert asyncio.run(writer.write(batch)) == []
            batch = []
    if batch:
        assert asyncio.run(writer.write(batch)) == []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--page", type=int, default=50_000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the rules (as the CLI)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        client = ChdbClient(Path(folder), "bench")
        migrate(client, Renderer("bench"))
        began = time.perf_counter()
        fill(client, args.messages)
        print(f"archive filled: {args.messages:,} messages in {time.perf_counter() - began:.1f} s")
        ruleset = load_rules_dir(SHIPPED_PACKS)
        since = NOW - timedelta(days=90)

        began = time.perf_counter()
        pages = list(archived(client, since, NOW, page=args.page))
        read_s = time.perf_counter() - began
        rows = sum(len(p) for p in pages)
        began = time.perf_counter()
        report = retro_scan(pages, ruleset)
        scan_s = time.perf_counter() - began
        began = time.perf_counter()
        end_to_end = retro_scan(archived(client, since, NOW, page=args.page), ruleset, jobs=args.jobs,
                                packs=(SHIPPED_PACKS,))
        total_s = time.perf_counter() - began
        client.close()
    assert end_to_end.scanned == rows == report.scanned
    print(f"read from chdb:   {rows / read_s:>9,.0f} msg/s ({read_s:.2f} s)")
    print(f"rules on rows, 1 process: {rows / scan_s:>9,.0f} msg/s ({scan_s:.2f} s)")
    print(f"retro-scan, {args.jobs} job(s), end to end: {rows / total_s:>9,.0f} msg/s ({total_s:.2f} s) — {rows:,} messages, "
          f"{sum(t.hits for t in end_to_end.rules.values()):,} hits over {len(end_to_end.rules)} rules")
    for row in end_to_end.table()[:8]:
        print(f"  {row['rule']:40} {row['hits']:>7,} hits {row['conversations']:>7,} conversations")


if __name__ == "__main__":
    main()
