"""Period-workbook export speed: the charge-line sheet of the benchmark market through the product's
streaming writer (settlement_ops.exports.write_workbook, as the period workbook writes it) against
a bare xlsxwriter constant_memory write of the same rows, read by the same query, measured in the
same run; and django-import-export's xlsx path over a slice of those rows as a reference.

Each export runs in a fresh (spawned) process so its peak memory (ru_maxrss) is its own, not the
benchmark's. Usable alone: `python -m bench.workbook --rows 100000` (after `make bench` made data).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
MARKET = "ZZ"
# import-export builds the whole workbook in memory (about 555 MB per 100k rows here), so it runs
# over a slice and its figures are per row.
IMPORT_EXPORT_ROWS = 20_000


def _setup() -> None:
    sys.path.insert(0, str(BENCH_DIR.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")
    import django

    django.setup()


def _lines(rows: int):
    from billing.models import ChargeLine

    return ChargeLine.objects.filter(market_id=MARKET).order_by("id")[:rows]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _product(rows: int, path: str) -> dict:
    from billing.exports import charge_line_columns, charge_line_rows
    from settlement_ops.exports import Sheet, write_workbook
    from settlement_ops.money import minor_units

    places = minor_units("GBP")
    start = time.perf_counter()
    written = write_workbook(path, [Sheet("Charge lines", charge_line_columns(places), charge_line_rows(_lines(rows)))])
    return {"seconds": time.perf_counter() - start, "rows": written[0]["rows"]}


def _bare(rows: int, path: str) -> dict:
    """The floor: the same rows from the same server-side cursor, each cell written with the typed
    xlsxwriter call chosen once per column, the same formats, no checks at all."""
    import xlsxwriter

    from billing.exports import CHARGE_LINE_FIELDS

    start = time.perf_counter()
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = workbook.add_worksheet("Charge lines")
    money = workbook.add_format({"num_format": "#,##0.00"})
    kg = workbook.add_format({"num_format": "#,##0.000"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    whole = workbook.add_format({"num_format": "0"})
    number, string, moment = ws.write_number, ws.write_string, ws.write_datetime
    for col, name in enumerate([*CHARGE_LINE_FIELDS, "margin"]):
        ws.write_string(0, col, name)
    seller, vendor = CHARGE_LINE_FIELDS.index("seller_net"), CHARGE_LINE_FIELDS.index("vendor_net")
    row = 0
    for values in _lines(rows).values_list(*CHARGE_LINE_FIELDS).iterator(chunk_size=5000):
        row += 1
        number(row, 0, values[0], whole)
        string(row, 1, values[1])
        number(row, 2, values[2], whole)
        for col in (3, 4, 5, 6):
            string(row, col, values[col])
        moment(row, 7, values[7], day)
        string(row, 8, values[8])
        if values[9] is not None:
            number(row, 9, values[9], whole)
        number(row, 10, values[10], kg)
        for col in range(11, len(values)):
            number(row, col, values[col], money)
        number(row, len(values), values[seller] - values[vendor], money)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, row, len(CHARGE_LINE_FIELDS))
    workbook.close()
    return {"seconds": time.perf_counter() - start, "rows": row}


def _import_export(rows: int, path: str) -> dict:
    from import_export import resources

    from billing.exports import CHARGE_LINE_FIELDS
    from billing.models import ChargeLine

    class ChargeLineResource(resources.ModelResource):
        class Meta:
            model = ChargeLine
            fields = [f for f in CHARGE_LINE_FIELDS if "__" not in f and f != "contract_version_id"]

    start = time.perf_counter()
    data = ChargeLineResource().export(queryset=_lines(rows))
    with open(path, "wb") as fh:
        fh.write(data.export("xlsx"))
    return {"seconds": time.perf_counter() - start, "rows": len(data)}


def _child(kind: str, rows: int, queue) -> None:
    _setup()
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        result = {"product": _product, "bare": _bare, "import_export": _import_export}[kind](rows, path)
        result["bytes"] = os.path.getsize(path)
        result["peak_mb"] = _peak_mb()
        queue.put(result)
    finally:
        os.unlink(path)


def _run(kind: str, rows: int) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(kind, rows, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def measure(*, rows: int = 1_000_000, import_export_rows: int = IMPORT_EXPORT_ROWS) -> dict:
    """Time the three exports over the benchmark market's charge lines (at most `rows`)."""
    bare = _run("bare", rows)
    product = _run("product", rows)
    reference = _run("import_export", min(import_export_rows, rows)) if import_export_rows else None
    result = {
        "rows": product["rows"],
        "workbook_seconds": round(product["seconds"], 2),
        "workbook_rows_per_s": round(product["rows"] / product["seconds"]),
        "workbook_peak_mb": round(product["peak_mb"], 1),
        "xlsxwriter_seconds": round(bare["seconds"], 2),
        "xlsxwriter_peak_mb": round(bare["peak_mb"], 1),
        "workbook_vs_xlsxwriter_ratio": round(product["seconds"] / bare["seconds"], 3),
    }
    if reference:
        per_row = reference["seconds"] / reference["rows"]
        result.update(
            import_export_rows=reference["rows"],
            import_export_rows_per_s=round(reference["rows"] / reference["seconds"]),
            import_export_peak_mb=round(reference["peak_mb"], 1),
            workbook_vs_import_export_speedup=round(per_row / (product["seconds"] / product["rows"]), 1),
        )
    return result


def report_lines(result: dict) -> list[str]:
    """The `name=value` lines `make bench` prints."""
    lines = [
        f"workbook_rows_per_s={result['workbook_rows_per_s']}",
        f"workbook_peak_mb={result['workbook_peak_mb']}",
        f"workbook_vs_xlsxwriter_ratio={result['workbook_vs_xlsxwriter_ratio']}",
        f"workbook_rows={result['rows']} workbook_seconds={result['workbook_seconds']} "
        f"xlsxwriter_seconds={result['xlsxwriter_seconds']} xlsxwriter_peak_mb={result['xlsxwriter_peak_mb']}",
    ]
    if "import_export_rows" in result:
        lines.append(
            f"workbook_import_export_reference: rows={result['import_export_rows']} "
            f"rows_per_s={result['import_export_rows_per_s']} peak_mb={result['import_export_peak_mb']} "
            f"(workbook is {result['workbook_vs_import_export_speedup']}x faster per row)"
        )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.workbook", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--import-export-rows", type=int, default=IMPORT_EXPORT_ROWS)
    args = parser.parse_args()
    for text in report_lines(measure(rows=args.rows, import_export_rows=args.import_export_rows)):
        print(text)
