"""The console's Flask application: sessions, sign-in, CSRF, language, security headers.

- Sessions are Flask's signed cookies (itsdangerous), HttpOnly, SameSite=Lax, Secure when the
  console's public URL is https. A session ends after CONSOLE_SESSION_IDLE_S without a request or
  CONSOLE_SESSION_MAX_S after sign-in, and at once when the user is disabled or their password reset.
- Every POST carries a CSRF token (Flask-WTF); sign-in attempts are limited per client address and
  per user name (Flask-Limiter); passwords are argon2id (users.py).
- Pages are in pages.py; what each role may do is access.py.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, flash, g, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape
from werkzeug.middleware.proxy_fix import ProxyFix

from chatwatch.console import access, i18n
from chatwatch.console.casefile import Redactor, evidence_terms
from chatwatch.console.context import Context, client_address, ctx, lang, t
from chatwatch.console.pages import pages
from chatwatch.console.teams import PeopleRows
from chatwatch.console.users import Users
from chatwatch.rules import RuleSet
from chatwatch.settings import Settings
from chatwatch.sinks.clickhouse.client import Client
from chatwatch.sinks.clickhouse.privacy import audit
from chatwatch.sinks.notifications.render import marked

PUBLIC = {"login", "static", "healthz", "set_language"}


def secret_key(settings: Settings) -> str:
    """The configured key, or one kept in the data folder (so sessions survive a restart)."""
    if settings.console_secret_key is not None:
        return settings.console_secret_key.get_secret_value()
    path = settings.data_dir / "console-secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def public_url(settings: Settings) -> str:
    return (settings.console_url or f"http://{settings.console_host}:{settings.console_port}").rstrip("/")


def create_app(settings: Settings, client: Client, rules: RuleSet | None = None, redactor: Redactor | None = None,
               people_file: Path | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_NAME="chatwatch_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=public_url(settings).startswith("https://"),
        PERMANENT_SESSION_LIFETIME=int(settings.console_session_max_s),
        WTF_CSRF_TIME_LIMIT=int(settings.console_session_max_s),
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if settings.console_trusted_proxies:
        n = settings.console_trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    key = settings.notify_ack_key.get_secret_value().encode() if settings.notify_ack_key else b""
    app.extensions["chatwatch"] = Context(settings, client, Users(client), PeopleRows(people_file), rules,
                                          redactor or Redactor(None), key)
    CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[])
    app.register_blueprint(pages)
    _sign_in(app, limiter, settings)
    _templates(app)
    return app


def _sign_in(app: Flask, limiter: Limiter, settings: Settings) -> None:
    limit = settings.console_login_limit

    @app.before_request
    def load_user():
        g.lang = _language()
        g.user = None
        name = session.get("u")
        if name:
            now = time.time()
            user = ctx().users.get(name)
            fresh = (now - session.get("seen", 0) < settings.console_session_idle_s
                     and now - session.get("iat", 0) < settings.console_session_max_s)
            if user is None or not user.active or user.session_version != session.get("v") or not fresh:
                session.clear()
                if request.endpoint not in PUBLIC:
                    flash(t("session_ended"), "warning")
            else:
                g.user = user
                session["seen"] = now
                g.lang = session.get("lang") or user.language or g.lang
        if g.user is None and request.endpoint not in PUBLIC:
            return redirect(url_for("login", next=request.full_path if request.method == "GET" else None))
        return None

    @app.route("/login", methods=["GET", "POST"])
    @limiter.limit(limit, methods=["POST"])
    @limiter.limit(limit, methods=["POST"], key_func=lambda: "user:" + request.form.get("username", "").lower())
    def login():
        error = None
        if request.method == "POST":
            name = request.form.get("username", "")
            user = ctx().users.verify(name, request.form.get("password", ""))
            if user is None:
                audit(ctx().client, name.strip().lower()[:64] or "?", "login_failed", "console", {}, client_address())
                error = t("login_failed")
            else:
                session.clear()
                session.permanent = True
                now = time.time()
                session.update(u=user.username, v=user.session_version, iat=now, seen=now)
                audit(ctx().client, user.username, "login", "console", {}, client_address())
                return redirect(_safe_next(request.args.get("next")) or url_for("pages.queue"))
        return render_template("login.html", error=error), 401 if error else 200

    @app.post("/logout")
    def logout():
        audit(ctx().client, g.user.username, "logout", "console", {}, client_address())
        session.clear()
        return redirect(url_for("login"))

    @app.get("/language/<code>")
    def set_language(code: str):
        if code in i18n.LANGUAGES:
            session["lang"] = code
        return redirect(_safe_next(request.args.get("next")) or url_for("pages.queue"))

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.errorhandler(429)
    def too_many(_):
        return render_template("login.html", error=t("too_many")), 429

    @app.errorhandler(CSRFError)
    def bad_csrf(_):
        return render_template("error.html", message=t("csrf")), 400

    for code, key in ((400, "bad_request"), (403, "forbidden"), (404, "not_found")):
        app.register_error_handler(code, lambda _e, code=code, key=key: (
            render_template("error.html", message=t(key)), code))

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; style-src 'self'; "
                                    "script-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"  # acknowledge links carry tokens
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response


def _language() -> str:
    return request.accept_languages.best_match(i18n.LANGUAGES) or i18n.DEFAULT


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no open redirect to another host)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _templates(app: Flask) -> None:
    @app.context_processor
    def helpers():
        return {"t": t, "lang": lang(), "languages": i18n.LANGUAGES, "me": g.get("user"), "can": _can,
                "roles": access.ROLES, "terms_of": evidence_terms}

    @app.template_filter("mark")
    def mark(text: str, terms: list[str]) -> Markup:
        return Markup(marked(text or "", terms, "<mark>", "</mark>", lambda s: str(escape(s))))

    @app.template_filter("minute")
    def minute(value: object) -> str:
        return str(value)[:16]


def _can(permission: str) -> bool:
    user = g.get("user")
    return bool(user) and access.can(user.role, permission)
