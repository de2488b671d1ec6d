"""The console as a person uses it, in a real headless Chromium (Debian's `chromium`, driven by
Playwright; nothing downloads a browser). `make test` installs chromium; without it these skip."""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from chatwatch.console import bundle
from tests.console.conftest import BR, MX, audit_rows, serve

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def login(browser, url: str, user: str, password: str, locale: str = "es-MX"):
    page = browser.new_context(locale=locale, accept_downloads=True).new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/queue*")
    return page


def test_analyst_filters_opens_reveals_dismisses_exports_and_the_auditor_sees_it(site, browser):
    expect = playwright.expect
    page = login(browser, site.url, "ana", site.passwords["ana"])
    expect(page.locator("#result-count")).to_have_text(f"{len(site.alerts)} alertas")
    target = site.alert("credentials", BR)
    same_rule = [a for a in site.alerts if a.rule_id == target.rule_id]

    page.select_option("select[name=rule]", target.rule_id)
    page.click("#apply-filters")
    expect(page.locator("tr[data-alert]")).to_have_count(len(same_rule))
    assert set(page.locator("tr[data-alert]").evaluate_all("rows => rows.map(r => r.dataset.rule)")) == {target.rule_id}

    page.click(f"tr[data-alert='{target.alert_id}'] a.case-link")
    expect(page.locator("h1")).to_contain_text(target.rule_title)
    expect(page.locator("#snippet mark").first).to_be_visible()  # the matched words are marked
    flagged = page.locator("li.msg.flagged")
    expect(flagged).to_contain_text("[SECRET]")  # archived raw, shown redacted
    expect(page.locator("#conversation")).not_to_contain_text("Banco#7788")

    page.fill("#reveal-reason", "Investigación interna caso 2026-114")
    page.click("#reveal-button")
    expect(flagged).to_contain_text("Banco#7788")

    page.select_option("#dismiss-reason", "test_or_training")
    page.click("#dismiss")
    expect(page.locator("#case-status")).to_have_text("Falso positivo")
    expect(page.locator("#events li[data-action=dismiss]")).to_have_count(1)

    with page.expect_download() as download:
        page.click("#export")
    data = Path(download.value.path()).read_bytes()
    assert bundle.verify(data) == []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert {"case.json", "conversation.csv", "events.csv", "audit.csv", "case.html", "SHA256SUMS",
                "manifest.json"} <= set(z.namelist())
        assert "test_or_training" in z.read("events.csv").decode()
        assert "Banco#7788" not in z.read("conversation.csv").decode()  # a bundle carries what is shown unrevealed
        assert "reveal" in z.read("audit.csv").decode()

    auditor = login(browser, site.url, "aud", site.passwords["aud"], locale="en-US")
    auditor.goto(f"{site.url}/audit?actor=ana&target={target.alert_id}")
    actions = auditor.locator("#audit-table tr[data-action]").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert {"view_case", "reveal", "case_dismiss", "export_bundle"} <= set(actions)
    expect(auditor.locator("#audit-table tr[data-action=reveal]")).to_contain_text("caso 2026-114")
    reveal = audit_rows(site.client, actor="ana", action="reveal")
    assert reveal[0]["target"] == f"alert:{target.alert_id}" and reveal[0]["source"].startswith("127.0.0.1")


def test_a_manager_sees_only_their_team_and_not_another_teams_case(site, browser):
    page = login(browser, site.url, "mario", site.passwords["mario"])
    mx = {a.alert_id for a in site.alerts if a.business_phone_number_id == MX}
    shown = set(page.locator("tr[data-alert]").evaluate_all("rows => rows.map(r => r.dataset.alert)"))
    assert shown == mx and mx
    other = site.alert("off_channel", BR)
    response = page.goto(f"{site.url}/cases/{other.alert_id}")
    assert response.status == 404
    playwright.expect(page.locator("#error-message")).to_be_visible()
    assert page.locator("#reveal-form").count() == 0
    mine = site.alert("off_channel", MX)
    assert page.goto(f"{site.url}/cases/{mine.alert_id}").status == 200
    assert page.locator("#reveal-form").count() == 0  # managers do not reveal raw text


def test_a_forged_csrf_token_is_refused_and_changes_nothing(site, browser):
    page = login(browser, site.url, "ana", site.passwords["ana"])
    target = site.alert("off_channel", MX)
    page.goto(f"{site.url}/cases/{target.alert_id}")
    page.fill("#comment-text", "this comment must not land")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')")
    with page.expect_navigation() as nav:
        page.click("#comment")
    assert nav.value.status == 400
    playwright.expect(page.locator("#error-message")).to_contain_text("formulario")
    notes = site.client.query(f"SELECT note FROM {site.client.database}.case_events WHERE alert_id = '{target.alert_id}'")
    assert all(r["note"] != "this comment must not land" for r in notes)


def test_an_expired_session_is_refused(site, browser, tmp_path):
    server, _ = serve(site.client, tmp_path, console_session_idle_s=2)
    try:
        page = login(browser, server.url, "ana", site.passwords["ana"], locale="en-US")
        time.sleep(2.5)
        page.goto(f"{server.url}/queue")
        assert "/login" in page.url
        playwright.expect(page.locator(".flash.warning")).to_contain_text("session ended")
    finally:
        server.stop()


def test_pages_follow_the_browser_language_and_the_users_choice(site, browser):
    page = login(browser, site.url, "ana", site.passwords["ana"], locale="pt-BR")
    playwright.expect(page.locator("button.link")).to_have_text("Sair")
    page.click("a[hreflang=en]")
    playwright.expect(page.locator("button.link")).to_have_text("Log out")
