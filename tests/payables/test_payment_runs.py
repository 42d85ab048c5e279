"""Payment runs: exclusions, netting, four eyes and limits, bank files, confirmation, statement."""

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
import sepaxml
from django.core import mail
from django.utils import timezone
from lxml import etree

from billing.payables import services
from billing.payables.models import Payable, PaymentRun
from billing.payables.selectors import vendor_statement
from settlement_ops.errors import ConflictError, DomainError, PermissionDeniedError
from settlement_ops.models import AccountKind, ApprovalLimit
from settlement_ops.roles import Role
from settlement_ops.selectors import balance
from tests.factories import (
    ActiveContractFactory,
    ChargeLineFactory,
    RateLineFactory,
    ShipmentFactory,
    SurchargeFactory,
    UserFactory,
    VendorBankAccountFactory,
    VendorFactory,
    market,
)
from tests.payables.helpers import ledger_balanced, line, rated, setup_vendor, upload

pytestmark = pytest.mark.django_db
PAY_DATE = dt.date(2026, 5, 1)


def _invoice(vendor, rate_line, specialist, number, date="2026-03-10", base="4.50"):
    cl = rated(vendor, rate_line, base=base)
    return upload(
        vendor, specialist, [line(cl.shipment.tracking_number, base, "0.45")], number=number, date=date
    ).invoice


def test_run_nets_credits_and_deductions_and_lists_exclusions_with_reasons(approver):
    # given: vendor A with two due invoices (5.94 each), a credit note (1.20) and a deduction (2.00)
    vendor, rate_line, specialist = setup_vendor()
    _invoice(vendor, rate_line, specialist, "A-1")
    _invoice(vendor, rate_line, specialist, "A-2")
    _invoice(vendor, rate_line, specialist, "A-LATE", date="2026-04-20")  # due 2026-05-20
    credit = upload(
        vendor,
        specialist,
        [line(Payable.objects.get(invoice__number="A-1").invoice.lines.get().tracking_number, "1.00")],
        number="A-CN",
        kind="credit_note",
        credited="A-1",
    ).invoice
    services.invoice_approve(actor=specialist, invoice=credit)
    services.vendor_deduction_create(
        actor=None,
        vendor=vendor,
        amount=D("2.00"),
        reason="Lost parcel chargeback",
        source_type="compensation_chargeback",
        source_id="CB-1",
    )
    # vendors B (held), C (bank details changed yesterday), D (blocked)
    held, _, _ = setup_vendor(), None, None
    held_vendor = held[0]
    held_payable = _invoice(held_vendor, held[1], held[2], "B-1").payable
    services.payable_hold(actor=UserFactory(role=Role.RISK_ANALYST), payable=held_payable, reason="Fraud check")
    changed_vendor, changed_rl, changed_sp = setup_vendor()
    _invoice(changed_vendor, changed_rl, changed_sp, "C-1")
    changed_vendor.bank_details_changed_at = timezone.now() - dt.timedelta(days=1)
    changed_vendor.save()
    blocked_vendor, blocked_rl, blocked_sp = setup_vendor()
    _invoice(blocked_vendor, blocked_rl, blocked_sp, "D-1")
    blocked_vendor.status = "blocked"
    blocked_vendor.save()
    # when
    run = services.payment_run_prepare(actor=specialist, market=market("GB"), currency="GBP", pay_date=PAY_DATE)
    # then: 5.94 + 5.94 - 1.20 - 2.00 = 8.68
    assert (run.total_amount, run.payment_count) == (D("8.68"), 1)
    assert run.payments.get().vendor == vendor
    reasons = {(e.vendor_id, e.code) for e in run.exclusions.all()}
    assert reasons == {
        (vendor.pk, "not_yet_due"),
        (held_vendor.pk, "on_hold"),
        (changed_vendor.pk, "bank_details_changed"),
        (blocked_vendor.pk, "vendor_blocked"),
    }
    hold_reason = run.exclusions.get(code="on_hold").reason
    assert "Fraud check" in hold_reason
    assert Payable.objects.filter(status=Payable.Status.IN_RUN).count() == 4


