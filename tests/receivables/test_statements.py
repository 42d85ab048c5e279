"""Statements and invoices tie to the ledger to the cent; invoicing is gapless and runs once."""

from datetime import date
from decimal import Decimal as D

import pytest

from billing.models import ChargeLine
from billing.receivables.models import Invoice, PayoutDeduction, Statement
from billing.receivables.services import balance_problems, credit_note_issue, statement_period
from settlement_ops.errors import DomainError
from settlement_ops.models import JournalEntry
from tests.factories import market
from tests.receivables.helpers import OCT, SEP, World, owed

pytestmark = pytest.mark.django_db


def test_statement_ties_to_the_ledger_to_the_cent():
    # given: September fees (paid in part in October) and October fees
    w = World()
    seller = w.seller()
    sep_invoice = w.invoice(seller, "1.000", "3.000", period=SEP)  # 5.99 + 7.61
    w.receive("10.00", reference=sep_invoice.number, value_date=date(2026, 10, 12))
    w.ship(seller, "1.000", "1.000", "3.000")
    w.rate(date(2026, 10, 31))

    # when
    [statement] = w.state(OCT, seller_ids=[seller.pk])

    # then
    assert sep_invoice.gross_total == D("13.60")
    assert statement.opening_balance == D("13.60")
    assert statement.charges_total == D("19.59")  # 5.99 + 5.99 + 7.61
    assert statement.payments_total == D("-10.00")
    assert statement.closing_balance == D("23.19")
    assert statement.closing_balance == owed(seller, as_of=OCT[1])
    assert statement.opening_balance == owed(seller, as_of=date(2026, 9, 30))
    october = statement.invoices.get()
    assert (october.net_total, october.vat_total, october.gross_total) == (D("16.32"), D("3.27"), D("19.59"))
    assert sum(line.gross for line in october.lines.all()) == statement.charges_total
    assert october.lines.count() == 3 and october.number == "GB-INV-2026-000002"
    assert balance_problems() == []


def test_generating_twice_creates_nothing_and_numbers_are_gapless():
    w = World()
    a, b = w.seller(), w.seller()
    w.ship(a, "1.000")
    w.ship(b, "3.000")
    w.rate()
    first = w.state()
    again = w.state()
    assert len(first) == 2 and again == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == ["GB-INV-2026-000001", "GB-INV-2026-000002"]
    assert ChargeLine.objects.filter(invoice_line__isnull=True).count() == 0


def test_an_open_period_is_refused():
    w = World()
    today = w.market.local_date()
    with pytest.raises(DomainError) as exc:
        w.state((today.replace(day=1), today))
    assert exc.value.code == "period_open"


def test_credit_note_reverses_lines_and_never_edits_the_invoice():
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000", "3.000")
    line = max(invoice.lines.all(), key=lambda candidate: candidate.gross)
    note = credit_note_issue(actor=w.clerk, invoice=invoice, reason="Parcel was a test shipment", line_ids=[line.pk])
    invoice.refresh_from_db()
    assert note.number.startswith("GB-CN-") and note.gross_total == D("7.61") and note.vat_total == D("1.27")
    assert invoice.gross_total == D("13.60") and invoice.amount_open == D("5.99")
    assert owed(seller) == D("5.99")
    with pytest.raises(DomainError):
        credit_note_issue(actor=w.clerk, invoice=invoice, reason="again", line_ids=[line.pk])
    assert balance_problems() == []


def test_payout_seller_gets_a_deduction_instead_of_a_bank_collection(api_as):
    w = World()
    seller = w.seller(net_from_payout=True)
    invoice = w.invoice(seller, "1.000")
    deduction = PayoutDeduction.objects.get(invoice=invoice)
    assert invoice.collection == Invoice.Collection.PAYOUT and deduction.amount == D("5.99")
    client = api_as("integration")
    listed = client.get("/api/receivables/payout-deductions/?status=pending").json()["results"]
    assert [d["invoice_number"] for d in listed] == [invoice.number]
    url = f"/api/receivables/payout-deductions/{deduction.pk}/confirm/"
    first = client.post(url, {"payout_reference": "PO-1"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    replay = client.post(url, {"payout_reference": "PO-1"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(url, {"payout_reference": "PO-1"}, format="json")
    other = client.post(url, {"payout_reference": "PO-2"}, format="json")
    assert first.status_code == 200 and replay.json() == first.json() and again.status_code == 200
    assert other.status_code == 409
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and owed(seller) == 0
    assert JournalEntry.objects.filter(source_type="receivables.payout_deduction").count() == 1


def test_statement_period_follows_the_market_cycle():
    gb = market("GB")
    assert statement_period(market=gb, on=date(2026, 11, 22)) == (date(2026, 10, 1), date(2026, 10, 31))
    gb.statement_cycle = "weekly"
    assert statement_period(market=gb, on=date(2026, 11, 22)) == (date(2026, 11, 9), date(2026, 11, 15))


def test_statement_snapshot_equals_live_lines(client):
    w = World()
    seller = w.seller()
    w.invoice(seller, "1.000")
    statement = Statement.objects.get(seller=seller)
    from billing.receivables.selectors import statement_lines

    lines = statement_lines(statement)
    assert lines[-1]["running"] == statement.closing_balance == D("5.99")


def test_statements_task_writes_the_last_period_once():
    from billing.receivables.tasks import statements_run_task

    w = World()
    seller = w.seller()
    start, end = statement_period(market=w.market)
    w.ship(seller, "1.000", ship_date=start)
    w.rate(end)
    first = statements_run_task.delay().get()
    second = statements_run_task.delay().get()
    assert first["GB"] == 1 and second["GB"] == 0
    assert Invoice.objects.get(seller=seller).gross_total == D("5.99")
