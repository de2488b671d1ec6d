"""The console's pages: queue, case, decisions, reveal, export, audit, rule quality, users, acknowledge.

Every case is looked up through the user's scope (managers: their teams), so another team's case
id is "not found", not "forbidden": the page does not even confirm it exists.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from chatwatch.console import access, alert_queue, bundle, casefile, cases, quality
from chatwatch.console import audit as audit_trail
from chatwatch.console.access import ROLES, table
from chatwatch.console.context import client_address, ctx, require, scope, t, user
from chatwatch.console.teams import condition
from chatwatch.console.users import UserError
from chatwatch.sinks.clickhouse.privacy import audit
from chatwatch.sinks.notifications import ack

pages = Blueprint("pages", __name__)
REVEAL_MIN_REASON = 10


def _alert_or_404(alert_id: str) -> dict:
    alert = alert_queue.one(ctx().client, alert_id, scope())
    if alert is None:
        abort(404)
    return alert


def _decorate(row: dict) -> dict:
    """Team, employee name and overdue flag for a queue or case row."""
    people = ctx().people
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {**row, "team": people.team_of(row), "employee": people.employee_name(row),
            "overdue": row["status"] not in cases.CLOSED and str(row["due_at"]) < now}


@pages.get("/")
def home():
    return redirect(url_for("pages.queue"))


@pages.get("/queue")
def queue():
    require("view_cases")
    f = alert_queue.Filters.from_args(request.args)
    where = scope()
    if f.team:
        where = f"{where} AND {condition(ctx().people.directory, [f.team])}"
    page = alert_queue.search(ctx().client, f, where)
    return render_template("queue.html", f=f, page=page, rows=[_decorate(r) for r in page.rows],
                           facets=alert_queue.facets(ctx().client, scope()), statuses=cases.STATUSES,
                           severities=alert_queue.SEVERITIES, sorts=alert_queue.SORTS, teams=_visible_teams(),
                           page_sizes=alert_queue.PAGE_SIZES, reasons=cases.DISMISS_REASONS,
                           assignees=_assignees())


def _assignees() -> list[str]:
    """Who a case can be given to: active users who may decide."""
    return [u.username for u in ctx().users.all() if u.active and access.can(u.role, "decide")]


def _visible_teams() -> list[str]:
    return ctx().people.teams() if scope() == "1" else sorted(user().teams)


@pages.post("/queue/bulk")
def bulk():
    require("bulk")
    ids = request.form.getlist("alert_id")[:500]
    action = request.form.get("action", "")
    back = url_for("pages.queue") + "?" + request.form.get("back", "")
    if not ids:
        flash(t("none_selected"), "warning")
        return redirect(back)
    if action not in ("assign", "dismiss"):
        abort(400)
    visible = alert_queue.many(ctx().client, ids, scope())
    done, skipped = 0, len(set(ids)) - len(visible)  # not found or not the user's to see
    for alert in visible:
        try:
            cases.act(ctx().client, alert, action, user().username, assignee=request.form.get("assignee", ""),
                      reason=request.form.get("reason", ""), note=request.form.get("note", ""),
                      source=client_address(), current=cases.CaseState.of(alert))
            done += 1
        except cases.CaseError:
            skipped += 1
    flash(t("bulk_done", n=done), "ok")
    if skipped:
        flash(t("bulk_skipped", n=skipped), "warning")
    return redirect(back)


def _case_page(alert: dict, reveal: bool = False, status: int = 200):
    c = ctx()
    shown = casefile.shown_lines(c.client, alert, c.settings.console_context_messages, c.redactor, reveal)
    raw_available = any(m.get("text_mode") == "raw" for m in shown)
    return render_template(
        "case.html", a=_decorate(alert), rule=casefile.rule_info(c.rules, alert["rule_id"]),
        terms=casefile.evidence_terms(alert), evidence=casefile.evidence_labels(alert), lines=shown,
        earlier=casefile.earlier_alerts(c.client, alert, scope()), events=cases.events(c.client, alert["alert_id"]),
        revealed=reveal, raw_available=raw_available, reasons=cases.DISMISS_REASONS,
        allowed={a for a, (states, _) in cases.ACTIONS.items() if alert["status"] in states},
        assignees=_assignees()), status


@pages.get("/cases/<alert_id>")
def case(alert_id: str):
    require("view_cases")
    alert = _alert_or_404(alert_id)
    audit(ctx().client, user().username, "view_case", f"alert:{alert_id}", {"rule_id": alert["rule_id"]},
          client_address())
    return _case_page(alert)


@pages.post("/cases/<alert_id>/act")
def act(alert_id: str):
    action = request.form.get("action", "")
    require("comment" if action == "comment" else "decide")
    alert = _alert_or_404(alert_id)
    try:
        cases.act(ctx().client, alert, action, user().username, assignee=request.form.get("assignee", ""),
                  reason=request.form.get("reason", ""), note=request.form.get("note", ""), source=client_address(),
                  current=cases.CaseState.of(alert))
        flash(t("done"), "ok")
    except cases.CaseError as exc:
        flash(str(exc), "error")
    return redirect(url_for("pages.case", alert_id=alert_id))


@pages.post("/cases/<alert_id>/reveal")
def reveal(alert_id: str):
    require("reveal")
    alert = _alert_or_404(alert_id)
    reason = request.form.get("reason", "").strip()
    if len(reason) < REVEAL_MIN_REASON:
        flash(t("reveal_short"), "error")
        return _case_page(alert, status=400)
    audit(ctx().client, user().username, "reveal", f"alert:{alert_id}",
          {"reason": reason[:1000], "conversation_key": alert["conversation_key"]}, client_address())
    flash(t("revealed"), "warning")
    return _case_page(alert, reveal=True)


@pages.post("/cases/<alert_id>/export")
def export(alert_id: str):
    require("export_bundle")
    alert = _alert_or_404(alert_id)
    c = ctx()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    audit(c.client, user().username, "export_bundle", f"alert:{alert_id}", {"rule_id": alert["rule_id"]},
          client_address())
    lines = casefile.shown_lines(c.client, alert, c.settings.console_context_messages, c.redactor)
    rule = casefile.rule_info(c.rules, alert["rule_id"])
    data = {
        "alert": _decorate(alert), "rule": rule.__dict__ if rule else None,
        "conversation": [{"timestamp": m["timestamp"], "direction": m["direction"], "type": m["type"],
                          "message_id": m["message_id"], "text": m["shown"], "pii_types": m["pii_types"],
                          "attachments": m["attachments"], "flagged": m["flagged"]} for m in lines],
        "events": cases.events(c.client, alert_id),
        "audit": audit_trail.entries(c.client, audit_trail.AuditFilters(target=f"alert:{alert_id}"), limit=10000),
        "exported_at": now, "exported_by": user().username,
    }
    html = render_template("bundle.html", d=data, terms=casefile.evidence_terms(alert))
    body = bundle.build(data, html)
    return Response(body, mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename=case-{alert_id}.zip"})


@pages.get("/audit")
def audit_page():
    require("audit")
    f = audit_trail.AuditFilters.from_args(request.args)
    return render_template("audit.html", f=f, rows=audit_trail.entries(ctx().client, f),
                           actions=audit_trail.actions(ctx().client))


@pages.post("/audit/export")
def audit_export():
    require("audit")
    f = audit_trail.AuditFilters.from_args(request.form)
    rows = audit_trail.entries(ctx().client, f, limit=100000)
    audit(ctx().client, user().username, "export_audit", "audit", {"filters": f.query_args(), "rows": len(rows)},
          client_address())
    return Response(audit_trail.to_csv(rows), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=chatwatch-audit.csv"})


@pages.get("/quality")
def quality_page():
    require("quality")
    return render_template("quality.html", rows=quality.rule_quality(ctx().client, datetime.now(UTC), scope()),
                           windows=quality.WINDOWS)


@pages.route("/users", methods=["GET", "POST"])
def users():
    require("users")
    if request.method == "POST":
        teams = [x.strip() for x in request.form.get("teams", "").split(",") if x.strip()]
        try:
            password = ctx().users.add(request.form.get("username", ""), request.form.get("role", ""),
                                       user().username, teams=teams, display_name=request.form.get("display_name", ""),
                                       email=request.form.get("email", ""), source=client_address())
            flash(t("new_password", user=request.form.get("username", "").strip().lower(), password=password), "secret")
        except UserError as exc:
            flash(str(exc), "error")
        return redirect(url_for("pages.users"))
    return render_template("users.html", users=ctx().users.all(), permissions=table(), all_roles=ROLES)


@pages.post("/users/<name>/<change>")
def user_change(name: str, change: str):
    require("users")
    try:
        if change in ("disable", "enable"):
            if name == user().username:
                raise UserError("you cannot disable yourself")
            ctx().users.set_active(name, change == "enable", user().username, client_address())
            flash(t("done"), "ok")
        elif change == "reset":
            password = ctx().users.reset(name, user().username, source=client_address())
            flash(t("new_password", user=name, password=password), "secret")
        else:
            abort(404)
    except UserError as exc:
        flash(str(exc), "error")
    return redirect(url_for("pages.users"))


def _ack_ok(alert_id: str) -> bool:
    return ack.valid(ctx().ack_key, alert_id, request.values.get("x", ""), request.values.get("t", ""), time.time())


@pages.get("/ack/<alert_id>")
def acknowledge_page(alert_id: str):
    if not _ack_ok(alert_id):
        return render_template("error.html", message=t("link_invalid")), 403
    alert = _alert_or_404(alert_id)
    return render_template("ack.html", a=_decorate(alert), x=request.args["x"], token=request.args["t"])


@pages.post("/ack/<alert_id>")
def acknowledge(alert_id: str):
    if not _ack_ok(alert_id):
        return render_template("error.html", message=t("link_invalid")), 403
    require("decide")
    alert = _alert_or_404(alert_id)
    try:
        cases.act(ctx().client, alert, "acknowledge", user().username, source=client_address(),
                  current=cases.CaseState.of(alert))
        flash(t("ack_done"), "ok")
        if not notify_acknowledged(alert_id, request.values["x"], request.values["t"]):
            flash(t("ack_not_forwarded"), "warning")
    except cases.CaseError as exc:
        flash(str(exc), "error")
    return redirect(url_for("pages.case", alert_id=alert_id))


def notify_acknowledged(alert_id: str, expires: str, token: str) -> bool:
    """Tell the notify worker, so the alert does not escalate (the link's own signature authorizes it)."""
    settings = ctx().settings
    base = settings.console_notify_url or (f"http://{settings.worker_host}:{settings.worker_port}"
                                           if settings.console_in_worker else None)
    if not base or (settings.notify_config is None and settings.console_notify_url is None):
        return True  # no notifications here: nothing escalates
    query = urllib.parse.urlencode({"x": expires, "t": token})
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{base.rstrip('/')}/ack/{alert_id}?{query}", data=b"",
                                                           method="POST"), timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pages.app_template_filter("details")
def details(value: str) -> str:
    try:
        return ", ".join(f"{k}: {v}" for k, v in json.loads(value).items() if v not in ("", [], {}, None))
    except (ValueError, AttributeError):
        return value
