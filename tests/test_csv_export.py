"""Every CSV chatwatch writes opens safely in a spreadsheet: the shared helper, the audit export and the
CLI's `--format csv` (the case bundle is checked with its manifest in tests/console/test_console.py)."""

from __future__ import annotations

import csv
import io

from chatwatch import csv_export
from chatwatch.console import audit

FORMULAS = ['=HYPERLINK("http://evil","x")', "+1", "-2", "@SUM(A1)", "\tx", "\r=1+1"]


def test_a_cell_that_could_start_a_formula_is_text_and_numbers_stay_numbers():
    assert [csv_export.cell(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    assert [csv_export.cell(v) for v in (-5, 2.5, 0, None, True, "João", "a=b", " -1")] == [
        -5, 2.5, 0, "", "True", "João", "a=b", " -1"]
    text = csv_export.dumps([{"n": -5, "s": "-5", "extra": "ignored"}, {"s": "João"}], ["n", "s"])
    assert text == "\ufeffn,s\r\n-5,'-5\r\n,João\r\n"


def test_the_audit_export_has_a_bom_and_no_formulas():
    rows = [{"at": "2026-11-18 15:00:00", "actor": v, "action": "login_failed", "target": "console",
             "source": "127.0.0.1", "details": "{}"} for v in [*FORMULAS, "João"]]
    body = audit.to_csv(rows).encode()
    assert body.startswith(b"\xef\xbb\xbf")
    actors = [r["actor"] for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))]
    assert actors == ["'" + v for v in FORMULAS] + ["João"]


def test_the_cli_csv_output_has_one_bom_and_no_formulas(capsys):
    from chatwatch.cli.archive import emit

    emit({"by_employee": [{"employee": v, "alerts": 3} for v in [*FORMULAS, "João"]],
          "empty": [], "by_rule": [{"rule_id": "@x", "alerts": -1}]}, "csv")
    out = capsys.readouterr().out
    assert out.startswith("\ufeff# by_employee\n") and out.count("\ufeff") == 1
    first = out.split("\n# empty")[0].split("\n", 1)[1]
    rows = list(csv.DictReader(io.StringIO(first)))
    assert [r["employee"] for r in rows] == ["'" + v for v in FORMULAS] + ["João"]
    assert {r["alerts"] for r in rows} == {"3"} and "'@x,-1" in out  # a number, even a negative one, stays
