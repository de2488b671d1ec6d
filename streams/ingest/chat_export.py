"""WhatsApp "Export chat" files -> canonical messages (source `chat_export`, historical).

The app writes one line per message, `<date>, <time> - <author>: <text>` on Android and
`[<date>, <time>] <author>: <text>` on iOS, in the phone's locale: day or month first, 12 or 24 h
clocks with "PM", "p. m." (with no-break spaces), seconds or not; continuation lines of a
multi-line message carry no header; lines without an author are system lines. Pure: the caller
reads the file (`read_export` handles .txt and .zip with media).

Robustness: the header *shape* (bracket, separator) is learned per file from its most common
form, so a message body that happens to begin with a date is not taken for a new message; the
date order is learned per file too (a day above 12 settles it; otherwise the order that keeps the
chat chronological, then the `day_first` hint).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers.timezone import time_zones_for_number as phone_time_zones

from chatwatch.records import Attachment, Direction, Message, MessageType, Origin, conversation_key

_SPACE = r"[ \t\u00a0\u202f]"
HEADER = re.compile(
    r"^[\u200e\u200f\ufeff]*(?P<open>\[)?[\u200e\u200f\ufeff]*" + _SPACE + r"*"
    r"(?P<d1>\d{1,4})(?P<sep>[./\-])" + _SPACE + r"?(?P<d2>\d{1,4})(?P=sep)" + _SPACE + r"?(?P<d3>\d{2,4})\.?"
    r",?" + _SPACE + r"+(?:klo" + _SPACE + r"+)?"
    r"(?P<h>\d{1,2})[:.](?P<mi>\d{2})(?:[:.](?P<s>\d{2}))?\.?"
    r"(?:" + _SPACE + r"*(?P<ampm>[aApP]\.?" + _SPACE + r"?[mM]\.?))?"
    r"(?P<close>" + _SPACE + r"*\])?"
    r"(?P<after>" + _SPACE + r"*[-\u2013:]" + _SPACE + r"|" + _SPACE + r")"
    r"(?P<rest>.*)$")
INVISIBLE = "\u200e\u200f\ufeff"

# What the app writes instead of a message or a file, per language (es, pt, en, de, fr).
OMITTED = re.compile(r"^<?(?:media omitted|mídia oculta|midia oculta|mídia omitida|multimedia omitido|archivo omitido|"
                     r"arquivo omitido|multimédia omitida|medien ausgeschlossen|medien weggelassen|"
                     r"ficheiro não revelado|arquivo de mídia oculto|"
                     r"(?P<kind>image|imagen|imagem|bild|video|vídeo|audio|áudio|sticker|figurinha|gif|document|"
                     r"documento|contact card|tarjeta de contacto|cartão de contato)"
                     r" (?:omitted|omitid[oa]|ocultad?[oa]|weggelassen))>?$", re.I)
OMITTED_KINDS = {"image": "image", "imagen": "image", "imagem": "image", "bild": "image", "video": "video",
                 "vídeo": "video", "audio": "audio", "áudio": "audio", "sticker": "sticker", "figurinha": "sticker",
                 "gif": "video"}
ATTACHED = re.compile(r"^<\s*(?:attached|adjunto|anexado|anexo|anhang|pièce jointe)\s*:\s*(?P<name>[^>]+?)\s*>$"
                      r"|^(?P<name2>\S.*?\.\w{2,5})\s+\((?:file attached|archivo adjunto|arquivo anexado|datei "
                      r"angehängt|fichier joint)\)$"
                      r"|^(?P<name3>\S+\.\w{2,5})\s*<[\u200e]*(?:attached|adjunto|anexado)>$", re.I)
DELETED = re.compile(r"^(?:this message was deleted|you deleted this message|message deleted|se eliminó este mensaje|"
                     r"eliminaste este mensaje|este mensaje fue eliminado|mensagem apagada|esta mensagem foi apagada|"
                     r"você apagou esta mensagem|apagaste esta mensagem|diese nachricht wurde gelöscht|"
                     r"du hast diese nachricht gelöscht)\.?$", re.I)
EDITED = re.compile(r"\s*<(?:this message was edited|se editó este mensaje\.?|mensagem editada|"
                    r"nachricht wurde bearbeitet|este mensaje fue editado)>\s*$", re.I)
KINDS = {"jpg": "image", "jpeg": "image", "png": "image", "heic": "image", "gif": "image", "webp": "sticker",
         "mp4": "video", "mov": "video", "3gp": "video", "opus": "audio", "ogg": "audio", "m4a": "audio",
         "mp3": "audio", "aac": "audio"}
MAX_AUTHOR = 60  # "Alice changed the subject to "Trip: 2020"" is a system line, not an author "Alice changed…"


@dataclass
class ExportLine:
    """One message of an export as written: local time, author (None for system lines), text."""

    when: datetime
    author: str | None
    text: str
    line_no: int
    raw_text: str = ""  # the text before invisible marks were stripped (iOS marks system lines with U+200E)


@dataclass
class ExportFile:
    """An export's text and, for a .zip, the media files in it (name -> (size, sha256))."""

    name: str
    text: str
    media: dict[str, tuple[int, str]] = field(default_factory=dict)


