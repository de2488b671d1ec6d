"""Batched insert throughput into embedded ClickHouse (chdb), as the record agent writes.

    .venv/bin/python bench/bench_clickhouse.py [--records 200000] [--batch 2000]

Measures, in one process on one fresh data folder (views attached, as in production):
  - baseline: INSERT … FORMAT JSONEachRow of pre-serialized rows (what the first version did)
  - inserts: ArchiveWriter.write of rows already built (Arrow through chdb's Python() function)
  - end to end: ScanRecord -> rows (scan_rows) -> ArchiveWriter.write, as the record agent does it
Rows counted are archive rows (messages) plus PII-count rows; target >= 100,000 rows/s for inserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chatwatch.records import Direction, Message, MessageType, Origin, ScanRecord, conversation_key
from chatwatch.sinks.clickhouse.client import ChdbClient
from chatwatch.sinks.clickhouse.ddl import Renderer
from chatwatch.sinks.clickhouse.migrate import migrate
from chatwatch.sinks.clickhouse.rows import scan_rows
from chatwatch.sinks.clickhouse.writer import ArchiveWriter

T0 = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)


def records(n: int, seed: int = 1) -> list[ScanRecord]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        customer = f"55119{rng.randint(10_000_000, 99_999_999)}"
        biz = rng.choice(["106540352242922", "277321005464405", "311009876543210"])
        m = Message(message_id=f"wamid.bench.{i}", business_phone_number_id=biz, business_display_number="551140040000",
                    customer_wa_id=customer, conversation_key=conversation_key(biz, customer),
                    direction=rng.choice([Direction.inbound, Direction.outbound]), timestamp=T0 + timedelta(seconds=i),
                    type=MessageType.text, source_type="text", text="Oi, meu CPF é [CPF], obrigado!",
                    origin=Origin(field="messages", raw_topic="chatwatch.raw", raw_partition=i % 4, raw_offset=i))
        out.append(ScanRecord(message=m, text_mode="redacted", pii={"br_cpf": 1} if i % 10 == 0 else {},
                              scanned_at=m.timestamp))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args()
    recs = records(args.records)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        client = ChdbClient(Path(tmp), "bench_floor")
        migrate(client, Renderer("bench_floor"))
        pre = [scan_rows(r, now) for r in recs]
        lines = [json.dumps(rows["messages"][0], ensure_ascii=False) for rows in pre]
        started = time.perf_counter()
        for i in range(0, len(lines), args.batch):
            client.command("INSERT INTO bench_floor.messages FORMAT JSONEachRow\n" + "\n".join(lines[i:i + args.batch]))
        floor = len(lines) / (time.perf_counter() - started)

        client.database = "bench_inserts"
        migrate(client, Renderer("bench_inserts"))
        writer = ArchiveWriter(client)
        started = time.perf_counter()
        for i in range(0, len(pre), args.batch):
            assert asyncio.run(writer.write(pre[i:i + args.batch])) == []
        rows_total = sum(len(v) for b in pre for v in b.values())
        inserts = rows_total / (time.perf_counter() - started)

        client.database = "bench"
        migrate(client, Renderer("bench"))
        started = time.perf_counter()
        for i in range(0, len(recs), args.batch):
            batch = [scan_rows(r, now) for r in recs[i:i + args.batch]]
            assert asyncio.run(writer.write(batch)) == []
        elapsed = time.perf_counter() - started
        stored = client.query("SELECT count() AS n FROM bench.messages FINAL")[0]["n"]
        client.close()
    print(f"records: {len(recs)}, batch {args.batch}, rows per pass {rows_total} (messages {stored} + PII counts)")
    print(f"baseline  JSONEachRow insert, messages only   : {floor:10,.0f} rows/s")
    print(f"inserts   ArchiveWriter (Arrow), built rows   : {inserts:10,.0f} rows/s  ({inserts / floor:.1f}x baseline)")
    print(f"end to end records -> rows -> ArchiveWriter   : {rows_total / elapsed:10,.0f} rows/s "
          f"({len(recs) / elapsed:,.0f} records/s)")


if __name__ == "__main__":
    main()
