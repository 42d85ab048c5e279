"""Freight audit: each flag on a hand-worked example, tolerance edges, decisions and postings.

Contract: GB standard, fuel surcharge only. Expected per rated shipment: base 4.50 + fuel 0.45 =
net 4.95, VAT 20% = 0.99, gross 5.94; chargeable weight 2.000 kg.
"""

import datetime as dt
from decimal import Decimal as D

import pytest

from billing.payables import services
from billing.payables.models import Payable, VendorInvoice
from settlement_ops.errors import DomainError
from settlement_ops.models import AccountKind, JournalEntry
from tests.factories import ActiveContractFactory, ChargeLineFactory, RateLineFactory, ShipmentFactory
from tests.payables.helpers import ledger_balanced, line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db


def _postings(entry):
    return {(p.account.kind, p.amount) for p in entry.postings.select_related("account")}


def test_a_clean_invoice_is_approved_automatically_and_moves_accrual_to_payable():
    # given
    vendor, rate_line, specialist = setup_vendor()
    cl = rated(vendor, rate_line)
    # when
    job = upload(vendor, specialist, [line(cl.shipment.tracking_number, "4.50", "0.45")], date="2026-03-10")
    # then
    invoice = job.invoice
    assert invoice.status == VendorInvoice.Status.APPROVED
    assert (invoice.expected_total, invoice.approved_total, invoice.savings_total) == (D("5.94"), D("5.94"), D("0.00"))
    assert _postings(invoice.entry) == {
        (AccountKind.ACCRUED_LOGISTICS_COST, D("4.9500")),
        (AccountKind.VAT_INPUT, D("0.9900")),
        (AccountKind.VENDOR_PAYABLE, D("-5.9400")),
    }
    payable = invoice.payable
    assert (payable.amount, payable.due_date, payable.status) == (D("5.94"), dt.date(2026, 4, 9), Payable.Status.OPEN)
    assert ledger_balanced()


def test_each_flag_on_a_hand_worked_invoice():
    # given
    vendor, rate_line, specialist = setup_vendor(tolerance_amount=D("0.10"), tolerance_percent=D("10"))
    dup = rated(vendor, rate_line)
    over = rated(vendor, rate_line)
    heavy = rated(vendor, rate_line)
    remote = rated(vendor, rate_line)
    transit = rated(vendor, rate_line, status="in_transit", delivered_date=None)
    earlier = rated(vendor, rate_line)
    unrated = ShipmentFactory(vendor=vendor)
    # an express contract that ended on 2026-02-28, and an express shipment after it (never rated)
    express = ActiveContractFactory(
        vendor=vendor, service_level="express", valid_to=dt.date(2026, 2, 28), status="expired"
    )
    RateLineFactory(version=express.versions.get(number=1), service_level="express")
    late = ShipmentFactory(
        vendor=vendor, service_level="express", ship_date=dt.date(2026, 3, 5), delivered_date=dt.date(2026, 3, 7)
    )
    upload(vendor, specialist, [line(earlier.shipment.tracking_number, "4.50", "0.45")], number="INV-0")
    rows = [
        line("NOT-OURS", "4.50", "0.45"),  # row 2
        line(dup.shipment.tracking_number, "4.50", "0.45"),  # row 3
        line(dup.shipment.tracking_number, "4.50", "0.45"),  # row 4
        line(over.shipment.tracking_number, "4.61", "0.45"),  # row 5: 5.06 - 4.95 = 0.11 > 0.10
        line(heavy.shipment.tracking_number, "4.50", "0.45", weight="2.500"),  # row 6
        line(remote.shipment.tracking_number, "4.45", "0.45", remote="0.05"),  # row 7: no remote surcharge in contract
        line(transit.shipment.tracking_number, "4.50", "0.45"),  # row 8
        line(earlier.shipment.tracking_number, "4.50", "0.45"),  # row 9: already on INV-0
        line(unrated.tracking_number, "4.50", "0.45"),  # row 10
        line(late.tracking_number, "4.50", "0.45"),  # row 11
    ]
    # when
    invoice = upload(vendor, specialist, rows, number="INV-1").invoice
    # then
    flags = {line.line_no: line.flag_codes for line in invoice.lines.all()}
    assert flags == {
        2: ["unknown_tracking"],
        3: [],
        4: ["duplicate_in_invoice"],
        5: ["over_tolerance"],
        6: ["weight_mismatch"],
        7: ["surcharge_not_in_contract"],
        8: ["not_delivered"],
        9: ["duplicate_other_invoice"],
        10: ["not_rated"],
        11: ["expired_contract"],
    }
    assert invoice.status == VendorInvoice.Status.IN_REVIEW
    assert (invoice.pending_count, invoice.flagged_count) == (9, 9)
    row5 = invoice.lines.get(line_no=5)
    assert (row5.expected_net, row5.expected_vat, row5.charge_line_id) == (D("4.95"), D("0.99"), over.pk)