def read_export(path: Path) -> ExportFile:
    """A .txt export, or a .zip as the app shares it (the chat's .txt plus its media)."""
    if path.suffix.lower() != ".zip":
        return ExportFile(path.stem, path.read_bytes().decode("utf-8-sig", errors="replace"))
    with zipfile.ZipFile(path) as archive:
        texts = [i for i in archive.infolist() if i.filename.lower().endswith(".txt")]
        if not texts:
            raise ValueError(f"{path.name}: no .txt chat inside the zip")
        chat = min(texts, key=lambda i: (not i.filename.startswith("_chat"), len(i.filename)))
        media = {}
        for info in archive.infolist():
            if info is not chat and not info.is_dir():
                with archive.open(info) as stream:
                    digest = hashlib.sha256()
                    for block in iter(lambda s=stream: s.read(1 << 20), b""):
                        digest.update(block)
                media[Path(info.filename).name] = (info.file_size, digest.hexdigest())
        text = io.TextIOWrapper(archive.open(chat), encoding="utf-8-sig", errors="replace").read()
    return ExportFile(path.stem, text, media)


def parse_export(text: str, day_first: bool | None = None) -> list[ExportLine]:
    """Every message of an export, multi-line messages joined, in file order."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    matches = [HEADER.match(line) for line in lines]
    shapes = Counter(_shape(m) for m in matches if m)
    if not shapes:
        return []
    shape = shapes.most_common(1)[0][0]
    headers = [(i, m) for i, m in enumerate(matches) if m and _shape(m) == shape]
    order = _date_order([m for _, m in headers], day_first)
    out: list[ExportLine] = []
    header_at = dict(headers)
    current: ExportLine | None = None
    for i, line in enumerate(lines):
        m = header_at.get(i)
        when = _when_or_none(m, order) if m else None  # "31/02/24 10:00 …" is no date: a body line
        if when is None:
            if current is not None:
                current.text += "\n" + line
            continue
        author, body = _author_and_text(m.group("rest"))
        current = ExportLine(when, author, body, i + 1, m.group("rest").partition(": ")[2] if author else "")
        out.append(current)
    for item in out:
        item.text = item.text.rstrip("\n ").strip(INVISIBLE)
    return out


def _shape(m: re.Match) -> tuple:
    """The header's form apart from its numbers: which brackets, separators and clock it uses."""
    after = m.group("after").strip(" \t\u00a0\u202f") or " "
    return bool(m.group("open")), m.group("sep"), after, bool(m.group("s")), bool(m.group("ampm"))


