"""The case bundle for a regulator or a court: one zip with

    case.json          everything below, machine-readable
    conversation.csv   the conversation excerpt as the case page shows it without a reveal (redacted)
    events.csv         the case's decisions and comments
    audit.csv          the audit trail of the case (views, reveals, decisions, exports)
    case.html          a printable page of the same
    SHA256SUMS         `sha256sum -c` format, one line per file above
    manifest.json      the same digests with sizes, the export time and who exported

so a recipient can check that nothing was changed after the export. The CSVs open safely in a
spreadsheet (chatwatch.csv_export: BOM, no formulas); the digests are of those bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from chatwatch import csv_export

CONVERSATION = ("timestamp", "direction", "type", "message_id", "text", "attachments", "pii_types", "flagged")
EVENTS = ("at", "actor", "action", "status", "assignee", "reason", "note", "source")
AUDIT = ("at", "actor", "action", "target", "source", "details")


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> bytes:
    flat = ({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v for k, v in row.items()}
            for row in rows)
    return csv_export.dumps(flat, columns).encode()


def files(data: dict[str, Any], html: str) -> dict[str, bytes]:
    return {
        "case.json": json.dumps(data, ensure_ascii=False, indent=2, default=str).encode(),
        "conversation.csv": _csv(data["conversation"], CONVERSATION),
        "events.csv": _csv(data["events"], EVENTS),
        "audit.csv": _csv(data["audit"], AUDIT),
        "case.html": html.encode(),
    }


def build(data: dict[str, Any], html: str) -> bytes:
    """The zip: the case files, SHA256SUMS and manifest.json."""
    contents = files(data, html)
    digests = {name: hashlib.sha256(body).hexdigest() for name, body in contents.items()}
    sums = "".join(f"{digests[name]}  {name}\n" for name in contents)
    manifest = {"alert_id": data["alert"]["alert_id"], "exported_at": data["exported_at"],
                "exported_by": data["exported_by"], "algorithm": "SHA-256",
                "files": [{"name": n, "size": len(b), "sha256": digests[n]} for n, b in contents.items()]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in contents.items():
            z.writestr(name, body)
        z.writestr("SHA256SUMS", sums)
        z.writestr("manifest.json", json.dumps(manifest, indent=2))
    return buffer.getvalue()


def verify(zip_bytes: bytes) -> list[str]:
    """Files whose content does not match SHA256SUMS (empty: the bundle is intact)."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        bad = []
        for line in z.read("SHA256SUMS").decode().splitlines():
            digest, name = line.split("  ", 1)
            if hashlib.sha256(z.read(name)).hexdigest() != digest:
                bad.append(name)
        return bad
