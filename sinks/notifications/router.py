"""Which receivers get an alert, grouped how — pure functions over the configuration.

Routing follows Alertmanager: the root route matches everything; the first child that matches
takes the alert (and its own children after it) unless it says `continue`, which lets the next
siblings match too; a route without receivers inherits its parent's. Silenced alerts stop here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chatwatch.people import Directory
from chatwatch.records import Alert
from chatwatch.sinks.notifications.config import SEVERITIES, TEAM_MANAGERS, NotifyConfig, Route


@dataclass(frozen=True)
class RouteTarget:
    receiver: str
    group_key: str
    group_by: tuple[str, ...]
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float


def labels_of(alert: Alert, directory: Directory) -> dict[str, object]:
    employee = alert.employee_id or alert.business_phone_number_id
    return {"severity": alert.severity.value, "category": alert.category, "rule_id": alert.rule_id,
            "tags": list(alert.tags), "pack": alert.pack_id, "business_number": alert.business_phone_number_id,
            "team": directory.team_of(alert.employee_id, alert.business_phone_number_id), "employee": employee}


def silenced(config: NotifyConfig, labels: dict[str, object], now: datetime) -> str | None:
    for s in config.silences:
        if s.until > now and s.matchers.matches(labels):
            return s.reason
    return None


def route(config: NotifyConfig, labels: dict[str, object], directory: Directory) -> list[RouteTarget]:
    found: list[tuple[Route, list[str]]] = []
    _walk(config.route, labels, config.route.receivers, found, config)
    deliveries: dict[tuple[str, str], RouteTarget] = {}
    for node, receivers in found:
        group_by = tuple(node.group_by or config.default_group_by)
        for name in _expand(receivers, labels, directory):
            receiver = config.receiver(name)
            if SEVERITIES.index(str(labels["severity"])) < SEVERITIES.index(receiver.min_severity):
                continue
            key = name + "|" + "|".join(f"{g}={labels.get(g)}" for g in group_by)
            deliveries.setdefault((name, key), RouteTarget(
                name, key, group_by, _pick(node, config, "group_wait_s"), _pick(node, config, "group_interval_s"),
                _pick(node, config, "repeat_interval_s")))
    return list(deliveries.values())


def _walk(node: Route, labels: dict, inherited: list[str], found: list, config: NotifyConfig) -> bool:
    receivers = node.receivers or inherited
    matched_child = False
    for child in node.routes:
        if child.match.matches(labels):
            matched_child = _walk(child, labels, receivers, found, config) or True
            if not child.continue_:
                break
    if not matched_child:
        found.append((node, receivers))
    return True


def _expand(receivers: list[str], labels: dict, directory: Directory) -> list[str]:
    out = []
    for name in receivers:
        out.extend(directory.managers(labels.get("team")) if name == TEAM_MANAGERS else [name])
    return list(dict.fromkeys(out))


def _pick(node: Route, config: NotifyConfig, name: str) -> float:
    value = getattr(node, name)
    return float(value if value is not None else getattr(config, f"default_{name}"))
