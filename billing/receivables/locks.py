"""Row locks of receivables, always taken in this order so two use cases never deadlock:

    sellers -> receipts -> invoices -> payout deductions / write-offs

Each helper re-reads the rows under `SELECT ... FOR UPDATE`, ordered by primary key.
"""

from __future__ import annotations

from sellers.models import Seller

from .models import Invoice, PayoutDeduction, Receipt, WriteOff


def sellers_lock(ids) -> list[Seller]:
    return list(Seller.objects.filter(pk__in=list(ids)).order_by("pk").select_for_update(of=("self",)))


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


def deduction_lock(pk: int) -> PayoutDeduction:
    return PayoutDeduction.objects.select_for_update(of=("self",)).get(pk=pk)


def write_off_lock(pk: int) -> WriteOff:
    return WriteOff.objects.select_for_update(of=("self",)).get(pk=pk)
