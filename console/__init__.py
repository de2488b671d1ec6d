"""The compliance console: a web application where analysts triage alerts, decide, and prove it.

    access.py       roles and what each may do (the permissions table)
    users.py        local users: argon2id password hashes, kept in ClickHouse
    teams.py        the people directory as SQL: which alerts belong to which team
    cases.py        the case workflow: statuses, transitions, due dates, append-only case events
    alert_queue.py  the queue: filters, sorting, paging, counts per status
    casefile.py     one case: the alert, its rule, the conversation around it, earlier alerts
    audit.py        the audit trail: reading and exporting it (writing is sinks.clickhouse.privacy.audit)
    quality.py      rule quality for pack authors: dismissal rates per rule
    bundle.py       the case bundle for a regulator or court (JSON, CSV, printable HTML, SHA-256 manifest)
    days.py         date filters (whole UTC days)
    clock.py        a millisecond clock that never repeats (event order)
    i18n.py         the pages' words in es, pt and en
    context.py      what every page needs: store, signed-in user, language, scope
    web.py          the Flask application (sessions, CSRF, login rate limit, security headers)
    pages.py        the pages themselves
    server.py       serving it: `chatwatch console`, or a thread of the worker that owns embedded chdb

The console reads and writes only ClickHouse (same SQL on embedded chdb and on a server); it never
talks to Kafka.
"""
