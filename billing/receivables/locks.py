"""Row locks of receivables, always taken in this order so two use cases never deadlock:

    statement import (per market) -> sellers -> receipts -> invoices -> payout deductions / write-offs

Each helper re-reads the rows under `SELECT ... FOR UPDATE`, ordered by primary key.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F

from sellers.models import Seller
from settlement_ops.services import AnyOf, pg_array

from .models import Invoice, PayoutDeduction, Receipt, WriteOff

# pg_advisory_xact_lock(purpose, market): the first key says what is locked ("RCPT").
RECEIPTS_IMPORT_LOCK = 0x52435054


def receipts_import_lock(market_code: str) -> None:
    """One statement import per market at a time (until commit), and no receipt recorded by hand
    meanwhile: a second import of an overlapping statement waits, then finds the first one's
    lines recorded and skips them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [RECEIPTS_IMPORT_LOCK, market_code])


def receipt_record_lock(market_code: str) -> None:
    """The shared side of receipts_import_lock: receipts recorded by hand or API never wait for
    each other, only for a statement import of their market (which waits for them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, hashtext(%s))", [RECEIPTS_IMPORT_LOCK, market_code])


def sellers_lock(ids) -> list[Seller]:
    return list(Seller.objects.filter(pk__in=list(ids)).order_by("pk").select_for_update(of=("self",)))


def sellers_lock_ids(ids) -> list[int]:
    """sellers_lock reading only the ids (a statement locks thousands)."""
    return list(
        Seller.objects.filter(AnyOf(F("pk"), sorted(ids)))
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", flat=True)
    )


def receipt_lock(pk: int) -> Receipt:
    return Receipt.objects.select_for_update(of=("self",)).select_related("market", "seller").get(pk=pk)


def receipts_lock(ids) -> list[Receipt]:
    return list(Receipt.objects.filter(pk__in=list(ids)).order_by("pk").select_for_update(of=("self",)))


def invoice_lock(pk: int) -> Invoice:
    return Invoice.objects.select_for_update(of=("self",)).select_related("market", "seller").get(pk=pk)


def invoices_lock(ids) -> list[Invoice]:
    return list(
        Invoice.objects.filter(pk__in=list(ids))
        .order_by("pk")
        .select_for_update(of=("self",))
        .select_related("market", "seller")
    )


def matchable_invoices_lock(*, market_id: str, currency: str, numbers, seller_ids, columns) -> list[tuple]:
    """The invoices cash matching may read or pay, in one statement: those named (any status and
    collection: rule 1) and the open bank-collected invoices of the sellers (rules 2 and 3).
    Returns the `columns` of each, as tuples."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {", ".join(columns)} FROM {Invoice._meta.db_table}
            WHERE market_id = %s AND currency = %s AND kind = %s
              AND (number = ANY(%s::text[])
                   OR (seller_id = ANY(%s::bigint[]) AND status = ANY(%s::text[]) AND collection = %s))
            ORDER BY id
            FOR UPDATE
            """,
            [
                market_id,
                currency,
                Invoice.Kind.INVOICE,
                pg_array(sorted(numbers)),
                pg_array(sorted(seller_ids)),
                pg_array(Invoice.OPEN_STATUSES),
                Invoice.Collection.BANK,
            ],
        )
        return cursor.fetchall()


def deduction_lock(pk: int) -> PayoutDeduction:
    return PayoutDeduction.objects.select_for_update(of=("self",)).get(pk=pk)


def write_off_lock(pk: int) -> WriteOff:
    return WriteOff.objects.select_for_update(of=("self",)).get(pk=pk)
