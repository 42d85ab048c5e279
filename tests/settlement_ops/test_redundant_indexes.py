"""The indexes the drop-index migrations remove are gone, and each single-column one they remove
is still served: another index of its table leads with the same column."""

import re
from importlib import import_module

import pytest
from django.db import connection

DROPPED = [
    *import_module("billing.migrations.0012_shipment_drop_prefix_indexes").PREFIX_INDEXES,
    *import_module("settlement_ops.migrations.0011_ledger_drop_prefix_indexes").REDUNDANT_INDEXES,
    *import_module("billing.receivables.migrations.0007_invoice_receipt_drop_prefix_indexes").REDUNDANT_INDEXES,
]


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return dict(cursor.fetchall())


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "target"), DROPPED, ids=[name for name, _ in DROPPED])
def test_a_dropped_index_is_gone_and_its_lookups_still_have_an_index(name, target):
    table, columns = re.fullmatch(r"(\w+) \((.+)\)", target).groups()
    indexes = _indexes(table)
    assert indexes, f"no table {table}"
    assert name not in indexes
    if "varchar_pattern_ops" in columns:
        return  # served only LIKE 'prefix%', which nothing runs
    leading = [index for index, definition in indexes.items() if re.search(rf"\({columns}[,)]", definition)]
    assert leading, f"nothing serves lookups on {table}.{columns} once {name} is dropped"


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["receivables_historicalinvoice", "receivables_historicalreceipt"])
def test_the_history_of_bulk_written_rows_is_indexed_by_its_object_and_date_only(table):
    # RecordHistory: the history is read by the object it records (newest first); an index on a
    # copied foreign key or unique field would cost each bulk change a write and serve nothing.
    columns = {re.search(r"\((\w+)\)", definition).group(1) for definition in _indexes(table).values()}
    assert columns == {"history_id", "id", "history_date", "history_user_id"}
