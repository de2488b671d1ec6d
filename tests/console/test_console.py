"""The console's rules without a browser: workflow, users, rule quality, bundles, languages, the login
limit and acknowledge links (HTTP against the real server)."""

from __future__ import annotations

import csv
import http.cookiejar
import io
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatwatch.console import access, bundle, cases, i18n, quality
from chatwatch.console.alert_queue import Filters, search
from chatwatch.console.users import UserError, Users
from chatwatch.sinks.notifications import ack
from tests.console.conftest import MX, seed, serve

TEMPLATES = Path(__file__).resolve().parents[2] / "console" / "templates"


class Http:
    """A cookie-keeping client that sends the last page's CSRF token with each form, like a browser."""

    def __init__(self, url: str):
        self.url, self.token = url, ""
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.url + path))

    def post(self, path: str, **form: str) -> tuple[int, str]:
        body = urllib.parse.urlencode({"csrf_token": self.token, **form}).encode()
        return self._open(urllib.request.Request(self.url + path, data=body))

    def login(self, user: str, password: str) -> int:
        self.get("/login")
        return self.post("/login", username=user, password=password)[0]

    def _open(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=10) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        found = re.search(r'name="csrf_token" value="([^"]+)"', text)
        self.token = found.group(1) if found else self.token
        return status, text


def test_workflow_moves_through_its_states_and_refuses_what_it_must(db):
    (alert,) = [a for a in seed(db) if a.rule_id.startswith("off_channel") and a.business_phone_number_id == MX][:1]
    row = {"alert_id": alert.alert_id, "conversation_key": alert.conversation_key, "rule_id": alert.rule_id}
    with pytest.raises(cases.CaseError, match="reason"):
        cases.act(db, row, "dismiss", "ana")
    with pytest.raises(cases.CaseError, match="note"):
        cases.act(db, row, "dismiss", "ana", reason="other")
    with pytest.raises(cases.CaseError, match="reopened"):
        cases.act(db, row, "reopen", "ana", note="why not")
    assert cases.act(db, row, "assign", "ana", assignee="bea") == cases.CaseState("assigned", "bea")
    assert cases.act(db, row, "escalate", "bea", note="needs legal").status == "escalated"
    assert cases.act(db, row, "comment", "ana", note="called the customer") == cases.CaseState("escalated", "bea")
    assert cases.act(db, row, "dismiss", "bea", reason="benign_context").status == "dismissed"
    with pytest.raises(cases.CaseError):
        cases.act(db, row, "resolve", "ana")
    assert cases.act(db, row, "reopen", "ana", note="customer complained again").status == "open"
    assert cases.act(db, row, "resolve", "ana").status == "resolved"
    assert [e["action"] for e in cases.events(db, alert.alert_id)] == [
        "assign", "escalate", "comment", "dismiss", "reopen", "resolve"]
    assert cases.state(db, alert.alert_id).status == "resolved"
    audited = db.query(f"SELECT action FROM {db.database}.audit_log WHERE target = 'alert:{alert.alert_id}'")
    assert len(audited) == 6
    page = search(db, Filters(status="resolved"), "1")
    assert [r["alert_id"] for r in page.rows] == [alert.alert_id] and page.counts["resolved"] == 1


def test_rule_quality_counts_decisions_per_rule_and_window(db):
    alerts = seed(db)
    rule = alerts[0].rule_id
    same = [a for a in alerts if a.rule_id == rule]
    rows = {a.alert_id: {"alert_id": a.alert_id, "conversation_key": a.conversation_key} for a in alerts}
    cases.act(db, rows[same[0].alert_id], "dismiss", "ana", reason="wrong_match")
    if len(same) > 1:
        cases.act(db, rows[same[1].alert_id], "resolve", "ana")
    (q,) = [r for r in quality.rule_quality(db, datetime.now(UTC)) if r["rule_id"] == rule]
    decided = min(len(same), 2)
    assert q["alerts_7d"] == q["alerts_90d"] == len(same)
    assert q["dismissals_30d"] == 1 and q["violations_30d"] == decided - 1
    assert q["dismissal_rate_90d"] == round(1 / decided, 3)
    assert q["top_reasons"] == [("wrong_match", 1)]


def test_users_are_argon2id_hashed_and_a_reset_or_disable_ends_access(db):
    users = Users(db)
    password = users.add("Bea", "analyst", "root")
    stored = users.get("bea")
    assert stored.password_hash.startswith("$argon2id$") and password not in stored.password_hash
    assert users.verify("bea", password).username == "bea" and users.verify("bea", "x" * 16) is None
    with pytest.raises(UserError, match="exists"):
        users.add("bea", "analyst", "root")
    with pytest.raises(UserError, match="team"):
        users.add("carla", "manager", "root")
    with pytest.raises(UserError, match="12"):
        users.add("dora", "analyst", "root", password="short")
    new = users.reset("bea", "root")
    assert users.verify("bea", password) is None and users.verify("bea", new) is not None
    assert users.get("bea").session_version == 1
    users.set_active("bea", False, "root")
    assert users.verify("bea", new) is None


