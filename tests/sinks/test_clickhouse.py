"""The ClickHouse archive on real embedded ClickHouse (chdb): migrations, idempotent writes,
outage handling, reports on a known data set, retention, legal hold and erasure."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatwatch.records import Alert, Direction, Message, MessageType, Origin, ScanRecord, Severity, conversation_key
from chatwatch.sinks.clickhouse import queries
from chatwatch.sinks.clickhouse.client import ChdbClient, ClickHouseError
from chatwatch.sinks.clickhouse.ddl import MIGRATIONS, Renderer
from chatwatch.sinks.clickhouse.errors import classify
from chatwatch.sinks.clickhouse.guard import ArchiveGuard
from chatwatch.sinks.clickhouse.migrate import migrate
from chatwatch.sinks.clickhouse.privacy import erase_customer, set_hold
from chatwatch.sinks.clickhouse.rows import alert_rows, scan_rows
from chatwatch.sinks.clickhouse.writer import ArchiveWriter

T0 = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # a Wednesday
BIZ = "106540352242922"


def message(mid: str, customer: str, direction: str, at: datetime, text: str = "ok") -> Message:
    return Message(message_id=mid, business_phone_number_id=BIZ, business_display_number="5215550001111",
                   customer_wa_id=customer, conversation_key=conversation_key(BIZ, customer),
                   direction=Direction(direction), timestamp=at, type=MessageType.text, source_type="text", text=text,
                   origin=Origin(field="messages"))


def record(m: Message, pii: dict | None = None) -> ScanRecord:
    return ScanRecord(message=m, text_mode="redacted", pii=pii or {}, scanned_at=m.timestamp)


def alert(m: Message, rule: str, category: str = "off_channel") -> Alert:
    return Alert(alert_id=f"a-{m.message_id}-{rule}", rule_id=rule, rule_title=rule, pack_id="p", pack_version="1",
                 severity=Severity.high, category=category, message_id=m.message_id,
                 conversation_key=m.conversation_key, business_phone_number_id=BIZ, customer_masked="****",
                 direction=m.direction, message_type=m.type, message_timestamp=m.timestamp, created_at=m.timestamp)


def store(client, *rows_list) -> None:
    assert asyncio.run(ArchiveWriter(client).write(list(rows_list))) == []


def count(client, table: str, final: bool = True) -> int:
    return client.query(f"SELECT count() AS n FROM {client.database}.{table}{' FINAL' if final else ''}")[0]["n"]


def test_migrations_from_empty_and_reapplied(db):
    assert migrate(db, Renderer(db.database)) == []  # second run: nothing to do
    versions = {r["version"] for r in db.query(f"SELECT version FROM {db.database}.schema_migrations FINAL")}
    assert versions == {m.version for m in MIGRATIONS}
    tables = {r["name"] for r in db.query(f"SELECT name FROM system.tables WHERE database = '{db.database}'")}
    assert {"messages", "alerts", "pii_findings", "legal_holds", "audit_log", "conversation_daily",
            "conversation_daily_mv", "volume_hourly", "volume_hourly_mv"} <= tables


def test_cluster_ddl_is_valid_sql(chdb_session):
    r = Renderer("chatwatch", cluster="main")
    statements = [s for m in MIGRATIONS for s in m.statements(r)] + r.ttl_update()
    assert any("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/chatwatch/messages_local'" in s for s in statements)
    assert any("ENGINE = Distributed('main', chatwatch, messages_local" in s for s in statements)
    for statement in statements:
        chdb_session.query("EXPLAIN AST " + statement)  # parses on the same engine a cluster runs


def test_replaying_the_same_records_does_not_double_count(db):
    msgs = [message(f"m{i}", "5215512345678", "inbound" if i % 2 else "outbound", T0 + timedelta(minutes=i))
            for i in range(6)]
    batch = [scan_rows(record(m, {"br_cpf": 1}), T0) for m in msgs] + [alert_rows(alert(msgs[1], "r1"))]
    store(db, *batch)
    store(db, *batch)  # a replay after a crash: same records again
    assert count(db, "messages") == 6 and count(db, "alerts") == 1 and count(db, "pii_findings") == 6
    daily = db.query(f"SELECT uniqExactIfMerge(inbound_messages) AS i, uniqExactIfMerge(outbound_messages) AS o "
                     f"FROM {db.database}.conversation_daily")
    assert daily == [{"i": 3, "o": 3}]


class FlakyClient:
    """The real client behind an outage that lasts `failures` calls (a server restarting)."""

    def __init__(self, real, failures: int):
        self.real, self.failures, self.calls = real, failures, 0
        self.database = real.database

    def insert_json(self, table, rows):
        self.calls += 1
        if self.calls <= self.failures:
            raise classify("Code: 252. DB::Exception: Too many parts (300) in all partitions in total. (TOO_MANY_PARTS)")
        return self.real.insert_json(table, rows)


def test_outage_retries_until_stored_and_rejections_are_isolated(db):
    sleeps = []

    async def fake_sleep(s):
        sleeps.append(s)

    flaky = FlakyClient(db, failures=3)
    writer = ArchiveWriter(flaky, sleep=fake_sleep)
    m = message("x1", "5511999999999", "inbound", T0)
    assert asyncio.run(writer.write([scan_rows(record(m), T0)])) == []
    assert len(sleeps) == 3 and sleeps[1] > sleeps[0] * 1.2 / 1.5  # backoff grows (with jitter)
    assert count(db, "messages") == 1

    good = scan_rows(record(message("x2", "5511999999999", "inbound", T0)), T0)
    bad = {"messages": [{"message_id": "x3", "timestamp": "not a time"}]}
    rejected = asyncio.run(ArchiveWriter(db).write([good, bad]))
    assert [i for i, _ in rejected] == [1]
    assert count(db, "messages") == 2


@pytest.mark.parametrize(("message", "retryable", "error_class"), [
    ("Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts", True,
     "too_many_parts"),
    ("Code: 241. DB::Exception: Memory limit (total) exceeded: would use 9.31 GiB", True, "memory_limit_exceeded"),
    ("Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. (NOT_ENOUGH_SPACE)", True,
     "not_enough_space"),
    ("HTTP driver received HTTP status 503, server response: Service Unavailable", True, "http_503"),
    ("Received ClickHouse exception, code: 242, server response: Table is in readonly mode", True,
     "table_is_read_only"),
    ("Cannot open file /var/lib/chatwatch/clickhouse/store/tmp_insert/data.bin, errno: 13, strerror: Permission denied",
     True, "storage"),
    ("Code: 27. DB::Exception: Cannot parse input: expected '\"' before: 'not a time'", False, "code_27"),
    ("Code: 53. DB::Exception: Type mismatch in IN or VALUES section", False, "code_53"),
    ("HTTP driver received HTTP status 400, server response: bad request", False, "rejected"),
])
def test_error_classes_outage_or_data(message, retryable, error_class):
    error = classify(message)
    assert (error.retryable, error.error_class) == (retryable, error_class)


def test_a_bad_record_in_a_large_batch_is_found_by_bisection(db):
    writer = ArchiveWriter(db)
    batches = [scan_rows(record(message(f"b{i}", "5511999999999", "inbound", T0 + timedelta(seconds=i))), T0)
               for i in range(256)]
    batches[173] = {"messages": [{"message_id": "bad", "timestamp": "not a time"}]}
    rejected = asyncio.run(writer.write(batches))
    assert [i for i, _ in rejected] == [173] and rejected[0][1].startswith("code_")
    assert writer.inserts <= 2 * 8 + 1  # one bad record in 256: about 2·log2(256) inserts, not 256
    assert count(db, "messages") == 255


def archive(client, guard: ArchiveGuard, *records_: ScanRecord, held_race=None) -> None:
    """What the record agent does per batch: consult holds/erasures, build rows, write, check again."""
    guard.before_write()
    written, batches = set(), []
    for r in records_:
        m = r.message
        if guard.is_erased(m.conversation_key, m.timestamp):
            continue
        written.add((m.conversation_key, m.customer_wa_id))
        batches.append(scan_rows(r, T0 + timedelta(hours=1), held=guard.is_held(m.conversation_key, m.customer_wa_id)))
    if held_race:
        held_race()  # a hold or erasure lands between the check and the insert
    store(client, *batches)
    guard.after_write(written)


def test_a_replay_never_clears_a_hold_nor_brings_erased_rows_back(db):
    held_customer, erased_customer = "5511911110000", "5511922220000"
    msgs = [message("r1", held_customer, "inbound", T0), message("r2", erased_customer, "inbound", T0, "meu CPF [CPF]")]
    guard = ArchiveGuard(db)
    archive(db, guard, *[record(m) for m in msgs])
    set_hold(db, "customer", held_customer, "case 9", "legal")
    erase_customer(db, erased_customer, "dpo")
    # the same records again, as a restart replays them from Kafka (the guard's cache predates both)
    archive(db, guard, *[record(m) for m in msgs])
    rows = db.query(f"SELECT message_id, held FROM {db.database}.messages FINAL ORDER BY message_id")
    assert rows == [{"message_id": "r1", "held": 1}]
    # a later message of the erased customer is new data and is kept
    archive(db, guard, record(message("r3", erased_customer, "inbound", datetime.now(UTC) + timedelta(seconds=5))))
    assert {r["message_id"] for r in db.query(f"SELECT message_id FROM {db.database}.messages FINAL")} == {"r1", "r3"}


def test_a_hold_or_erasure_landing_during_a_write_still_wins(db):
    a, b = "5511933330000", "5511944440000"
    ma, mb = message("w1", a, "inbound", T0), message("w2", b, "inbound", T0)
    guard = ArchiveGuard(db)
    archive(db, guard, record(message("w0", b, "inbound", T0 - timedelta(minutes=1))))
    archive(db, guard, record(ma), record(mb), held_race=lambda: (set_hold(db, "customer", a, "x", "legal"),
                                                                  erase_customer(db, b, "dpo")))
    assert db.query(f"SELECT message_id, held FROM {db.database}.messages FINAL") == [{"message_id": "w1", "held": 1}]


def test_erasure_tombstones_cover_conversations_not_archived_yet(db):
    customer, biz2 = "5511955550000", "277321005464405"
    guard = ArchiveGuard(db)
    other = message("n1", "5511000000001", "inbound", T0).model_copy(
        update={"business_phone_number_id": biz2, "conversation_key": conversation_key(biz2, "5511000000001")})
    archive(db, guard, record(message("n0", customer, "inbound", T0)), record(other))
    erase_customer(db, customer, "dpo")
    # still on Kafka, never archived: the customer's conversation with the second business number
    late = message("n2", customer, "inbound", T0).model_copy(
        update={"business_phone_number_id": biz2, "conversation_key": conversation_key(biz2, customer)})
    archive(db, guard, record(late))
    assert {r["message_id"] for r in db.query(f"SELECT message_id FROM {db.database}.messages FINAL")} == {"n1"}
    assert customer not in str(db.query(f"SELECT * FROM {db.database}.erasures"))


def test_reports_on_a_known_data_set(db):
    a, b, c = "5215500000001", "5215500000002", "5215500000003"
    msgs = [
        message("a1", a, "inbound", T0), message("a2", a, "outbound", T0 + timedelta(seconds=60)),
        message("b1", b, "inbound", T0), message("b2", b, "outbound", T0 + timedelta(seconds=300)),
        message("c1", c, "inbound", T0 + timedelta(minutes=10)),  # never answered
    ]
    store(db, *[scan_rows(record(m, {"payment_card": 1} if m.message_id == "a1" else {}), T0) for m in msgs],
          alert_rows(alert(msgs[1], "off_channel.personal_contact")), alert_rows(alert(msgs[3], "credentials.shared")),
          alert_rows(alert(msgs[3], "after_hours.employee_message", "working_time")))
    since, until, now = T0 - timedelta(days=1), T0 + timedelta(days=1), T0 + timedelta(hours=2)
    report = queries.report(db, since, until, now, unanswered_minutes=30)
    assert {r["rule"]: r["alerts"] for r in report["alerts_by_rule"]} == {
        "off_channel.personal_contact": 1, "credentials.shared": 1, "after_hours.employee_message": 1}
    (rt,) = report["response_times"]
    assert (rt["employee"], rt["conversations"], rt["p50_seconds"], rt["p90_seconds"], rt["avg_seconds"]) == (BIZ, 2, 180, 276, 180)
    assert report["unanswered"] == [{"business_number": BIZ, "unanswered_conversations": 1}]
    assert report["after_hours"] == [{"employee": BIZ, "after_hours_messages": 1}]
    assert report["pii_types"] == [{"pii_type": "payment_card", "findings": 1, "messages": 1}]
    assert {r["direction"]: r["messages"] for r in report["volume"]} == {"inbound": 3, "outbound": 2}
    # "unanswered" depends on the clock: ten minutes after the last message it is not late yet
    assert queries.unanswered(db, since, until, 30, T0 + timedelta(minutes=20)) == []


def test_retention_ttl_spares_held_rows(db):
    old = T0 - timedelta(days=400)  # retention in this database: 365 days
    store(db, scan_rows(record(message("old-free", "5510000000001", "inbound", old)), T0),
          scan_rows(record(message("old-held", "5510000000002", "inbound", old)), T0, held=True),
          scan_rows(record(message("new", "5510000000003", "inbound", T0)), T0))
    db.command(f"OPTIMIZE TABLE {db.database}.messages FINAL")
    ids = {r["message_id"] for r in db.query(f"SELECT message_id FROM {db.database}.messages")}
    assert ids == {"old-held", "new"}


def test_erasure_refuses_held_conversations_and_is_audited(db):
    customer = "5511987654321"
    biz2 = "277321005464405"
    m1 = message("e1", customer, "inbound", T0, "meu CPF é [CPF]")
    m2 = message("e2", customer, "inbound", T0).model_copy(
        update={"business_phone_number_id": biz2, "conversation_key": conversation_key(biz2, customer)})
    other = message("o1", "5511000000000", "inbound", T0)
    store(db, *[scan_rows(record(m, {"br_cpf": 1}), T0) for m in (m1, m2, other)], alert_rows(alert(m1, "r")))

    marked = set_hold(db, "conversation", m2.conversation_key, "case 42", "dpo@example.com")
    assert marked["messages"] == 1
    report = erase_customer(db, customer, "dpo@example.com", "ticket 7")
    assert report.refused_held == [m2.conversation_key]
    assert report.conversations == [m1.conversation_key]
    assert report.rows_deleted == {"messages": 1, "alerts": 1, "pii_findings": 1, "conversation_daily": 1}
    left = {r["message_id"] for r in db.query(f"SELECT message_id FROM {db.database}.messages")}
    assert left == {"e2", "o1"}
    assert count(db, "alerts") == 0
    audit = db.query(f"SELECT actor, action, target, details FROM {db.database}.audit_log ORDER BY at")
    assert [a["action"] for a in audit] == ["hold", "erase"]
    assert customer not in str(audit) and "*********4321" in audit[1]["target"]
    assert '"conversations_refused_legal_hold"' in audit[1]["details"]


def test_a_hold_placed_later_marks_new_rows_too(db):
    customer = "5215512340000"
    set_hold(db, "customer", customer, "litigation", "legal@example.com")
    holds = ArchiveGuard(db)
    holds.before_write()
    m = message("h1", customer, "inbound", T0)
    assert holds.is_held(m.conversation_key, customer)
    store(db, scan_rows(record(m), T0, held=holds.is_held(m.conversation_key, customer)))
    assert db.query(f"SELECT held FROM {db.database}.messages")[0]["held"] == 1
    report = erase_customer(db, customer, "dpo")
    assert report.refused_held == [m.conversation_key] and report.rows_deleted == {}


def test_chdb_folder_is_exclusive_per_process(tmp_path: Path, chdb_session):
    with pytest.raises(ClickHouseError, match="cannot open embedded ClickHouse"):
        ChdbClient(tmp_path / "other", "x")


def test_grafana_dashboard_queries_run(db):
    """Every panel's SQL runs on the schema (Grafana macros replaced by fixed times)."""
    import json as _json

    dashboard = _json.loads((Path(__file__).resolve().parents[2] / "docs/grafana/chatwatch-compliance.json").read_text())
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        sql = panel["targets"][0]["rawSql"].replace("chatwatch.", f"{db.database}.")
        sql = sql.replace("$__timeFilter(message_timestamp)", "message_timestamp > now() - INTERVAL 7 DAY")
        sql = sql.replace("$__timeFilter(timestamp)", "timestamp > now() - INTERVAL 7 DAY")
        sql = sql.replace("$__fromTime", "now() - INTERVAL 7 DAY").replace("$__toTime", "now()")
        db.query(sql)