def test_a_rerated_shipment_is_expected_at_the_sum_of_its_generations_with_the_latest_rating():
    # given: two shipments rated (4.95 + 0.99) and re-rated with a delta line (+0.55 + 0.11, 2.500 kg)
    vendor, rate_line, specialist = setup_vendor(tolerance_amount=D(0), tolerance_percent=D(0))
    exact, over = rated(vendor, rate_line), rated(vendor, rate_line)
    deltas = {
        cl.shipment.tracking_number: ChargeLineFactory(
            shipment=cl.shipment,
            rate_line=rate_line,
            generation=2,
            vendor_base=D("0.50"),
            vendor_fuel=D("0.05"),
            chargeable_weight_kg=D("2.500"),
        )
        for cl in (exact, over)
    }
    # when
    invoice = upload(
        vendor,
        specialist,
        [
            line(exact.shipment.tracking_number, "5.00", "0.50", weight="2.500"),  # 5.50 as expected
            line(over.shipment.tracking_number, "5.01", "0.50", weight="2.500"),  # a cent over
        ],
    ).invoice
    # then
    lines = {audited.tracking_number: audited for audited in invoice.lines.all()}
    for tracking, audited in lines.items():
        assert (audited.expected_net, audited.expected_vat, audited.chargeable_weight_kg) == (
            D("5.50"),
            D("1.10"),
            D("2.500"),
        )
        assert audited.charge_line_id == deltas[tracking].pk
    assert lines[exact.shipment.tracking_number].flag_codes == []
    assert lines[over.shipment.tracking_number].flag_codes == ["over_tolerance"]


def test_only_the_first_of_repeated_rows_is_not_a_duplicate():
    vendor, rate_line, specialist = setup_vendor()
    cl = rated(vendor, rate_line)
    tracking = cl.shipment.tracking_number
    rows = [
        line(tracking, "4.50", "0.45"),
        line("UNKNOWN", "1.00"),
        line(tracking, "4.50", "0.45"),
        line("UNKNOWN", "1.00"),
        line(tracking, "4.50", "0.45"),
    ]
    invoice = upload(vendor, specialist, rows).invoice
    flags = {line.line_no: line.flag_codes for line in invoice.lines.all()}
    assert flags == {
        2: [],
        3: ["unknown_tracking"],
        4: ["duplicate_in_invoice"],
        5: ["unknown_tracking", "duplicate_in_invoice"],
        6: ["duplicate_in_invoice"],
    }


@pytest.mark.parametrize(
    "tol_amount, tol_percent, billed_base, flagged",
    [
        # amount edge: 10% of 4.95 = 0.495 is not the limit, 0.10 is
        ("0.10", "10", "4.60", False),  # +0.10: within
        ("0.10", "10", "4.61", True),  # +0.11: beyond
        # percent edge: 2% of 4.95 = 0.099 is lower than 1.00
        ("1.00", "2", "4.59", False),  # +0.09: within
        ("1.00", "2", "4.60", True),  # +0.10 > 0.099: beyond
        ("0", "0", "4.50", False),  # billed exactly as expected
        ("0", "0", "4.51", True),  # a cent over with no tolerance
        ("0", "0", "4.40", False),  # billed below expected: paid as billed
    ],
)
def test_tolerance_edges(tol_amount, tol_percent, billed_base, flagged):
    vendor, rate_line, specialist = setup_vendor(tolerance_amount=D(tol_amount), tolerance_percent=D(tol_percent))
    cl = rated(vendor, rate_line)
    invoice = upload(vendor, specialist, [line(cl.shipment.tracking_number, billed_base, "0.45")]).invoice
    assert invoice.lines.get().flag_codes == (["over_tolerance"] if flagged else [])
    assert invoice.status == (VendorInvoice.Status.IN_REVIEW if flagged else VendorInvoice.Status.APPROVED)


