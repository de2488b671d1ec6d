"""The JSON Schema of the pack format, generated from the models so it can never drift.

Editors use it to validate and complete packs (VS Code YAML: a first line
`# yaml-language-server: $schema=<path>/pack.schema.json`). Regenerate after a model change:

    python -m chatwatch.rules.json_schema        (tests fail while the shipped file is stale)
"""

from __future__ import annotations

import json
from pathlib import Path

from chatwatch.rules.model import Pack

SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "pack.schema.json"


def pack_schema() -> dict:
    schema = Pack.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "chatwatch rule pack"
    return schema


def render() -> str:
    return json.dumps(pack_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")


if __name__ == "__main__":
    main()