# --- migration 4 and the retro-scan ------------------------------------------------------------

def test_an_archive_of_migration_3_gains_the_identity_columns(chdb_session):
    from chatwatch.sinks.clickhouse.ddl import ALERT_HISTORICAL, MESSAGE_IDENTITY

    chdb_session.database = f"t_{uuid.uuid4().hex[:10]}"
    r = Renderer(chdb_session.database)
    chdb_session.command(r.database())
    for statement in [s for m in MIGRATIONS if m.version <= 3 for s in m.statements(r)]:  # as release 3 made them
        chdb_session.command(statement.replace(", " + MESSAGE_IDENTITY, "").replace(", " + ALERT_HISTORICAL, ""))

    def columns(table: str) -> set[str]:
        return {c["name"] for c in chdb_session.query(
            f"SELECT name FROM system.columns WHERE database = '{chdb_session.database}' AND table = '{table}'")}

    assert "customer_user_id" not in columns("messages") and "historical" not in columns("alerts")
    migrate(chdb_session, r)
    assert {"customer_user_id", "group_id", "historical", "source"} <= columns("messages")
    assert "historical" in columns("alerts")


def test_retro_scan_over_the_archive_reports_and_writes_historical_alerts(db):
    from chatwatch.rules import SHIPPED_PACKS
    from chatwatch.rules.loader import load_rules_dir
    from chatwatch.sinks.clickhouse.retro import alert_rows_of, archived, retro_scan

    now = datetime.now(UTC)
    msgs = [message(f"r{i}", f"5511987650{i:03d}", "outbound", now - timedelta(days=3, minutes=i),
                    "me chama no meu zap pessoal" if i % 10 == 0 else "segue o boleto, obrigado") for i in range(120)]
    msgs.append(message("card", "5511987650999", "outbound", now - timedelta(days=2), "o cartão é [payment_card]"))
    msgs.append(message("old", "5511987650998", "outbound", now - timedelta(days=200), "me chama no meu zap pessoal"))
    store(db, *[scan_rows(record(m, {"payment_card": 1} if m.message_id == "card" else None), now) for m in msgs])

    ruleset = load_rules_dir(SHIPPED_PACKS)
    report = retro_scan(archived(db, now - timedelta(days=90), now, page=50), ruleset, keep_hits=True)
    assert report.scanned == 121  # the 200-day-old message is outside the window; pages of 50 join up
    by_rule = {row["rule"]: row for row in report.table()}
    assert by_rule["off_channel.personal_contact"]["hits"] == 12
    assert by_rule["off_channel.personal_contact"]["conversations"] == 12
    assert by_rule["pii.card_sent_by_employee"]["hits"] == 1  # the archived PII types stand in for the values
    example = next(e for e in report.examples() if e["rule"] == "off_channel.personal_contact")
    assert example["customer"].startswith("*") and "zap pessoal" in example["text (as archived)"]

    in_two = retro_scan(archived(db, now - timedelta(days=90), now, page=50), ruleset, jobs=2, packs=(SHIPPED_PACKS,))
    assert in_two.table() == report.table()  # the rules in two processes: the same report

    written = db.insert_json("alerts", alert_rows_of(report, now))
    rows = db.query(f"SELECT historical, has(tags, 'retro') AS retro FROM {db.database}.alerts FINAL")
    assert written == len(report.hits) and rows and all(r["historical"] == 1 and r["retro"] == 1 for r in rows)


