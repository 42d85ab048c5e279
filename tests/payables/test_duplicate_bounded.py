"""The freight audit's "billed on another invoice" check looks up the invoice's own tracking numbers
(through their index) instead of reading every earlier line of the vendor: same verdicts on each
edge — another vendor, a disputed earlier line, a later invoice, a re-audit."""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.payables.models import VendorInvoiceLine
from billing.payables.services.audit import invoice_audit
from tests.payables.helpers import line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db


def _flagged(invoice) -> dict[str, bool]:
    return {
        audited.tracking_number: audited.flag_duplicate_other_invoice
        for audited in VendorInvoiceLine.objects.filter(invoice=invoice)
    }


def test_only_an_earlier_undisputed_line_of_the_same_vendor_makes_a_duplicate():
    # given: vendor A billed T1 and T3 on INV-0, and T3 was disputed there; vendor B billed A's T2
    vendor, rate_line, specialist = setup_vendor()
    t1, t2, t3, t4 = (rated(vendor, rate_line).shipment.tracking_number for _ in range(4))
    other, other_line, other_specialist = setup_vendor()
    rated(other, other_line, tracking=t2)
    earlier = upload(vendor, specialist, [line(t1, "4.50", "0.45"), line(t3, "4.50", "0.45")], number="INV-0")
    VendorInvoiceLine.objects.filter(invoice=earlier.invoice, tracking_number=t3).update(
        decision="disputed", reason="Not ours", decided_at=timezone.now(), approved_net=D(0), approved_vat=D(0)
    )
    upload(other, other_specialist, [line(t2, "4.50", "0.45")], number="B-1")

    # when: INV-1 bills all four; then INV-2 bills T4 again and INV-1 is audited once more
    current = upload(vendor, specialist, [line(t, "4.50", "0.45") for t in (t1, t2, t3, t4)], number="INV-1").invoice
    later = upload(vendor, specialist, [line(t4, "4.50", "0.45")], number="INV-2").invoice
    invoice_audit(invoice_id=current.pk)

    # then: only T1 is a duplicate on INV-1 (a later invoice does not make one), and T4 on INV-2
    assert _flagged(current) == {t1: True, t2: False, t3: False, t4: False}
    assert _flagged(later) == {t4: True}
    assert current.lines.get(tracking_number=t1).decision == "pending"
