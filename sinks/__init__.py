"""Outputs: the ClickHouse archive (`clickhouse/`) and manager notifications (`notifications/`).

Built on detectors, rules and the records; knows nothing of Kafka or Faust (streams drives it).
"""
