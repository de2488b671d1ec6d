"""The assembled pipeline on the real broker, against a bare aiokafka relay in the same run.

    .venv/bin/python bench/bench_pipeline.py [--messages 20000] [--rate 1000] [--seconds 20] [--scan-workers 2]
                                             [--rows relay,ner-off-archive,...] [--before DIR]

Starts its own single-node Kafka (free ports, throwaway state) and, per row, fresh topics and a
fresh `chatwatch worker` process. N webhook bodies (one message each, es/pt/en chat, median ~40
characters, ~8% risky) are preloaded to the raw topic, then the worker starts; throughput is N
over the time between the first and the last scan record (Kafka timestamps), so process start
and group join are not counted.

Rows:
  relay     the baseline: a bare aiokafka consume -> produce (acks=all) over the same two hops
            (raw -> messages -> scans), in this process; what Kafka and the machine allow now
  worker    one `chatwatch worker` (all roles): NER off / on, archive on chdb / off
  scan-workers  K `chatwatch worker --roles scan` beside one `--roles normalize,archive,notify`
  stages    chatwatch's own code per message (normalize, scan, archive rows) in this process, without
            Kafka or Faust: the ceiling of one process whatever the plumbing
  latency   R msg/s offered for S seconds to one worker (NER on, archive on): p50/p99 from the raw
            record's timestamp to the scan record's and to the alert's
Ratios are against the relay of the same run: a noisy machine moves both. `--before DIR` runs every
worker row a second time with the worker of another checkout (`git worktree add DIR <commit>`; run
with this venv and that folder on PYTHONPATH), for before/after figures in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from harness import Broker, TopicCounter

from chatwatch.settings import Settings
from chatwatch.streams.demo import envelopes
from chatwatch.streams.demo.stack import LocalStack, free_port
from chatwatch.streams.topics import ensure_topics

NUMBERS = [{"phone_number_id": "106540352242922", "display": "5215550001111"},
           {"phone_number_id": "277321005464405", "display": "551140040000"}]
CALM = {
    "es": ["Hola, ¿tienen envío a Monterrey?", "Gracias, quedo atento", "¿Cuánto cuesta la talla M?",
           "Buenas tardes, ya hice el pago", "Perfecto, nos vemos mañana", "¿A qué hora abren el sábado?",
           "Mi pedido 48213 no ha llegado", "Ok", "Le comparto la factura en un momento por favor"],
    "pt": ["Oi, tudo bem? Tem em azul?", "Obrigado pela ajuda!", "Qual o prazo de entrega para Recife?",
           "Já fiz o pix", "Bom dia, o pedido chegou certinho", "Vocês abrem no domingo?", "Beleza, valeu"],
    "en": ["Hi, is this still available?", "Thanks a lot!", "When will my order ship?", "Sounds good"],
}
RISKY = {
    "es": ["Escríbeme a mi número personal y lo arreglamos", "Mi CURP es GODE561231HDFRRN09",
           "La contraseña del sistema es Verano2026!", "te paso mi tarjeta 4111 1111 1111 1111"],
    "pt": ["Me chama no privado que resolvo", "Meu CPF é 529.982.247-25", "senha: Brasil@2026"],
    "en": ["text me on my personal number", "my card is 4111 1111 1111 1111"],
}
T0 = 1_763_560_800


def bodies(n: int, run: str, risky_share: float = 0.08) -> list[tuple[str, bytes]]:
    rnd = random.Random(run)
    out = []
    for i in range(n):
        lang = rnd.choices(["es", "pt", "en"], [0.5, 0.4, 0.1])[0]
        risky = rnd.random() < risky_share
        text = rnd.choice((RISKY if risky else CALM)[lang])
        wamid = f"wamid.{run}.{i}"
        doc = envelopes.message(**NUMBERS[lang == "pt"], customer=f"52155{rnd.randint(0, 9999):08d}", wamid=wamid,
                                timestamp=T0 + i, text=text, outbound=risky and rnd.random() < 0.5)
        out.append((wamid, envelopes.dumps(doc)))
    return out


async def create_topics(bootstrap: str, prefix: str, partitions: int = 4) -> None:
    await ensure_topics(Settings(kafka_bootstrap=bootstrap, topic_prefix=prefix, topic_partitions=partitions))


async def preload(bootstrap: str, topic: str, items: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024,
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(topic, body, key=wamid.encode()) for wamid, body in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def committed_everywhere(bootstrap: str, topic: str) -> bool:
    """Has every consumer group reading `topic` committed its end (all readers done, conversation
    rules and archive included)?"""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        ends = await consumer.end_offsets(parts)
        groups = [g[0] if isinstance(g, tuple) else g.group_id for g in await admin.list_consumer_groups()]
        readers = 0
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            mine = {tp: o.offset for tp, o in offsets.items() if tp.topic == topic}
            if mine:
                readers += 1
                if any(mine.get(tp, -1) < ends[tp] for tp in parts):
                    return False
        return readers > 0
    finally:
        await consumer.stop()
        await admin.close()


def rate_between(stamps: list[int], n: int) -> float:
    span = (max(stamps) - min(stamps)) / 1000
    return n / span if span > 0 else float("inf")


# --- the baseline -------------------------------------------------------------------------------

async def relay_hop(bootstrap: str, source: str, target: str, group: str, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_poll_records=2000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            futures = [await producer.send(target, r.value, key=r.key) for records in batch.values() for r in records]
            if futures:
                await asyncio.gather(*futures)  # outputs acknowledged before the offsets are committed
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def run_relay(bootstrap: str, n: int) -> float:
    run = f"relay-{random.randrange(1 << 30):x}"
    items = bodies(n, run)

    async def main() -> float:
        await create_topics(bootstrap, run)
        await preload(bootstrap, f"{run}.raw", items)
        out = TopicCounter(bootstrap, f"{run}.scans", lambda v: 1)
        stop = asyncio.Event()
        hops = [asyncio.create_task(relay_hop(bootstrap, f"{run}.raw", f"{run}.messages", f"{run}-a", stop)),
                asyncio.create_task(relay_hop(bootstrap, f"{run}.messages", f"{run}.scans", f"{run}-b", stop))]
        deadline = time.monotonic() + 300
        while len(out.items) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*hops)
        out.stop()
        return rate_between(out.stamps, n)

    return asyncio.run(main())


# --- where the time goes -------------------------------------------------------------------------

def run_stages(n: int) -> dict[str, float]:
    """Microseconds per message of chatwatch's own code on the same mix, in this process, without Kafka
    or Faust: normalize, scan (patterns + rules, NER off), and a scan record to archive rows."""
    from datetime import UTC, datetime

    from chatwatch.detectors.pii import PiiConfig, PiiDetector
    from chatwatch.records import ScanRecord
    from chatwatch.rules import SHIPPED_PACKS
    from chatwatch.sinks.clickhouse.rows import scan_rows
    from chatwatch.streams.active_rules import ActiveRules
    from chatwatch.streams.agents import normalize, scan
    from chatwatch.streams.topics import TopicNames

    topics = TopicNames.from_settings(Settings())
    raw = [body for _, body in bodies(n, "stages")]
    started = time.perf_counter()
    messages = [o.value for body in raw for o in normalize.process_raw(body, topics) if o.topic == topics.messages]
    took = {"normalize": time.perf_counter() - started}
    scanner = ActiveRules(SHIPPED_PACKS).scanner
    options = scan.ScanOptions(pii=PiiDetector(PiiConfig(ner=False)), recent=scan.RecentLines())
    records = [scan.Record(v, 0, i) for i, v in enumerate(messages)]
    started = time.perf_counter()
    outputs = [o for i in range(0, len(records), 256) for o in scan.process_batch(records[i:i + 256], scanner, topics,
                                                                                   options)]
    took["scan"] = time.perf_counter() - started
    scans = [o.value for o in outputs if o.topic == topics.scans]
    now = datetime.now(UTC)
    started = time.perf_counter()
    for value in scans:
        scan_rows(ScanRecord.model_validate_json(value), now)
    took["archive rows"] = time.perf_counter() - started
    return {name: seconds / n * 1e6 for name, seconds in took.items()}


# --- the worker ---------------------------------------------------------------------------------

@functools.cache
def importable(tree: Path) -> Path:
    """A folder where `tree`'s packages import as installed: its package-dir mapping (chatwatch.streams ->
    streams/ …) laid out with symlinks. On PYTHONPATH alone, this venv's editable install would serve the
    subpackages of the current checkout instead."""
    mapping = tomllib.loads((tree / "pyproject.toml").read_text()).get("tool", {}).get("setuptools", {}).get(
        "package-dir", {})
    if not mapping:
        return tree
    site = Path(tempfile.mkdtemp(prefix="before-site-"))
    for package, folder in sorted(mapping.items(), key=lambda kv: kv[0].count(".")):
        target = site.joinpath(*package.split("."))
        if package.count(".") == 0:
            shutil.copytree(tree / folder, target, symlinks=True)
        else:
            target.symlink_to(tree / folder, target_is_directory=True)
    return site


def spawn_worker(tree: Path | None, bootstrap: str, prefix: str, env: dict[str, str], log: Path,
                 roles: str | None = None) -> subprocess.Popen:
    """`chatwatch worker [--roles R]` of this checkout, or of `tree` (an older one: its own CLI module, only
    the settings every version knows)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("CHATWATCH_")}, **env,
            "CHATWATCH_KAFKA_BOOTSTRAP": bootstrap, "CHATWATCH_TOPIC_PREFIX": prefix,
            "CHATWATCH_WORKER_PORT": str(free_port()), "CHATWATCH_CLICKHOUSE_PATH": str(log.parent / "clickhouse")}
    module, cwd = "chatwatch.cli", Path.cwd()
    if tree is not None:
        cwd = importable(tree)  # `python -m` puts the working folder first on the path
        full["PYTHONPATH"] = str(cwd)
        module = "chatwatch.cli" if (tree / "chatwatch" / "cli").is_dir() else "streams.cli"
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", module, "worker", *(["--roles", roles] if roles else [])],
                                env=full, cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def run_workers(bootstrap: str, work: Path, n: int, workers: list[str | None], ner: bool, archive: bool,
                tree: Path | None = None) -> dict[str, float]:
    """One process per entry of `workers` (its roles; None: all), on fresh topics preloaded with n bodies."""
    run = f"pipe-{random.randrange(1 << 30):x}"
    items = bodies(n, run)
    asyncio.run(create_topics(bootstrap, run))
    asyncio.run(preload(bootstrap, f"{run}.raw", items))
    env = {"CHATWATCH_PII_NER": str(ner).lower(), "CHATWATCH_CLICKHOUSE_ENABLED": str(archive).lower(),
           "CHATWATCH_TOPIC_PARTITIONS": "4"}
    scans = TopicCounter(bootstrap, f"{run}.scans", lambda v: 1)
    processes = [spawn_worker(tree, bootstrap, run, env, work / f"{run}-{k}" / "worker.log", roles)
                 for k, roles in enumerate(workers)]
    try:
        deadline = time.monotonic() + 600
        while len(scans.items) < n and time.monotonic() < deadline and all(p.poll() is None for p in processes):
            time.sleep(0.3)
        # until every reader of the scans (archive, conversation rules) committed the last one
        while time.monotonic() < deadline and not asyncio.run(committed_everywhere(bootstrap, f"{run}.scans")):
            time.sleep(0.3)
        settled_ms = time.time() * 1000
        first = min(scans.stamps) if scans.stamps else settled_ms
        return {"msg_s": len(scans.items) / max(1e-3, (settled_ms - first) / 1000), "done": len(scans.items)}
    finally:
        scans.stop()
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