def test_four_eyes_limits_and_an_approved_run_is_frozen(approver):
    vendor, rate_line, specialist = setup_vendor()
    payable = _invoice(vendor, rate_line, specialist, "INV-1").payable
    run = services.payment_run_prepare(actor=specialist, market=market("GB"), currency="GBP", pay_date=PAY_DATE)
    # the preparer cannot approve, even with the approver role
    specialist.groups.add(*approver.groups.all())
    specialist.__dict__.pop("_role_cache", None)
    with pytest.raises(PermissionDeniedError, match="Four eyes"):
        services.payment_run_approve(actor=specialist, run=run)
    # above the approver's limit
    ApprovalLimit.objects.filter(role=Role.FINANCE_APPROVER, action="payment_run", currency="GBP").update(
        max_amount=D("5.93")
    )
    with pytest.raises(PermissionDeniedError, match="above your approval limit"):
        services.payment_run_approve(actor=approver, run=run)
    ApprovalLimit.objects.filter(role=Role.FINANCE_APPROVER, action="payment_run", currency="GBP").update(
        max_amount=D("5.94")
    )
    run = services.payment_run_approve(actor=approver, run=run)
    assert run.status == PaymentRun.Status.APPROVED and run.approved_by == approver
    with pytest.raises(ConflictError, match="Only a prepared run can be edited"):
        services.payment_run_remove_item(actor=specialist, run=run, payable=payable, reason="changed my mind")
    with pytest.raises(ConflictError):
        services.payment_run_approve(actor=approver, run=run)


def test_a_payable_in_an_open_run_is_not_proposed_again():
    vendor, rate_line, specialist = setup_vendor()
    _invoice(vendor, rate_line, specialist, "INV-1")
    services.payment_run_prepare(actor=specialist, market=market("GB"), currency="GBP", pay_date=PAY_DATE)
    with pytest.raises(DomainError, match="Nothing can be paid"):
        services.payment_run_prepare(actor=specialist, market=market("GB"), currency="GBP", pay_date=PAY_DATE)


