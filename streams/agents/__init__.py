"""Faust agents: normalize, scan, record (archive), notify. Each module keeps its work in pure
functions (`process_raw`, `process_batch`, `to_rows`) apart from `register(app, ...)`, which wires
them to topics; `outputs.py` holds the delivery that makes at-least-once hold."""
