"""Notification payloads for each channel — pure functions fed only with redacted fields.

Inputs are a notification (see grouping.take) whose alert summaries carry the rule, severity,
employee/team, the masked customer number, the time, the redacted snippet and the matched terms;
never a raw message. Times are shown in the receiver's time zone; words in its language.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import time
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from chatwatch.detectors.keywords import KeywordIndex, TermSpec
from chatwatch.detectors.normalize import fold
from chatwatch.sinks.notifications.config import Receiver

ARROWS = {"inbound": "←", "outbound": "→"}


def context_lines(a: dict[str, Any], tz: str) -> list[str]:
    """Earlier messages of the conversation (already redacted): '→ 14:02 texto' (→ employee, ← customer)."""
    return [f"{ARROWS.get(c['direction'], '·')} {local_time(c['timestamp'], tz)[11:16]} {c['text']}"
            for c in a.get("context", [])]


TEXT = {
    "es": {"alerts": "alertas", "employee": "Empleado", "team": "Equipo", "customer": "Cliente", "time": "Hora",
           "severity": "Severidad", "open": "Abrir", "ack": "Confirmar recepción", "digest": "Resumen",
           "more": "y {n} más", "test": "Notificación de prueba de chatwatch"},
    "pt": {"alerts": "alertas", "employee": "Funcionário", "team": "Equipe", "customer": "Cliente", "time": "Hora",
           "severity": "Severidade", "open": "Abrir", "ack": "Confirmar recebimento", "digest": "Resumo",
           "more": "e mais {n}", "test": "Notificação de teste do chatwatch"},
    "en": {"alerts": "alerts", "employee": "Employee", "team": "Team", "customer": "Customer", "time": "Time",
           "severity": "Severity", "open": "Open", "ack": "Acknowledge", "digest": "Digest",
           "more": "and {n} more", "test": "chatwatch test notification"},
}
SHOWN = 5  # alerts listed in one notification
SLACK_COLORS = {"critical": "#b00020", "high": "#e65100", "medium": "#f9a825", "low": "#1565c0", "info": "#607d8b"}


def local_time(iso: str, tz: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def marked(snippet: str, terms: list[str], left: str, right: str, escape=lambda s: s) -> str:
    """The snippet with the rule's matched terms wrapped (accent- and case-insensitive)."""
    if not snippet or not terms:
        return escape(snippet or "")
    matches = KeywordIndex([TermSpec(i, t, fold(t), None, True, False) for i, t in enumerate(set(terms))]).find(snippet)
    out, pos = [], 0
    for start, end in sorted(matches.span(h) for h in matches):
        if start < pos:
            continue
        out += [escape(snippet[pos:start]), left, escape(snippet[start:end]), right]
        pos = end
    out.append(escape(snippet[pos:]))
    return "".join(out)


def headline(n: dict[str, Any], lang: str) -> str:
    t = TEXT[lang]
    first = n["alerts"][0]
    count = f"{n['count']} × " if n["count"] > 1 else ""
    prefix = f"{t['digest']}: " if n.get("digest") else ""
    return f"{prefix}[{first['severity'].upper()}] {count}{first['rule_title']} — {first['employee']}"


def _lines(n: dict[str, Any], r: Receiver) -> list[dict[str, str]]:
    return [{"time": local_time(a["message_timestamp"], r.timezone), **a} for a in n["alerts"][:SHOWN]]


def email(n: dict[str, Any], r: Receiver, link_for) -> EmailMessage:
    t = TEXT[r.language]
    msg = EmailMessage()
    msg["Subject"] = "[chatwatch] " + headline(n, r.language)
    msg["From"] = r.email.sender if r.email else "chatwatch@localhost"
    msg["To"] = ", ".join(r.to)
    if n.get("id"):  # the same id when a notification is sent again after a crash: mail systems dedupe on it
        msg["Message-ID"] = f"<{n['id']}@chatwatch>"
    text, rows = [], []
    for a in _lines(n, r):
        links = link_for(a)
        text.append(f"- {a['time']} · {a['severity']} · {a['rule_title']}\n  {t['employee']}: {a['employee']} · "
                    f"{t['team']}: {a.get('team') or '—'} · {t['customer']}: {a['customer_masked']}\n"
                    + "".join(f"    {line}\n" for line in context_lines(a, r.timezone))
                    + f"  «{marked(a['snippet'], a['terms'], '[', ']')}»\n" + "".join(f"  {k}: {v}\n" for k, v in links.items()))
        anchors = " ".join('<a href="%s">%s</a>' % (html.escape(u), html.escape(t[k])) for k, u in links.items())
        rows.append(f"<tr><td>{html.escape(a['time'])}</td><td><b>{html.escape(a['severity'])}</b></td>"
                    f"<td>{html.escape(a['rule_title'])}</td><td>{html.escape(a['employee'])}</td>"
                    f"<td>{html.escape(a['customer_masked'])}</td>"
                    f"<td>{''.join('<small>%s</small><br>' % html.escape(c) for c in context_lines(a, r.timezone))}"
                    f"{marked(a['snippet'], a['terms'], '<mark>', '</mark>', html.escape)}</td>"
                    f"<td>{anchors}</td></tr>")
    more = n["count"] - SHOWN
    if more > 0:
        text.append(t["more"].format(n=more))
    msg.set_content(headline(n, r.language) + "\n\n" + "\n".join(text))
    msg.add_alternative(
        f"<html><body><h3>{html.escape(headline(n, r.language))}</h3><table border='1' cellpadding='4'>"
        f"<tr><th>{t['time']}</th><th>{t['severity']}</th><th></th><th>{t['employee']}</th><th>{t['customer']}</th>"
        f"<th></th><th></th></tr>{''.join(rows)}</table>"
        + (f"<p>{html.escape(t['more'].format(n=more))}</p>" if more > 0 else "") + "</body></html>", subtype="html")
    return msg