def test_a_bundle_whose_file_was_changed_fails_its_manifest():
    data = {"alert": {"alert_id": "a1"}, "conversation": [{"text": "hola", "timestamp": "t"}], "events": [],
            "audit": [], "exported_at": "now", "exported_by": "ana"}
    good = bundle.build(data, "<html></html>")
    assert bundle.verify(good) == []
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as z, zipfile.ZipFile(out, "w") as changed:
        for name in z.namelist():
            changed.writestr(name, z.read(name).replace(b"hola", b"chau") if name == "case.json" else z.read(name))
    assert bundle.verify(out.getvalue()) == ["case.json"]


def test_every_word_has_three_languages_and_templates_use_known_words():
    assert all(len(words) == 3 and all(words) for words in i18n.WORDS.values())
    used = {k for path in TEMPLATES.glob("*.html") for k in re.findall(r"t\('([a-z_]+)'", path.read_text())}
    assert used and used <= set(i18n.WORDS), used - set(i18n.WORDS)
    for name in (*cases.STATUSES, *cases.DISMISS_REASONS, *access.ROLES, *cases.ACTIONS):
        assert name in i18n.WORDS, name  # shown through t(value) in the pages


def test_sign_in_attempts_are_limited(site, tmp_path):
    server, _ = serve(site.client, tmp_path, console_login_limit="3 per minute")
    try:
        client = Http(server.url)
        assert [client.login("ana", "wrong-password-1") for _ in range(3)] == [401, 401, 401]
        assert client.login("ana", site.passwords["ana"]) == 429  # even the right password, until the window passes
        failed = site.client.query(f"SELECT count() AS n FROM {site.client.database}.audit_log "
                                   "WHERE action = 'login_failed' AND actor = 'ana'")
        assert int(failed[0]["n"]) >= 3
    finally:
        server.stop()


def test_an_acknowledge_link_shows_a_page_and_only_its_post_acknowledges(site):
    alert = site.alert("off_channel", MX)
    key = site.settings.notify_ack_key.get_secret_value().encode()
    link = ack.link(site.url, key, alert.alert_id, time.time(), 7).removeprefix(site.url)
    manager = Http(site.url)
    assert manager.login("mario", site.passwords["mario"]) == 200
    before = cases.events(site.client, alert.alert_id)
    status, page = manager.get(link)
    assert status == 200 and 'id="ack-button"' in page
    assert cases.events(site.client, alert.alert_id) == before  # following the link changes nothing
    x, t = re.search(r"x=(\d+)&t=(\w+)", link).groups()
    status, _ = manager.post(f"/ack/{alert.alert_id}", x=x, t=t)
    assert status == 200
    last = cases.events(site.client, alert.alert_id)[-1]
    assert last["action"] == "acknowledge" and last["assignee"] == "mario"
    expired = ack.link(site.url, key, alert.alert_id, time.time() - 8 * 86400, 7).removeprefix(site.url)
    assert manager.get(expired)[0] == 403
    forged = link.replace(t, "0" * len(t))
    assert manager.get(forged)[0] == 403
    other = site.alert("off_channel", "277321005464405")  # another team's alert, a valid link: still not found
    assert manager.get(ack.link(site.url, key, other.alert_id, time.time(), 7).removeprefix(site.url))[0] == 404


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1", "-2", "@SUM(A1)", "\tx"]


def test_a_bundle_opens_safely_in_a_spreadsheet_and_still_verifies():
    """Customer text that a spreadsheet would run is text; a BOM makes Excel read UTF-8; digests hold."""
    conversation = [{"timestamp": "t", "direction": "inbound", "text": v, "pii_types": [], "flagged": False}
                    for v in [*FORMULAS, "João escríbeme"]]
    data = {"alert": {"alert_id": "a1"}, "conversation": conversation, "audit": [],
            "events": [{"at": "t", "actor": "-2", "action": "comment", "note": "=1+1", "source": 3}],
            "exported_at": "now", "exported_by": "ana"}
    zipped = bundle.build(data, "<html></html>")
    assert bundle.verify(zipped) == []
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        raw = z.read("conversation.csv")
        assert raw.startswith(b"\xef\xbb\xbf") and z.read("events.csv").startswith(b"\xef\xbb\xbf")
        texts = [row["text"] for row in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))]
        events = list(csv.DictReader(io.StringIO(z.read("events.csv").decode("utf-8-sig"))))
    assert texts == ["'" + v for v in FORMULAS] + ["João escríbeme"]
    assert (events[0]["actor"], events[0]["note"], events[0]["source"]) == ("'-2", "'=1+1", "3")  # a number stays


def test_the_audit_export_neutralises_a_user_name_tried_at_sign_in(site):
    stranger = Http(site.url)
    assert stranger.login('=HYPERLINK("http://evil","x")', "wrong-password-1") == 401
    auditor = Http(site.url)
    assert auditor.login("aud", site.passwords["aud"]) == 200
    auditor.get("/audit")
    status, body = auditor.post("/audit/export", action="login_failed")
    assert status == 200 and body.startswith("\ufeffat,actor,")
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert "'=hyperlink(\"http://evil\",\"x\")" in {r["actor"] for r in rows}
    assert not [v for r in rows for v in r.values() if v.startswith(("=", "+", "-", "@", "\t", "\r"))]