def _date_order(headers: list[re.Match], day_first: bool | None) -> str:
    """'ymd', 'dmy' or 'mdy' for the whole file."""
    if any(len(m.group("d1")) == 4 for m in headers):
        return "ymd"
    if any(len(m.group("d2")) == 4 for m in headers):
        return "myd"  # "[06/2018/13, 21:25:15]": some locales put the year in the middle
    if any(int(m.group("d1")) > 12 for m in headers):
        return "dmy"
    if any(int(m.group("d2")) > 12 for m in headers):
        return "mdy"
    if day_first is not None:
        return "dmy" if day_first else "mdy"

    def backwards(order: str) -> int:  # how often time would run backwards under this order
        times = [_when_or_none(m, order) for m in headers]
        return sum(1 for a, b in itertools.pairwise(times) if b is not None and a is not None and b < a)

    return "mdy" if backwards("mdy") < backwards("dmy") else "dmy"


def _when(m: re.Match, order: str) -> datetime:
    a, b, c = int(m.group("d1")), int(m.group("d2")), int(m.group("d3"))
    year, month, day = {"ymd": (a, b, c), "dmy": (c, b, a), "mdy": (c, a, b), "myd": (b, a, c)}[order]
    year += 2000 if year < 100 else 0
    hour = int(m.group("h"))
    meridiem = re.sub(r"[^apAP]", "", m.group("ampm") or "").lower()
    if meridiem == "p" and hour < 12:
        hour += 12
    elif meridiem == "a" and hour == 12:
        hour = 0
    return datetime(year, month, day, hour % 24, int(m.group("mi")), int(m.group("s") or 0))


def _when_or_none(m: re.Match, order: str) -> datetime | None:
    try:
        return _when(m, order)
    except ValueError:
        return None


def _author_and_text(rest: str) -> tuple[str | None, str]:
    rest = rest.lstrip(INVISIBLE)
    author, sep, text = rest.partition(":")
    if not sep or not author.strip() or len(author) > MAX_AUTHOR or '"' in author or "“" in author:
        return None, rest
    return author.strip(" " + INVISIBLE), text.removeprefix(" ").lstrip(INVISIBLE)


# --- to canonical messages ---------------------------------------------------------------------

@dataclass(frozen=True)
class ImportOptions:
    employee: str  # the employee's name or number as the export writes it
    number: str  # the business number (phone number id / display number of the chat's phone)
    tz: str | None = None  # the phone's time zone (exports carry local times); None: the business number's
    day_first: bool | None = None  # when the file cannot tell (every day ≤ 12 and both orders plausible)


def time_zone(options: ImportOptions) -> str:
    """The zone export times are read in: `--tz`, else the business number's (a São Paulo export's 21:47
    is 21:47 in São Paulo, not in UTC), else UTC."""
    return options.tz or number_time_zone(options.number) or "UTC"


def number_time_zone(number: str) -> str | None:
    """The time zone of a phone number's area, when phonenumbers knows one ("+52 1 55…": Mexico City)."""
    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("521") and len(digits) == 13:
        digits = "52" + digits[3:]  # WhatsApp's Mexican mobile prefix
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    zones = [z for z in phone_time_zones(parsed) if z != "Etc/Unknown"]
    return zones[0] if zones else None


def authors(export: ExportFile, options: ImportOptions) -> set[str]:
    """Who writes in the export, as `--employee` is compared (names casefolded, numbers by digits)."""
    return {_person(x.author) for x in parse_export(export.text, options.day_first) if x.author}


def employee_key(options: ImportOptions) -> str:
    return _person(options.employee)


