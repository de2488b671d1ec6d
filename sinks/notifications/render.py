"""Notification payloads for each channel — pure functions fed only with redacted fields.

Inputs are a notification (see grouping.take) whose alert summaries carry the rule, severity,
employee/team, the masked customer number, the time, the redacted snippet and the matched terms;
never a raw message. Times are shown in the receiver's time zone; words in its language.
What people wrote (excerpt, context) is defanged and every field escaped for the channel's own
markup (see escape.py): links and mentions in a notification come only from chatwatch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from chatwatch.detectors.keywords import KeywordIndex, TermSpec
from chatwatch.detectors.normalize import fold
from chatwatch.sinks.notifications import escape
from chatwatch.sinks.notifications.config import Receiver

ARROWS = {"inbound": "←", "outbound": "→"}


def context_lines(a: dict[str, Any], tz: str) -> list[str]:
    """Earlier messages of the conversation (already redacted): '→ 14:02 texto' (→ employee, ← customer)."""
    return [f"{ARROWS.get(c['direction'], '·')} {local_time(c['timestamp'], tz)[11:16]} {c['text']}"
            for c in a.get("context", [])]


TEXT = {
    "es": {"alerts": "alertas", "employee": "Empleado", "team": "Equipo", "customer": "Cliente", "time": "Hora",
           "severity": "Severidad", "open": "Revisar en la consola", "ack": "Confirmar recepción", "digest": "Resumen",
           "more": "y {n} más", "test": "Notificación de prueba de chatwatch", "excerpt": "Mensaje (datos personales "
           "ocultos)", "earlier": "Antes en la conversación", "footer": "Enviado por chatwatch a {to}. El texto "
           "no incluye datos personales: ábralo en la consola para ver el caso.",
           "sev": {"critical": "Crítica", "high": "Alta", "medium": "Media", "low": "Baja", "info": "Informativa"}},
    "pt": {"alerts": "alertas", "employee": "Funcionário", "team": "Equipe", "customer": "Cliente", "time": "Hora",
           "severity": "Severidade", "open": "Revisar no console", "ack": "Confirmar recebimento", "digest": "Resumo",
           "more": "e mais {n}", "test": "Notificação de teste do chatwatch", "excerpt": "Mensagem (dados pessoais "
           "ocultos)", "earlier": "Antes na conversa", "footer": "Enviado pelo chatwatch para {to}. O texto não "
           "inclui dados pessoais: abra no console para ver o caso.",
           "sev": {"critical": "Crítica", "high": "Alta", "medium": "Média", "low": "Baixa", "info": "Informativa"}},
    "en": {"alerts": "alerts", "employee": "Employee", "team": "Team", "customer": "Customer", "time": "Time",
           "severity": "Severity", "open": "Review in the console", "ack": "Acknowledge", "digest": "Digest",
           "more": "and {n} more", "test": "chatwatch test notification", "excerpt": "Message (personal data "
           "hidden)", "earlier": "Earlier in the conversation", "footer": "Sent by chatwatch to {to}. The text "
           "carries no personal data: open the console to see the case.",
           "sev": {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "info": "Info"}},
}
SHOWN = 5  # alerts listed in one notification
SLACK_COLORS = {"critical": "#b00020", "high": "#d84315", "medium": "#b26a00", "low": "#1565c0", "info": "#546e7a"}
TEAMS_COLORS = {"critical": "Attention", "high": "Attention", "medium": "Warning", "low": "Accent", "info": "Default"}


def severity_word(severity: str, lang: str) -> str:
    return TEXT[lang]["sev"].get(severity, severity)


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


def headline(n: dict[str, Any], lang: str, esc=lambda s: s) -> str:
    """'[MEDIA] 7 × <rule title> — <employee>'; `esc` escapes the two fields that are not our own words."""
    t = TEXT[lang]
    first = n["alerts"][0]
    count = f"{n['count']} × " if n["count"] > 1 else ""
    prefix = f"{t['digest']}: " if n.get("digest") else ""
    return (f"{prefix}[{severity_word(first['severity'], lang).upper()}] {count}{esc(str(first['rule_title']))} — "
            f"{esc(str(first['employee']))}")


def written(a: dict[str, Any]) -> dict[str, Any]:
    """The summary with what people wrote (excerpt, context lines) defanged: no links, no mentions."""
    return {**a, "snippet": escape.defang(a.get("snippet") or ""),
            "context": [{**c, "text": escape.defang(c.get("text") or "")} for c in a.get("context") or []]}


def _lines(n: dict[str, Any], r: Receiver) -> list[dict[str, Any]]:
    return [{"time": local_time(a["message_timestamp"], r.timezone), **written(a)} for a in n["alerts"][:SHOWN]]


def email(n: dict[str, Any], r: Receiver, link_for) -> EmailMessage:
    """A mail that reads well in Outlook, Gmail and on a phone: one column, tables for layout, inline CSS
    only (mail clients drop <style>), the severity in the receiver's language and colour, labelled facts,
    the redacted excerpt with the matched words marked and one "review in the console" button."""
    t = TEXT[r.language]
    msg = EmailMessage()
    msg["Subject"] = " ".join(("[chatwatch] " + headline(n, r.language)).split())  # a header: no line breaks
    msg["From"] = r.email.sender if r.email else "chatwatch@localhost"
    msg["To"] = ", ".join(r.to)
    if n.get("id"):  # the same id when a notification is sent again after a crash: mail systems dedupe on it
        msg["Message-ID"] = f"<{n['id']}@chatwatch>"
    text, cards = [], []
    for a in _lines(n, r):
        links = link_for(a)
        severity = severity_word(a["severity"], r.language)
        text.append(f"- {severity} · {a['rule_title']} · {a['time']}\n  {t['employee']}: {a['employee']} · "
                    f"{t['team']}: {a.get('team') or '—'} · {t['customer']}: {a['customer_masked']}\n"
                    + "".join(f"    {line}\n" for line in context_lines(a, r.timezone))
                    + f"  «{marked(a['snippet'], a['terms'], '[', ']')}»\n" + "".join(f"  {t[k]}: {v}\n" for k, v in links.items()))
        cards.append(_email_card(a, severity, links, r, t))
    more = n["count"] - SHOWN
    if more > 0:
        text.append(t["more"].format(n=more))
    msg.set_content(headline(n, r.language) + "\n\n" + "\n".join(text))
    title = escape.html(headline(n, r.language))
    msg.add_alternative(
        f'<!doctype html><html lang="{r.language}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
        f'<body style="margin:0;padding:0;background:#f3f5f8;">'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f5f8;">'
        f'<tr><td align="center" style="padding:16px 8px;">'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;'
        f'font-family:Arial,Helvetica,sans-serif;color:#1c2430;">'
        f'<tr><td style="padding:12px 16px;background:#14213d;color:#ffffff;font-size:16px;font-weight:bold;'
        f'border-radius:6px 6px 0 0;">chatwatch · {title}</td></tr>'
        + "".join(cards)
        + (f'<tr><td style="padding:8px 16px;font-size:14px;">{escape.html(t["more"].format(n=more))}</td></tr>'
           if more > 0 else "")
        + f'<tr><td style="padding:12px 16px;font-size:12px;color:#5b6675;">'
        f'{escape.html(t["footer"].format(to=", ".join(r.to)))}</td></tr>'
        f'</table></td></tr></table></body></html>', subtype="html")
    return msg


def _email_card(a: dict[str, Any], severity: str, links: dict[str, str], r: Receiver, t: dict[str, Any]) -> str:
    color = SLACK_COLORS.get(a["severity"], "#546e7a")
    esc = escape.html
    facts = "".join(
        f'<tr><td style="padding:2px 12px 2px 0;color:#5b6675;font-size:13px;white-space:nowrap;">{esc(label)}</td>'
        f'<td style="padding:2px 0;font-size:13px;">{esc(str(value))}</td></tr>'
        for label, value in ((t["employee"], a["employee"]), (t["team"], a.get("team") or "—"),
                             (t["customer"], a["customer_masked"]), (t["time"], a["time"])))
    earlier = "".join(f'<div style="font-size:12px;color:#5b6675;">{esc(line)}</div>'
                      for line in context_lines(a, r.timezone))
    earlier = (f'<div style="margin:8px 0 2px;font-size:12px;color:#5b6675;">{esc(t["earlier"])}</div>{earlier}'
               if earlier else "")
    excerpt = marked(a["snippet"], a["terms"], '<mark style="background:#ffe08a;padding:0 2px;">', "</mark>", esc)
    button = (f'<a href="{esc(links["open"])}" style="display:inline-block;background:#0b5cad;color:#ffffff;'
              f'text-decoration:none;font-weight:bold;font-size:14px;padding:10px 18px;border-radius:4px;">'
              f'{esc(t["open"])}</a>' if "open" in links else "")
    ack = (f' <a href="{esc(links["ack"])}" style="font-size:13px;color:#0b5cad;margin-left:12px;">{esc(t["ack"])}</a>'
           if "ack" in links else "")
    return (f'<tr><td style="background:#ffffff;padding:16px;border-left:6px solid {color};'
            f'border-bottom:1px solid #d8dde5;">'
            f'<span style="display:inline-block;background:{color};color:#ffffff;font-size:12px;font-weight:bold;'
            f'padding:2px 8px;border-radius:10px;">{esc(severity)}</span>'
            f'<div style="font-size:16px;font-weight:bold;margin:6px 0 8px;">{esc(a["rule_title"])}</div>'
            f'<table role="presentation" cellpadding="0" cellspacing="0">{facts}</table>{earlier}'
            f'<div style="margin:10px 0 4px;font-size:12px;color:#5b6675;">{esc(t["excerpt"])}</div>'
            f'<div style="background:#fffaf0;border-left:4px solid #ffc845;padding:8px 12px;font-size:14px;">'
            f'{excerpt}</div>'
            f'<div style="margin-top:12px;">{button}{ack}</div></td></tr>')


def slack(n: dict[str, Any], r: Receiver, link_for) -> dict[str, Any]:
    t = TEXT[r.language]
    esc = escape.slack
    # plain_text (the header, button labels) is not parsed as mrkdwn: names there only lose their mentions
    header = headline(n, r.language, escape.unping)[:150]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": header}}]
    for a in _lines(n, r):
        links = link_for(a)
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{t['severity']}:* {esc(severity_word(a['severity'], r.language))}"},
            {"type": "mrkdwn", "text": f"*{t['time']}:* {esc(a['time'])}"},
            {"type": "mrkdwn", "text": f"*{t['employee']}:* {esc(str(a['employee']))}"},
            {"type": "mrkdwn", "text": f"*{t['team']}:* {esc(str(a.get('team') or '—'))}"},
            {"type": "mrkdwn", "text": f"*{t['customer']}:* {esc(str(a['customer_masked']))}"}]})
        if a.get("context"):
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": "\n".join(esc(line) for line in context_lines(a, r.timezone))[:2900]}]})
        excerpt = marked(a["snippet"], a["terms"], "*", "*", esc)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "> " + excerpt.replace("\n", "\n> ")}})
        if links:
            blocks.append({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": t[k]}, "url": u,
                 **({"style": "primary"} if k == "open" else {})} for k, u in links.items()]})
    if n["count"] > SHOWN:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": t["more"].format(n=n["count"] - SHOWN)}]})
    color = SLACK_COLORS.get(n["alerts"][0]["severity"], "#546e7a")  # the colour bar beside the message
    return {"text": headline(n, r.language, esc), "attachments": [{"color": color, "blocks": blocks}]}


def teams(n: dict[str, Any], r: Receiver, link_for) -> dict[str, Any]:
    """An Adaptive Card wrapped the way Teams workflow ("Post to a channel when a webhook request is received") expects."""
    t = TEXT[r.language]
    esc = escape.teams  # TextBlock text and FactSet values are both read as markdown
    body: list[dict[str, Any]] = [{"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
                                   "color": TEAMS_COLORS.get(n["alerts"][0]["severity"], "Default"),
                                   "text": headline(n, r.language, esc)}]
    actions = []
    for a in _lines(n, r):
        body.append({"type": "FactSet", "facts": [
            {"title": t["severity"], "value": esc(severity_word(a["severity"], r.language))},
            {"title": t["time"], "value": esc(a["time"])},
            {"title": t["employee"], "value": esc(str(a["employee"]))},
            {"title": t["team"], "value": esc(str(a.get("team") or "—"))},
            {"title": t["customer"], "value": esc(str(a["customer_masked"]))}]})
        for line in context_lines(a, r.timezone):
            body.append({"type": "TextBlock", "wrap": True, "isSubtle": True, "spacing": "None", "text": esc(line)})
        body.append({"type": "TextBlock", "wrap": True, "text": marked(a["snippet"], a["terms"], "**", "**", esc)})
        actions += [{"type": "Action.OpenUrl", "title": t[k], "url": u} for k, u in link_for(a).items()]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
            "body": body, "actions": actions[:6]}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def webhook(n: dict[str, Any], r: Receiver, link_for) -> dict[str, Any]:
    """JSON for machines: json.dumps quotes every string; the excerpt and context are defanged like in every
    notification, since receivers often show them to people (a SIEM console, a chat relay)."""
    return {"version": 1, "id": n.get("id"), "receiver": r.name, "group_key": n["group_key"], "labels": n["labels"], "count": n["count"],
            "digest": n.get("digest", False),
            "alerts": [{**written(a), "links": link_for(a)} for a in n["alerts"]]}


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
