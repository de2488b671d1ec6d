"""The worker's roles, one module each, ending with `ROLE = Role(...)` (role.py says what a role is;
streams/roles.py finds them): normalize, scan, conversation, record (the archive role), notify. Each
keeps its work in pure functions (`process_raw`, `process_batch`, `to_rows`) apart from
`register(app, ctx)`, which wires them to topics; `outputs.py` holds the delivery that makes
at-least-once hold."""