def run_latency(bootstrap: str, work: Path, rate: int, seconds: int) -> dict[str, float]:
    run = f"lat-{random.randrange(1 << 30):x}"
    items = bodies(rate * seconds, run)
    asyncio.run(create_topics(bootstrap, run))
    stack = LocalStack(kafka_bootstrap=bootstrap, log_dir=work / run, topic_prefix=run,
                       extra_env={"CHATWATCH_PII_NER": "true", "CHATWATCH_TOPIC_PARTITIONS": "4"})
    pick_scan = lambda v: json.loads(v)["message"]["origin"]["received_at"]  # noqa: E731
    scans = TopicCounter(bootstrap, f"{run}.scans", pick_scan)
    alerts = TopicCounter(bootstrap, f"{run}.alerts", lambda v: json.loads(v)["message_id"])
    sent_at: dict[str, float] = {}

    async def offer() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
        await producer.start()
        try:
            started, tick = time.time(), 0.05
            for i in range(0, len(items), max(1, int(rate * tick))):
                chunk = items[i:i + max(1, int(rate * tick))]
                for wamid, body in chunk:
                    sent_at[wamid] = time.time()
                    await producer.send(f"{run}.raw", body, key=wamid.encode())
                await asyncio.sleep(max(0.0, started + (i + len(chunk)) / rate - time.time()))
            await producer.flush()
        finally:
            await producer.stop()

    try:
        stack.spawn("worker")
        stack.wait_until(f"{stack.worker_url}/ready", 150)
        time.sleep(3)  # the assignment settles
        asyncio.run(offer())
        deadline = time.monotonic() + 120
        while len(scans.items) < len(items) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
    finally:
        scans.stop()
        alerts.stop()
        stack.stop()
    from datetime import datetime

    scan_ms = [stamp - datetime.fromisoformat(received).timestamp() * 1000
               for received, stamp in zip(scans.items, scans.stamps, strict=True) if received]
    alert_ms = [stamp - sent_at[m] * 1000 for m, stamp in zip(alerts.items, alerts.stamps, strict=True) if m in sent_at]

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1] if len(values) > 2 else float("nan")

    return {"scan_p50": pct(scan_ms, 50), "scan_p99": pct(scan_ms, 99), "alert_p50": pct(alert_ms, 50),
            "alert_p99": pct(alert_ms, 99), "scanned": len(scans.items), "offered": len(items), "alerts": len(alerts.items)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=1000, help="offered msg/s for the latency row")
    parser.add_argument("--seconds", type=int, default=20, help="how long the rate is offered")
    parser.add_argument("--rows", default="relay,ner-off-archive,ner-on-archive,ner-on,scan-workers,stages,latency")
    parser.add_argument("--before", type=Path, help="another checkout whose worker runs each row too")
    parser.add_argument("--scan-workers", type=int, default=2, help="K for the scan-workers row")
    args = parser.parse_args()
    rows = args.rows.split(",")
    k = args.scan_workers
    one: list[str | None] = [None]
    no_conversation: list[str | None] = ["normalize,scan,archive,notify"]
    configs = {"ner-off-archive": (one, False, True), "ner-off-archive-no-conversation": (no_conversation, False, True),
               "ner-on-archive-no-conversation": (no_conversation, True, True), "ner-on-archive": (one, True, True), "ner-on": (one, True, False),
               "ner-off": (one, False, False),
               "scan-workers": (["normalize,archive,notify", *["scan"] * k], True, True)}
    with tempfile.TemporaryDirectory(prefix="chatwatch-bench-") as tmp:
        work = Path(tmp)
        broker = Broker(work / "kafka")
        broker.run("start")
        try:
            relay = run_relay(broker.bootstrap, args.messages)
            print(f"| configuration | msg/s | × relay |\n|---|---|---|\n| bare aiokafka relay, 2 hops (baseline) | "
                  f"{relay:,.0f} | 1.00 |", flush=True)
            for name in rows:
                if name not in configs:
                    continue
                workers, ner, archive = configs[name]
                label = (f"1 worker, NER {'on' if ner else 'off'}, archive {'on (chdb)' if archive else 'off'}"
                         + (", conversation rules off" if workers == no_conversation else "")
                         if workers in (one, no_conversation) else f"{len(workers) - 1} scan workers + 1 normalize/archive/notify, "
                                                 f"NER {'on' if ner else 'off'}, archive on (chdb)")
                before = [("before", args.before.resolve())] if args.before and workers == one else []
                for tag, tree in [*before, ("now", None)]:
                    got = run_workers(broker.bootstrap, work, args.messages, workers, ner, archive, tree)
                    print(f"| {label}{' — ' + tag if args.before else ''} | {got['msg_s']:,.0f} | "
                          f"{got['msg_s'] / relay:.3f} |"
                          + ("" if got["done"] == args.messages else f" (only {got['done']} done)"), flush=True)
            if "stages" in rows:
                cost = run_stages(args.messages)
                total = sum(cost.values())
                print("\nchatwatch's own code per message, no Kafka/Faust (this process): "
                      + ", ".join(f"{name} {us:.0f} µs" for name, us in cost.items())
                      + f"; total {total:.0f} µs = at most {1e6 / total:,.0f} msg/s on one core", flush=True)
            if "latency" in rows:
                lat = run_latency(broker.bootstrap, work, args.rate, args.seconds)
                print(f"\nlatency at {args.rate} msg/s offered for {args.seconds} s, NER on, archive on: "
                      f"raw -> scan record p50 {lat['scan_p50']:.0f} ms, p99 {lat['scan_p99']:.0f} ms; "
                      f"raw -> alert p50 {lat['alert_p50']:.0f} ms, p99 {lat['alert_p99']:.0f} ms "
                      f"({lat['scanned']}/{lat['offered']} scanned, {lat['alerts']} alerts)", flush=True)
        finally:
            broker.run("stop")


if __name__ == "__main__":
    main()
