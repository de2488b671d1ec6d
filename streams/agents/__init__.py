"""Faust agents. Each module: a pure `process_*` function (record in -> outputs) and `register(app)`."""