def test_gbp_csv_bank_file_confirmation_rejection_and_statement_tie_to_the_ledger(
    approver, django_capture_on_commit_callbacks
):
    # given: two vendors, each one invoice of 5.94
    v1, rl1, sp1 = setup_vendor()
    v2, rl2, sp2 = setup_vendor()
    _invoice(v1, rl1, sp1, "V1-1")
    _invoice(v2, rl2, sp2, "V2-1")
    run = services.payment_run_prepare(actor=sp1, market=market("GB"), currency="GBP", pay_date=PAY_DATE)
    services.payment_run_approve(actor=approver, run=run)
    # when
    bank_file = services.payment_run_export(actor=sp1, run=run)
    # then: the documented layout, with a control trailer
    rows = bytes(bank_file.content).decode().splitlines()
    assert rows[0].startswith("record,run,end_to_end_id,execution_date,currency,amount")
    assert [r.split(",")[5] for r in rows[1:]] == ["5.94", "5.94", "11.88"]
    assert rows[-1].split(",")[6] == "2"
    assert services.payment_run_export(actor=sp1, run=run).pk == bank_file.pk  # asking again: same file
    p1, p2 = run.payments.get(vendor=v1), run.payments.get(vendor=v2)
    result = (
        f"end_to_end_id,status,reason\n{p1.end_to_end_id},paid,\n{p2.end_to_end_id},rejected,Account closed\n".encode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.payment_results_import(actor=sp1, run=run, content=result)
    assert counts == {"paid": 1, "rejected": 1, "unchanged": 0}
    assert services.payment_results_import(actor=sp1, run=run, content=result) == {
        "paid": 0,
        "rejected": 0,
        "unchanged": 2,
    }
    run.refresh_from_db()
    assert run.status == PaymentRun.Status.COMPLETED
    paid = Payable.objects.get(vendor=v1)
    rejected = Payable.objects.get(vendor=v2)
    assert (paid.status, paid.payment_run) == (Payable.Status.PAID, None)
    assert (rejected.status, rejected.last_rejection_reason) == (Payable.Status.OPEN, "Account closed")
    # ledger: v1 paid to zero, v2 still owed; statements tie to the cent
    assert balance(kind=AccountKind.VENDOR_PAYABLE, party_type="vendor", party_id=v1.pk) == {"GBP": D("0")}
    assert balance(kind=AccountKind.VENDOR_PAYABLE, party_type="vendor", party_id=v2.pk) == {"GBP": D("-5.94")}
    assert balance(kind=AccountKind.BANK, market=market("GB")) == {"GBP": D("-5.94")}
    for vendor, owed in ((v1, D("0")), (v2, D("5.94"))):
        statement = vendor_statement(vendor)
        assert statement["balance"] == statement["ledger_balance"] == owed and statement["ties"]
    assert ledger_balanced()
    # remittance advice mailed once for the paid vendor
    assert len(mail.outbox) == (1 if v1.contact_email else 0)
    # a rejected payable goes into the next run
    nxt = services.payment_run_prepare(actor=sp1, market=market("GB"), currency="GBP", pay_date=PAY_DATE)
    assert list(nxt.items.values_list("payable_id", flat=True)) == [rejected.pk]


def test_a_paid_payment_returned_by_the_bank_is_reversed(approver):
    vendor, rate_line, specialist = setup_vendor()
    _invoice(vendor, rate_line, specialist, "INV-1")
    run = services.payment_run_prepare(actor=specialist, market=market("GB"), currency="GBP", pay_date=PAY_DATE)
    services.payment_run_approve(actor=approver, run=run)
    services.payment_run_export(actor=specialist, run=run)
    payment = run.payments.get()
    services.payment_mark(actor=specialist, payment=payment, status="paid")
    with pytest.raises(DomainError, match="reason"):
        services.payment_mark(actor=specialist, payment=payment, status="rejected")
    payment = services.payment_mark(
        actor=specialist, payment=payment, status="rejected", reason="Returned: IBAN invalid"
    )
    assert payment.reversal_entry.reverses_id == payment.entry_id
    assert balance(kind=AccountKind.VENDOR_PAYABLE, party_type="vendor", party_id=vendor.pk) == {"GBP": D("-5.94")}
    assert Payable.objects.get(vendor=vendor).status == Payable.Status.OPEN
    statement = vendor_statement(vendor)
    assert statement["ties"] and statement["balance"] == D("5.94")
    assert ledger_balanced()


def test_sepa_pain001_validates_against_the_schema(approver):
    # given: a German vendor paid in EUR to its IBAN
    vendor = VendorFactory(market=market("DE"), legal_name="SchnellPaket GmbH")
    contract = ActiveContractFactory(vendor=vendor)
    rate_line = RateLineFactory(version=contract.versions.get(number=1))
    SurchargeFactory(version=rate_line.version)
    VendorBankAccountFactory(vendor=vendor, iban="DE89370400440532013000", bic="COBADEFFXXX", currency="EUR")
    specialist = UserFactory(role=Role.FINANCE_SPECIALIST)
    services.mapping_save(
        actor=specialist, vendor=vendor, columns={"tracking_number": "Tracking", "net": "Net", "vat": "VAT"}
    )
    ship = ShipmentFactory(vendor=vendor)
    ChargeLineFactory(shipment=ship, rate_line=rate_line, vendor_base=D("10.00"), vendor_fuel=D("1.00"))
    from billing.payables.tasks import invoice_import_task

    job = services.invoice_import_create(
        actor=specialist,
        vendor=vendor,
        filename="re.csv",
        content=f"Tracking,Net,VAT\n{ship.tracking_number},11.00,2.09\n".encode(),
        header={
            "invoice_number": "RE-1",
            "invoice_date": "2026-03-10",
            "net_total": "11.00",
            "vat_total": "2.09",
            "gross_total": "13.09",
        },
    )
    invoice_import_task(job.pk)
    run = services.payment_run_prepare(actor=specialist, market=market("DE"), currency="EUR", pay_date=PAY_DATE)
    services.payment_run_approve(actor=approver, run=run)
    # when
    bank_file = services.payment_run_export(actor=specialist, run=run)
    # then: valid against the pain.001.001.03 XSD shipped inside the sepaxml package
    xsd = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    document = etree.fromstring(bytes(bank_file.content))
    assert schema.validate(document), schema.error_log
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    assert document.findtext(".//p:CtrlSum", namespaces=ns) == "13.09"
    assert document.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=ns) == "DE89370400440532013000"
    assert document.findtext(".//p:EndToEndId", namespaces=ns) == run.payments.get().end_to_end_id
    assert bank_file.format == "pain.001.001.03"
