"""Every CSV chatwatch writes (case bundles, the audit export, `report`/`db query`): safe to open in a spreadsheet.

Cells hold what customers, employees and strangers typed (a message, a user name tried at the
login). A spreadsheet runs a cell that starts with = + - @ (or TAB/CR before one) as a formula, so
`=HYPERLINK("http://evil","x")` would become a link and `@SUM(A1)` a calculation. Following the OWASP
CSV-injection guidance, such a string cell gets a leading single quote and shows as text. Numbers
chatwatch produced (int, float) stay numbers; a string "-5" is text from someone and is quoted.
A UTF-8 byte-order mark opens each file so Excel reads "João" and "escríbeme" as UTF-8, not cp1252.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """The value as a spreadsheet will show it, never run it: numbers as they are, text that could start a
    formula behind a single quote, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def dumps(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], bom: bool = True) -> str:
    """A header and one line per row (keys not in `columns` ignored, missing ones empty), every cell made safe."""
    out = io.StringIO()
    if bom:
        out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([cell(c) for c in columns])
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return out.getvalue()
