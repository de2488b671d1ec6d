"""The settings reference: one Markdown table per owner, rendered from the fields themselves.

`chatwatch docs` writes it into the README (`<!-- generated: settings -->`) and `make test` checks
that it is current, so a setting added or changed in its owner's module shows up in the docs.
Variables are named without their `CHATWATCH_` prefix, as the README's prose says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from chatwatch.settings import OWNERS, SettingsPart

LEGEND = ("`X` or `X_FILE`: the secret itself, or a file holding it (a Kubernetes Secret mounted as files); "
          "the file wins. A setting with no default (—) is unset unless given; its meaning says what unset does.\n")


def settings_reference(owners: tuple[type[SettingsPart], ...] = OWNERS) -> str:
    """Every owner's section: its title and summary (the class docstring), then variable | default | meaning."""
    sections = [LEGEND]
    for owner in owners:
        title, _, summary = (owner.__doc__ or owner.__name__).strip().splitlines()[0].partition(": ")
        rows = ["| variable | default | meaning |", "|---|---|---|"]
        fields = owner.model_fields
        for name, field in fields.items():
            if name.endswith("_file") and _is_secret(fields.get(name.removesuffix("_file"))):
                continue  # shown in its secret's row
            variable = f"`{name.upper()}`"
            if _is_secret(field) and f"{name}_file" in fields:
                variable += f" or `{name.upper()}_FILE`"
            rows.append(f"| {variable} | {_default(field)} | {_cell(field.description or '')} |")
        sections.append(f"**{title}**: {summary}\n\n" + "\n".join(rows) + "\n")
    return "\n".join(sections)


def _is_secret(field: FieldInfo | None) -> bool:
    return field is not None and (field.annotation is SecretStr or SecretStr in get_args(field.annotation))


def _default(field: FieldInfo) -> str:
    if _is_secret(field):
        return "—"
    value: Any = field.default_factory() if field.default_factory is not None else field.default
    if value is None:
        return "—"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Path):
        text = value.as_posix()
    else:
        text = str(value)
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