def slack(n: dict[str, Any], r: Receiver, link_for) -> dict[str, Any]:
    t = TEXT[r.language]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": headline(n, r.language)[:150]}}]
    for a in _lines(n, r):
        links = link_for(a)
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{t['severity']}:* {a['severity']}"},
            {"type": "mrkdwn", "text": f"*{t['time']}:* {a['time']}"},
            {"type": "mrkdwn", "text": f"*{t['employee']}:* {a['employee']}"},
            {"type": "mrkdwn", "text": f"*{t['customer']}:* {a['customer_masked']}"}]})
        if a.get("context"):
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": "\n".join(context_lines(a, r.timezone))[:2900]}]})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "> " + marked(a["snippet"], a["terms"], "*", "*")}})
        if links:
            blocks.append({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": t[k]}, "url": u} for k, u in links.items()]})
    if n["count"] > SHOWN:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": t["more"].format(n=n["count"] - SHOWN)}]})
    return {"text": headline(n, r.language), "blocks": blocks}


def teams(n: dict[str, Any], r: Receiver, link_for) -> dict[str, Any]:
    """An Adaptive Card wrapped the way Teams workflow ("Post to a channel when a webhook request is received") expects."""
    t = TEXT[r.language]
    body: list[dict[str, Any]] = [{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
                                   "text": headline(n, r.language)}]
    actions = []
    for a in _lines(n, r):
        body.append({"type": "FactSet", "facts": [
            {"title": t["severity"], "value": a["severity"]}, {"title": t["time"], "value": a["time"]},
            {"title": t["employee"], "value": a["employee"]}, {"title": t["team"], "value": a.get("team") or "—"},
            {"title": t["customer"], "value": a["customer_masked"]}]})
        for line in context_lines(a, r.timezone):
            body.append({"type": "TextBlock", "wrap": True, "isSubtle": True, "spacing": "None", "text": line})
        body.append({"type": "TextBlock", "wrap": True, "text": marked(a["snippet"], a["terms"], "**", "**")})
        actions += [{"type": "Action.OpenUrl", "title": t[k], "url": u} for k, u in link_for(a).items()]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
            "body": body, "actions": actions[:6]}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def webhook(n: dict[str, Any], r: Receiver, link_for) -> dict[str, Any]:
    return {"version": 1, "id": n.get("id"), "receiver": r.name, "group_key": n["group_key"], "labels": n["labels"], "count": n["count"],
            "digest": n.get("digest", False),
            "alerts": [{**a, "links": link_for(a)} for a in n["alerts"]]}


def sign_webhook(body: bytes, secret: bytes, now: float | None = None) -> dict[str, str]:
    """X-Chatwatch-Timestamp + X-Chatwatch-Signature: sha256 HMAC of "<timestamp>.<body>" (replay protection:
    receivers reject old timestamps)."""
    ts = str(int(now if now is not None else time.time()))
    sig = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Chatwatch-Timestamp": ts, "X-Chatwatch-Signature": f"sha256={sig}"}


def verify_webhook(body: bytes, headers: dict[str, str], secret: bytes, now: float, tolerance_s: float = 300) -> bool:
    ts = headers.get("X-Chatwatch-Timestamp", "")
    if not ts.isdigit() or abs(now - int(ts)) > tolerance_s:
        return False
    expected = sign_webhook(body, secret, int(ts))["X-Chatwatch-Signature"]
    return hmac.compare_digest(expected, headers.get("X-Chatwatch-Signature", ""))


BUILDERS = {"email": email, "slack": slack, "teams": teams, "webhook": webhook}


def to_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, default=str).encode()
