"""Outputs of chatwatch: alerts, metrics (and later notifications and ClickHouse)."""
