"""The nightly check of the links the freight audit writes without database constraints."""

import pytest

from billing.payables.models import VendorInvoiceLine
from settlement_ops.services import ledger_check
from tests.factories import ShipmentFactory, VendorFactory
from tests.payables.helpers import audited_invoice

pytestmark = pytest.mark.django_db

PROBLEM = (
    "1 vendor invoice line(s) point at a missing or another vendor's shipment, charge line, contract version "
    "or rate line"
)


def test_audited_lines_pass_and_a_broken_link_is_reported_by_the_nightly_check():
    # given: an audited invoice, one line matched to a rated shipment and one unknown tracking number
    invoice = audited_invoice()
    matched = invoice.lines.get(shipment__isnull=False)
    assert matched.charge_line_id and matched.contract_version_id and matched.rate_line_id
    assert ledger_check() == {"ok": True, "problems": []}

    # when: the matched charge line no longer exists
    VendorInvoiceLine.objects.filter(pk=matched.pk).update(charge_line_id=matched.charge_line_id + 10_000)
    # then
    assert ledger_check() == {"ok": False, "problems": [PROBLEM]}

    # when: restored, but the line points at another vendor's shipment
    other = ShipmentFactory(vendor=VendorFactory(market=invoice.vendor.market))
    VendorInvoiceLine.objects.filter(pk=matched.pk).update(charge_line_id=matched.charge_line_id, shipment_id=other.pk)
    # then: both the shipment and its charge line disagree, still one line
    assert ledger_check() == {"ok": False, "problems": [PROBLEM]}