def test_a_retro_alert_is_the_live_alert_of_the_same_message_tagged_retro():
    """The retro-scan builds its rows with the live path's `to_alert` + `alert_rows`: for one message and
    rule, the live row, tagged `retro`, without evidence (a retro hit keeps none: the column's default)."""
    from chatwatch.detectors.alerts import to_alert
    from chatwatch.detectors.scanner import Scanner, Subject
    from chatwatch.rules import SHIPPED_PACKS
    from chatwatch.rules.loader import load_rules_dir
    from chatwatch.sinks.clickhouse.retro import alert_rows_of, retro_scan, rows_of_messages

    now = datetime(2026, 11, 20, 10, tzinfo=UTC)
    m = message("wamid.retro-1", "5511987650001", "outbound", T0, "me chama no meu zap pessoal")
    m = m.model_copy(update={"employee_id": "emp7", "historical": True})  # an imported chat: historical live too
    ruleset = load_rules_dir(SHIPPED_PACKS)
    live_hits = Scanner(ruleset).scan(Subject(text=m.text, direction="outbound", timestamp=m.timestamp,
                                              numbers=(BIZ, m.business_display_number)))
    live = {h.rule.id: alert_rows(to_alert(m, h, now, snippet=m.text, pii={}))["alerts"][0]
            for h in live_hits if h.rule.alert}

    retro = alert_rows_of(retro_scan(rows_of_messages([m], None), ruleset, keep_hits=True), now)
    assert "off_channel.personal_contact" in live and {r["rule_id"] for r in retro} == set(live)
    for row in retro:
        expected = {k: v for k, v in live[row["rule_id"]].items() if k != "evidence"}
        assert row == {**expected, "tags": [*expected["tags"], "retro"]}