def test_decisions_summary_and_posting_to_the_cent(approver):
    # given: A clean, B and D over tolerance, C unknown
    vendor, rate_line, specialist = setup_vendor(tolerance_amount=D("0.10"), tolerance_percent=D("2"))
    a, b, d = rated(vendor, rate_line), rated(vendor, rate_line), rated(vendor, rate_line)
    invoice = upload(
        vendor,
        specialist,
        [
            line(a.shipment.tracking_number, "4.50", "0.45"),  # 4.95 + 0.99 = 5.94
            line(b.shipment.tracking_number, "5.50", "0.45"),  # 5.95 + 1.19 = 7.14
            line("UNKNOWN", "3.00"),  # 3.00 + 0.60 = 3.60
            line(d.shipment.tracking_number, "5.05", "0.45"),  # 5.50 + 1.10 = 6.60
        ],
    ).invoice
    rows = {line.line_no: line.pk for line in invoice.lines.all()}
    # when / then: reasons are required for short-pay and dispute
    with pytest.raises(DomainError, match="reason"):
        services.invoice_lines_decide(actor=specialist, invoice=invoice, line_ids=[rows[3]], decision="short_paid")
    with pytest.raises(DomainError, match="Short-pay needs an expected charge"):
        services.invoice_lines_decide(
            actor=specialist, invoice=invoice, line_ids=[rows[4]], decision="short_paid", reason="x"
        )
    services.invoice_lines_decide(
        actor=specialist, invoice=invoice, line_ids=[rows[3]], decision="short_paid", reason="Rate card says 4.50"
    )
    services.invoice_lines_decide(
        actor=specialist, invoice=invoice, line_ids=[rows[4]], decision="disputed", reason="Not our parcel"
    )
    assert JournalEntry.objects.filter(source_type="vendor_invoice").count() == 0  # line D still pending
    invoice = services.invoice_lines_decide(actor=approver, invoice=invoice, line_ids=[rows[5]], decision="approved")
    # then
    invoice.refresh_from_db()
    assert invoice.status == VendorInvoice.Status.APPROVED
    assert (
        invoice.gross_total,
        invoice.expected_total,
        invoice.approved_total,
        invoice.disputed_total,
        invoice.savings_total,
    ) == (D("23.28"), D("17.82"), D("18.48"), D("3.60"), D("4.80"))
    assert _postings(invoice.entry) == {
        (AccountKind.ACCRUED_LOGISTICS_COST, D("14.8500")),
        (AccountKind.LOGISTICS_COST, D("0.5500")),
        (AccountKind.VAT_INPUT, D("3.0800")),
        (AccountKind.VENDOR_PAYABLE, D("-18.4800")),
    }
    assert invoice.payable.amount == D("18.48")
    assert ledger_balanced()
    # an approved invoice is final
    from settlement_ops.errors import ConflictError

    with pytest.raises(ConflictError):
        services.invoice_lines_decide(
            actor=specialist, invoice=invoice, line_ids=[rows[2]], decision="disputed", reason="late"
        )


def test_reaudit_keeps_human_decisions_and_clears_a_delivered_flag():
    vendor, rate_line, specialist = setup_vendor()
    transit = rated(vendor, rate_line, status="in_transit", delivered_date=None)
    invoice = upload(
        vendor, specialist, [line(transit.shipment.tracking_number, "4.50", "0.45"), line("UNKNOWN", "1.00")]
    ).invoice
    unknown = invoice.lines.get(tracking_number="UNKNOWN")
    services.invoice_lines_decide(
        actor=specialist, invoice=invoice, line_ids=[unknown.pk], decision="disputed", reason="unknown"
    )
    transit.shipment.status = "delivered"
    transit.shipment.delivered_date = dt.date(2026, 3, 6)
    transit.shipment.save()
    invoice = services.invoice_audit(invoice_id=invoice.pk, actor=specialist)
    assert invoice.status == VendorInvoice.Status.APPROVED
    assert invoice.lines.get(pk=unknown.pk).decision == "disputed"
    assert invoice.approved_total == D("5.94")


def test_credit_note_approval_reduces_the_payable_and_cannot_exceed_the_invoice():
    vendor, rate_line, specialist = setup_vendor()
    cl = rated(vendor, rate_line)
    tracking = cl.shipment.tracking_number
    upload(vendor, specialist, [line(tracking, "4.50", "0.45")], number="INV-1")
    too_big = upload(
        vendor, specialist, [line(tracking, "6.00")], number="CN-BIG", kind="credit_note", credited="INV-1"
    ).invoice
    with pytest.raises(DomainError, match="more than the 5.94 approved"):
        services.invoice_approve(actor=specialist, invoice=too_big)
    credit = upload(
        vendor, specialist, [line(tracking, "1.00")], number="CN-1", kind="credit_note", credited="INV-1"
    ).invoice
    credit = services.invoice_approve(actor=specialist, invoice=credit)
    assert _postings(credit.entry) == {
        (AccountKind.VENDOR_PAYABLE, D("1.2000")),
        (AccountKind.LOGISTICS_COST, D("-1.0000")),
        (AccountKind.VAT_INPUT, D("-0.2000")),
    }
    assert credit.payable.amount == D("-1.20")
    assert ledger_balanced()
