"""Row locks of payables, always taken in one order (by primary key) to rule out deadlocks."""

from .models import Payable, PaymentRun, VendorInvoice


def payables_lock(ids):
    return list(Payable.objects.filter(pk__in=list(ids)).order_by("pk").select_for_update(of=("self",)))


def payment_run_lock(pk: int) -> PaymentRun:
    return PaymentRun.objects.select_for_update(of=("self",)).select_related("market", "prepared_by").get(pk=pk)


def invoice_lock(pk: int) -> VendorInvoice:
    return VendorInvoice.objects.select_for_update(of=("self",)).select_related("vendor", "market").get(pk=pk)