def to_messages(export: ExportFile, options: ImportOptions) -> list[Message]:
    """The export's messages as canonical messages: the employee's are outbound, everybody else's inbound;
    a chat with more than one other person is a group (its key is the chat's name). Ids are deterministic
    (chat, time, author, text and the count of identical ones before), so importing twice adds nothing."""
    lines = parse_export(export.text, options.day_first)
    zone = ZoneInfo(time_zone(options))
    employee = _person(options.employee)
    others = sorted({_person(x.author) for x in lines if x.author and _person(x.author) != employee})
    group = export.name if len(others) > 1 else None
    customer_default = others[0] if len(others) == 1 else None
    seen: Counter = Counter()
    out = []
    for line in lines:
        author = _person(line.author) if line.author else None
        outbound = author == employee
        if group:  # a participant's own messages name them; the employee's and system lines name the group
            customer = author if author and not outbound else f"group:{group}"
        else:
            customer = customer_default or author or "unknown"
        identity = (options.number, group or customer, line.when.isoformat(), line.author or "", line.text)
        seen[identity] += 1
        digest = hashlib.sha256("\x1f".join([*identity, str(seen[identity])]).encode()).hexdigest()[:32]
        out.append(_message(line, f"export.{digest}", customer, group, outbound, options, zone, export))
    return out


def _person(name: str | None) -> str:
    """Names as written, numbers by their digits ("+55 11 98765-4321" == "5511987654321")."""
    name = (name or "").strip(" " + INVISIBLE)
    digits = re.sub(r"\D", "", name)
    return digits if digits and re.fullmatch(r"[+\d\s().\-\u00a0\u202f]+", name) else name.casefold()


def _message(line: ExportLine, message_id: str, customer: str, group: str | None, outbound: bool,
             options: ImportOptions, zone: ZoneInfo, export: ExportFile) -> Message:
    text, details = line.text, {"export_file": export.name, "export_line": line.line_no}
    kind, attachments = MessageType.text, []
    first, _, caption = text.partition("\n")
    if line.author is None:
        kind = MessageType.system
    elif EDITED.search(text):
        text, details["edited"] = EDITED.sub("", text), True
    if line.author is None:
        pass
    elif DELETED.match(text.strip()):
        kind, text = MessageType.deleted, None
    elif omitted := OMITTED.match(first.strip(" " + INVISIBLE)):
        media_kind = OMITTED_KINDS.get((omitted.group("kind") or "").lower(), "document")
        kind, text, details["media_omitted"] = MessageType(media_kind), caption.strip() or None, True
        attachments = [Attachment(kind=media_kind)]
    elif line.raw_text.startswith("\u200e") and not _attached(text):
        kind = MessageType.system  # iOS writes group events under the group's name, after a mark: "‎Añadiste a…"
    elif found := _attached(text):
        name, caption = found
        media_kind = KINDS.get(name.rsplit(".", 1)[-1].lower(), "document")
        size, sha = export.media.get(name, (None, None))
        kind, text = MessageType(media_kind), caption
        attachments = [Attachment(kind=media_kind, filename=name, size=size, sha256=sha)]
    when = line.when.replace(tzinfo=zone)
    return Message(
        message_id=message_id,
        business_phone_number_id=options.number,
        business_display_number=options.number,
        customer_wa_id=customer,
        customer_name=None if outbound or line.author is None else line.author,
        group_id=f"export:{group}" if group else None,
        historical=True,
        conversation_key=conversation_key(options.number, f"group:export:{group}" if group else customer),
        direction=Direction.outbound if outbound else Direction.inbound,
        timestamp=when,
        type=kind,
        source_type="chat_export",
        text=text or None,
        attachments=attachments,
        details=details,
        origin=Origin(channel="chat_export", field="chat_export"),
    )


def _attached(text: str) -> tuple[str, str | None] | None:
    """(file name, caption) of an attachment line: the marker on the first line, a caption after it."""
    first, _, caption = text.strip(INVISIBLE).partition("\n")
    m = ATTACHED.match(first.strip(" " + INVISIBLE))
    if not m:
        return None
    name = (m.group("name") or m.group("name2") or m.group("name3")).strip(INVISIBLE + " ")
    return name, caption.strip() or None
