"""WhatsApp chat exports: Portuguese cases of our own (no public pt export exists), then every public
export in ../shared/fixtures/chat-exports against the parses other projects expect, and their
line-level vectors."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatwatch.records import Direction, MessageType
from chatwatch.streams.ingest.chat_export import ExportFile, ImportOptions, parse_export, read_export, to_messages
from tests.conftest import shared_fixture_dir

# Android, pt-BR: 24 h, day first, " - ", "<Mídia oculta>", a deleted and an edited message, a caption.
PT_BR_ANDROID = """\
03/11/2026 09:02 - As mensagens e as ligações são protegidas com a criptografia de ponta a ponta.
03/11/2026 09:02 - Cliente Ana: Bom dia! Meu pedido não chegou
03/11/2026 09:05 - Carlos Loja: Bom dia Ana, me passa seu CPF
por favor, para eu localizar
03/11/2026 09:06 - Cliente Ana: 529.982.247-25
03/11/2026 09:07 - Cliente Ana: <Mídia oculta>
03/11/2026 09:08 - Carlos Loja: Mensagem apagada
03/11/2026 09:09 - Carlos Loja: me chama no meu zap pessoal <Mensagem editada>
03/11/2026 09:10 - Cliente Ana: IMG-20261103-WA0007.jpg (arquivo anexado)
foto da caixa
"""
# iOS, pt-PT: brackets, seconds, invisible marks, the attachment marker of iOS.
PT_PT_IOS = """\
[13/11/26, 18:40:01] Loja Lisboa: Boa tarde, em que posso ajudar?
[13/11/26, 18:41:12] +351 912 345 678: \u200e<anexado: 00000012-PHOTO-2026-11-13-18-41-12.jpg>
[13/11/26, 18:41:30] +351 912 345 678: O NIF é 123456789
"""
# iOS, es-MX: 12 h "p.\u202fm.", month 13 nowhere: the order comes from the day 25.
ES_IOS = "[25/11/26, 7:41:00 p.\u202fm.] Vendedor: listo\n[25/11/26, 7:42:10 p.\u202fm.] Pedro: gracias\n"


def export(text: str, name: str = "chat") -> ExportFile:
    return ExportFile(name, text)


def test_portuguese_android_export():
    lines = parse_export(PT_BR_ANDROID)
    assert [(x.author, x.when.strftime("%H:%M")) for x in lines][:3] == [
        (None, "09:02"), ("Cliente Ana", "09:02"), ("Carlos Loja", "09:05")]
    assert lines[2].text == "Bom dia Ana, me passa seu CPF\npor favor, para eu localizar"
    msgs = to_messages(export(PT_BR_ANDROID), ImportOptions(employee="Carlos Loja", number="5511940001111",
                                                            tz="America/Sao_Paulo"))
    kinds = [(m.type, m.direction, m.text) for m in msgs]
    assert kinds[0][0] is MessageType.system
    assert kinds[1] == (MessageType.text, Direction.inbound, "Bom dia! Meu pedido não chegou")
    assert kinds[2][1] is Direction.outbound
    assert kinds[4] == (MessageType.document, Direction.inbound, None) and msgs[4].details["media_omitted"]
    assert kinds[5] == (MessageType.deleted, Direction.outbound, None)
    assert kinds[6] == (MessageType.text, Direction.outbound, "me chama no meu zap pessoal") and msgs[6].details["edited"]
    assert (msgs[7].type, msgs[7].attachments[0].filename, msgs[7].text) == (
        MessageType.image, "IMG-20261103-WA0007.jpg", "foto da caixa")
    assert msgs[1].timestamp == datetime(2026, 11, 3, 12, 2, tzinfo=UTC)  # 09:02 in São Paulo
    assert all(m.historical and m.origin.channel == "chat_export" for m in msgs)
    assert len({m.conversation_key for m in msgs}) == 1 and msgs[1].customer_name == "Cliente Ana"


def test_portuguese_ios_export_with_a_number_as_author():
    msgs = to_messages(export(PT_PT_IOS), ImportOptions(employee="Loja Lisboa", number="351210000000",
                                                        tz="Europe/Lisbon"))
    assert [m.direction for m in msgs] == [Direction.outbound, Direction.inbound, Direction.inbound]
    assert msgs[1].type is MessageType.image and msgs[1].attachments[0].filename.startswith("00000012-PHOTO")
    assert msgs[2].customer_wa_id == "351912345678" == msgs[0].customer_wa_id


def test_the_employee_may_be_named_by_number_and_twelve_hour_clocks():
    msgs = to_messages(export(PT_PT_IOS), ImportOptions(employee="+351 912 345 678", number="351210000000"))
    assert [m.direction for m in msgs] == [Direction.inbound, Direction.outbound, Direction.outbound]
    es = parse_export(ES_IOS)
    assert [x.when for x in es] == [datetime(2026, 11, 25, 19, 41), datetime(2026, 11, 25, 19, 42, 10)]


def test_importing_twice_gives_the_same_ids_and_a_longer_export_adds_only_the_new():
    options = ImportOptions(employee="Carlos Loja", number="5511940001111")
    first = [m.message_id for m in to_messages(export(PT_BR_ANDROID), options)]
    again = [m.message_id for m in to_messages(export(PT_BR_ANDROID), options)]
    longer = [m.message_id for m in to_messages(export(PT_BR_ANDROID + "04/11/2026 10:00 - Cliente Ana: chegou!\n"),
                                                options)]
    assert first == again and len(set(first)) == len(first)
    assert longer[:-1] == first and longer[-1] not in first


def test_a_chat_with_several_customers_is_a_group():
    text = ("01/12/2026 10:00 - Loja: Oi grupo\n01/12/2026 10:01 - Ana: oi\n01/12/2026 10:02 - Bia: olá\n")
    msgs = to_messages(export(text, "Clientes VIP"), ImportOptions(employee="Loja", number="5511940001111"))
    assert {m.group_id for m in msgs} == {"export:Clientes VIP"} and len({m.conversation_key for m in msgs}) == 1
    assert [m.customer_wa_id for m in msgs] == ["group:Clientes VIP", "ana", "bia"]  # the employee's: the group


def test_a_zip_export_with_its_media(tmp_path: Path):
    photo = b"\xff\xd8 not really a jpeg"
    with zipfile.ZipFile(tmp_path / "WhatsApp Chat - Ana.zip", "w") as archive:
        archive.writestr("_chat.txt", "\ufeff" + PT_BR_ANDROID)
        archive.writestr("IMG-20261103-WA0007.jpg", photo)
    read = read_export(tmp_path / "WhatsApp Chat - Ana.zip")
    msgs = to_messages(read, ImportOptions(employee="Carlos Loja", number="5511940001111"))
    att = msgs[7].attachments[0]
    assert att.size == len(photo) and att.sha256 and len(att.sha256) == 64


def test_a_body_line_that_starts_like_a_date_stays_in_its_message():
    text = ("[13/11/26, 18:40:01] Loja: a reunião é\n13/11/26 18:50 - no escritório\n"
            "[13/11/26, 18:41:12] Ana: ok\n")
    lines = parse_export(text)
    assert [x.author for x in lines] == ["Loja", "Ana"] and lines[0].text.endswith("no escritório")


# --- public exports ----------------------------------------------------------------------------

def folder() -> Path:
    return shared_fixture_dir("chat-exports")


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_every_public_export_parses():
    files = sorted(folder().glob("*/*.txt"))
    assert len(files) == 35
    for path in files:
        read = read_export(path)
        lines = parse_export(read.text)
        assert lines, path.name
        assert all(datetime(2009, 1, 1) < x.when < datetime(2030, 1, 1) for x in lines), path.name
        assert sum(x.text.count("\n") + 1 for x in lines) <= len(read.text.splitlines()), path.name
        msgs = to_messages(read, ImportOptions(employee="You", number="15550001111"))
        assert len({m.message_id for m in msgs}) == len(msgs), path.name


@pytest.mark.parametrize("name", ["en-android-24h-mdy", "en-android-12h-mdy", "en-ios-24h-mdy-brackets-seconds",
                                  "en-ios-12h-mdy-brackets-seconds", "de-android-24h-dmy-dots", "de-android-12h-dmy-dots",
                                  "de-ios-24h-dmy-dots-brackets-seconds", "de-ios-12h-dmy-dots-brackets-seconds"])
def test_whatsr_expected_parses(name):
    rows = read_csv(folder() / f"whatsr/expected/{name}.parse_chat.converted.csv")
    got = parse_export(read_export(folder() / f"whatsr/{name}.txt").text)
    want = [(None if r["Sender"] == "WhatsApp System Message" else r["Sender"], r["DateTime_utc"][:16]) for r in rows]
    assert [(x.author, x.when.isoformat()[:16]) for x in got] == want


def test_chat_miner_expected_parses():
    """chat-miner drops system lines and the empty body 'Name:.' (its old version called it a
    '<Disappearing Message>'); it turns no-break spaces into spaces."""
    target = sorted((t["timestamp"], t["author"], t["message"]) for t in json.loads(
        (folder() / "chat-miner/expected/target.json").read_text()))
    for name in ("android-24h-ymd-slashes", "en-android-24h-dmy", "en-android-24h-mdy",
                 "en-ios-24h-mdy-brackets-noseconds", "es-style-android-12h-mdyyyy-a.m"):
        got = parse_export(read_export(folder() / f"chat-miner/{name}.txt").text)
        assert sorted((x.when.isoformat(), x.author, x.text.replace("\n", " ")) for x in got
                      if x.author and x.text != ".") == target, name
    for expected in sorted(folder().glob("chat-miner/expected/hist-*.target.csv")):
        want = sorted((r["timestamp"], r["author"], r["message"]) for r in read_csv(expected)
                      if r["message"] != "<Disappearing Message>")
        got = parse_export(read_export(folder() / "chat-miner" / expected.name.replace(".target.csv", ".txt")).text)
        assert sorted((x.when.isoformat(" "), x.author or "System", x.text.replace("\n", " ").replace("\xa0", " "))
                      for x in got if x.text != ".") == want, expected.name


def test_rwhatsapp_expected_parse():
    rows = read_csv(folder() / "rwhatsapp/expected/en-android-24h-dmy.sample.rwa_read.converted.csv")
    got = parse_export(read_export(folder() / "rwhatsapp/en-android-24h-dmy.sample.txt").text)
    assert [(x.author, x.text, x.when.isoformat()[:16]) for x in got] == [
        (None if r["author"] == "NA" else r["author"], r["text"], r["time_utc"][:16]) for r in rows]


def test_line_vectors_dates_attachments_and_merges():
    vectors = json.loads((folder() / "line-vectors/whatsapp-chat-parser.parser-tests.json").read_text())
    for case in vectors["date_formats"]:
        (line,) = parse_export(case["line"])
        assert line.when.isoformat() + ".000Z" == case["expected_date_utc"], case["note"]
        assert (line.author, line.text) == ("a", "m"), case["note"]
    for case in vectors["attachments"]:
        (msg,) = to_messages(export(case["line"]), ImportOptions(employee="b", number="1"))
        name = msg.attachments[0].filename if msg.attachments else None
        assert name == case["expected_attachment_fileName"], case["line"]
    merge = vectors["multiline_merge"]
    (line,) = parse_export("\n".join(merge["lines"]))
    assert line.text == merge["expected_message"].split(": ", 1)[1]
    days = vectors["days_first_option"]
    for day_first, key in ((True, "daysFirst_true"), (False, "daysFirst_false")):
        (line,) = parse_export(days["line"], day_first=day_first)
        assert (line.when.day, line.when.month - 1) == (days[key]["day"], days[key]["month_index0"])


def test_chatmap_and_german_vectors():
    chatmap = json.loads((folder() / "line-vectors/chatmap.tests.json").read_text())
    for case in chatmap["media_attachment_lines"]:
        (msg,) = to_messages(export(case["line"]), ImportOptions(employee="x", number="1"))
        assert (msg.attachments[0].filename, msg.type.value) == (case["expected_path"], case["expected_type"])
    for case in chatmap["timestamps"]:
        (line,) = parse_export(case["input"] + " - a: m")
        assert (line.when.hour, line.when.minute) == (case["expected_hours"], case["expected_minutes"])
    for raw in chatmap["other_lines_from_parseAndIndex_test"]:
        assert len(parse_export(raw)) == 1, raw
    german = json.loads((folder() / "line-vectors/whatsapp-to-sqlite.locale-de.json").read_text())
    for case in german["cases"]:
        (msg,) = to_messages(export(case["raw"]), ImportOptions(employee="x", number="1", tz="Europe/Berlin"))
        want = case["expected"]
        assert msg.timestamp.strftime("%Y-%m-%dT%H:%M") == want["timestamp"].split(" ")[0]
        if want["class"] == "RoomE2EEnabledNotification":
            assert msg.type is MessageType.system
            continue
        assert msg.customer_name == want["sender"]
        if want.get("file"):
            assert msg.attachments and msg.attachments[0].filename == want.get("filename")
            assert bool(msg.details.get("media_omitted")) == bool(want.get("file_lost"))
            assert (msg.text or None) == ((want.get("continued_text") or "").strip() or None)
        else:
            assert msg.text == (want["text"] + want.get("continued_text", "")).strip()


@pytest.mark.parametrize(("body", "kind", "deleted"), [
    ("Se eliminó este mensaje.", MessageType.deleted, True),
    ("Eliminaste este mensaje.", MessageType.deleted, True),
    ("Você apagou esta mensagem", MessageType.deleted, True),
    ("imagen omitida", MessageType.image, False),
    ("<Mídia oculta>", MessageType.document, False),
    ("áudio omitido", MessageType.audio, False),
    ("figurinha omitida", MessageType.sticker, False),
])
def test_placeholders_of_es_and_pt_exports(body, kind, deleted):
    (msg,) = to_messages(export(f"25/11/2026 10:00 - Ana: {body}\n25/11/2026 10:01 - Loja: ok\n"),
                         ImportOptions(employee="Loja", number="1"))[:1]
    assert msg.type is kind and (msg.text is None)
    assert bool(msg.details.get("media_omitted")) is not deleted


def test_export_times_default_to_the_business_numbers_time_zone():
    """A São Paulo export's 21:47 is 21:47 in São Paulo (before: read as UTC, an after-hours message
    counted as in business hours)."""
    from chatwatch.streams.ingest.chat_export import number_time_zone, time_zone

    msgs = to_messages(export(PT_BR_ANDROID), ImportOptions(employee="Carlos Loja", number="5511940001111"))
    assert msgs[1].timestamp.utcoffset().total_seconds() == -3 * 3600
    assert number_time_zone("+52 1 55 5000 1111") == number_time_zone("5215550001111") == "America/Mexico_City"
    assert number_time_zone("34910000000") == "Europe/Madrid"
    assert number_time_zone("106540352242922") is None  # a phone number id, not a number: UTC, said so
    assert time_zone(ImportOptions(employee="x", number="106540352242922")) == "UTC"
    assert time_zone(ImportOptions(employee="x", number="5511940001111", tz="Europe/Lisbon")) == "Europe/Lisbon"
