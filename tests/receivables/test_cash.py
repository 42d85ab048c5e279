"""Receipts: each matching rule and its edges, partial and over-payment, import all-or-nothing,
reversal, concurrency — checked against the ledger to the cent."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.test import TestCase
from django.urls import reverse

from billing.receivables.cash import (
    application_reverse,
    receipt_apply,
    receipt_identify,
    receipt_reverse,
    receipts_import,
)
from billing.receivables.models import Invoice, Receipt, ReceiptApplication
from billing.receivables.services import balance_problems
from settlement_ops.errors import DomainError
from settlement_ops.models import AccountKind, JournalEntry
from settlement_ops.selectors import balance
from tests.conftest import run_concurrently
from tests.receivables.helpers import SEP, World, owed

pytestmark = pytest.mark.django_db


def unidentified_cash(market) -> D:
    return balance(kind=AccountKind.SELLER_UNAPPLIED_CASH, market=market, party_type="").get(market.currency, D(0))


def test_rule_1_invoice_number_in_the_reference_pays_that_invoice():
    # given: two open invoices of a seller, September's (13.60) and October's (5.99)
    w = World()
    seller = w.seller()
    sep = w.invoice(seller, "1.000", "3.000", period=SEP)
    oct_ = w.invoice(seller, "1.000")
    # when: the payer names October's invoice, although September's is older
    receipt = w.receive("5.99", reference=f"payment {oct_.number.lower()} thanks")
    # then
    [app] = receipt.applications.all()
    assert (app.invoice, app.amount, app.rule) == (oct_, D("5.99"), ReceiptApplication.Rule.INVOICE_NUMBER)
    oct_.refresh_from_db()
    sep.refresh_from_db()
    assert oct_.status == Invoice.Status.PAID and sep.amount_open == D("13.60")
    assert receipt.seller == seller and receipt.status == Receipt.Status.APPLIED
    assert owed(seller) == D("13.60") and balance_problems() == []


def test_rule_1_overpayment_of_a_named_invoice_stays_as_credit_and_pays_the_next_invoice():
    w = World()
    seller = w.seller()
    sep = w.invoice(seller, "1.000", period=SEP)  # 5.99
    receipt = w.receive("10.00", reference=sep.number)
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.PARTIALLY_APPLIED and receipt.amount_unapplied == D("4.01")
    assert owed(seller) == D("-4.01")  # the seller is in credit
    # when the next invoice is issued, the credit is used on it
    oct_ = w.invoice(seller, "1.000")
    oct_.refresh_from_db()
    receipt.refresh_from_db()
    assert oct_.amount_open == D("1.98") and receipt.amount_unapplied == 0
    assert owed(seller) == D("1.98") and balance_problems() == []


def test_rule_2_exact_amount_beats_oldest_first():
    w = World()
    seller = w.seller()
    sep = w.invoice(seller, "1.000", "3.000", period=SEP)  # 13.60
    oct_ = w.invoice(seller, "3.000")  # 7.61
    receipt = w.receive("7.61", seller=seller, reference="logistics")
    [app] = receipt.applications.all()
    assert (app.invoice, app.rule) == (oct_, ReceiptApplication.Rule.EXACT_AMOUNT)
    sep.refresh_from_db()
    assert sep.amount_open == D("13.60")


def test_rule_2_seller_found_by_code_in_the_reference():
    w = World()
    seller = w.seller()
    other = w.seller()
    inv = w.invoice(seller, "1.000")
    w.invoice(other, "1.000")
    receipt = w.receive("5.99", reference=f"from {seller.code.lower()}")
    assert receipt.seller == seller and receipt.applications.get().invoice == inv


def test_rule_3_oldest_first_with_a_partial_payment():
    w = World()
    seller = w.seller()
    sep = w.invoice(seller, "1.000", "3.000", period=SEP)  # 13.60, due earlier
    oct_ = w.invoice(seller, "1.000")  # 5.99
    receipt = w.receive("15.00", seller=seller)
    apps = list(receipt.applications.order_by("pk"))
    assert [(a.invoice, a.amount, a.rule) for a in apps] == [
        (sep, D("13.60"), ReceiptApplication.Rule.OLDEST_FIRST),
        (oct_, D("1.40"), ReceiptApplication.Rule.OLDEST_FIRST),
    ]
    oct_.refresh_from_db()
    assert oct_.status == Invoice.Status.PARTIALLY_PAID and oct_.amount_open == D("4.59")
    assert owed(seller) == D("4.59") and balance_problems() == []


def test_unknown_payer_waits_in_the_queue_until_a_person_names_the_seller(client_as):
    # given
    w = World()
    seller = w.seller()
    inv = w.invoice(seller, "1.000")
    receipt = w.receive("5.99", reference="transfer 2231", payer_name="Unknown Ltd")
    assert receipt.status == Receipt.Status.UNMATCHED and receipt.seller is None
    assert unidentified_cash(w.market) == D("-5.99")
    client = client_as("finance_specialist")
    queue = client.get(reverse("receivables:receipt_queue"))
    assert receipt.bank_reference in queue.content.decode()
    # when: the clerk names the seller on the receipt page
    response = client.post(reverse("receivables:receipt_identify", args=[receipt.pk]), {"seller": seller.pk})
    # then: the cash moves to the seller and rule 2 applies it
    assert response.status_code == 302
    inv.refresh_from_db()
    assert inv.status == Invoice.Status.PAID and unidentified_cash(w.market) == 0
    assert receipt.bank_reference not in client.get(reverse("receivables:receipt_queue")).content.decode()
    assert owed(seller) == 0 and balance_problems() == []


def test_reversal_of_a_wrongly_applied_receipt_reopens_the_invoice():
    w = World()
    a, b = w.seller(), w.seller()
    inv_a = w.invoice(a, "1.000")
    inv_b = w.invoice(b, "1.000")
    receipt = w.receive("5.99", reference=inv_a.number)  # b paid, quoting a's number by mistake
    app = receipt.applications.get()
    application_reverse(actor=w.clerk, application=app, reason="Paid by the other seller")
    with pytest.raises(DomainError):
        application_reverse(actor=w.clerk, application=app, reason="again")
    inv_a.refresh_from_db()
    assert inv_a.status == Invoice.Status.OPEN and inv_a.amount_open == D("5.99")
    assert owed(a) == D("0.00")  # a's receivable 5.99 and a's unapplied cash -5.99
    # the whole receipt was for b: reverse it and record it again for b
    receipt_reverse(actor=w.clerk, receipt=receipt, reason="Belongs to another seller")
    assert owed(a) == D("5.99")
    w.receive("5.99", seller=b, bank_reference="BANK-B-1")
    inv_b.refresh_from_db()
    assert inv_b.status == Invoice.Status.PAID and owed(b) == 0
    assert JournalEntry.objects.filter(source_type="receivables.application", reverses__isnull=False).count() == 1
    assert balance_problems() == []


def test_manual_application_refuses_more_than_is_open_or_unapplied():
    w = World()
    seller = w.seller()
    inv = w.invoice(seller, "3.000")  # 7.61
    receipt = w.receive("20.00", reference="x", payer_name="?")
    with pytest.raises(DomainError) as exc:
        receipt_apply(actor=w.clerk, receipt=receipt, invoice=inv, amount=D("7.62"))
    assert exc.value.code == "exceeds_open"
    with pytest.raises(DomainError):
        receipt_apply(actor=w.clerk, receipt=receipt, invoice=inv, amount=D("1.001"))
    app = receipt_apply(actor=w.clerk, receipt=receipt, invoice=inv, amount=D("7.00"))
    assert app.amount == D("7.00") and app.rule == ReceiptApplication.Rule.MANUAL
    receipt.refresh_from_db()
    assert receipt.seller == seller and receipt.amount_unapplied == D("13.00")
    assert balance_problems() == []


def test_wrong_currency_and_duplicate_bank_reference_are_refused():
    w = World()
    from billing.receivables.cash import receipt_record

    with pytest.raises(DomainError) as exc:
        receipt_record(
            actor=w.clerk,
            market=w.market,
            amount=D("5.00"),
            currency="EUR",
            value_date=date(2026, 11, 1),
            bank_reference="X",
        )
    assert exc.value.field == "currency"
    w.receive("5.00", bank_reference="DUP-1")
    with pytest.raises(DomainError) as exc:
        w.receive("5.00", bank_reference="DUP-1")
    assert exc.value.code == "duplicate_receipt"


CSV_HEADER = "value_date,amount,currency,reference,payer_name,bank_reference\n"


def test_import_matches_every_line_and_skips_lines_imported_before():
    w = World()
    seller = w.seller()
    inv = w.invoice(seller, "1.000", "3.000")  # 13.60
    content = (
        CSV_HEADER + f"2026-11-03,10.00,GBP,{inv.number},{seller.name},ST-1\n2026-11-03,3.60,GBP,no idea,Someone,ST-2\n"
    ).encode()
    first = receipts_import(actor=w.clerk, market=w.market, content=content, filename="nov.csv")
    again = receipts_import(actor=w.clerk, market=w.market, content=content, filename="nov.csv")
    assert (first["created"], first["matched"], first["unmatched"]) == (2, 1, 1)
    assert (again["created"], again["skipped"]) == (0, 2)
    inv.refresh_from_db()
    assert inv.amount_open == D("3.60") and inv.status == Invoice.Status.PARTIALLY_PAID


def test_import_with_bad_rows_writes_nothing_and_names_row_and_field(client_as):
    w = World()
    content = (
        CSV_HEADER + "2026-11-03,10.00,GBP,ref,Payer,ST-9\n"
        "2026-13-03,10.00,GBP,ref,Payer,ST-10\n"
        "2026-11-03,-1,EUR,ref,Payer,\n"
        "2026-11-03,1.234,GBP,ref,Payer,ST-9\n"
    ).encode()
    with pytest.raises(DomainError) as exc:
        receipts_import(actor=w.clerk, market=w.market, content=content)
    fields = {(e["row"], e["field"]) for e in exc.value.errors}
    assert {
        (3, "value_date"),
        (4, "currency"),
        (4, "amount"),
        (4, "bank_reference"),
        (5, "amount"),
        (5, "bank_reference"),
    } <= fields
    assert Receipt.objects.count() == 0 and not JournalEntry.objects.filter(source_type="receivables.receipt").exists()
    # through the page: the row errors are shown, nothing is written
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_as("finance_specialist")
    with TestCase.captureOnCommitCallbacks(execute=True):  # the background job runs after commit
        response = client.post(
            reverse("receivables:receipt_list"),
            {"action": "import", "market": "GB", "file": SimpleUploadedFile("st.csv", content, "text/csv")},
        )
    assert response.status_code == 302
    assert "nothing was imported" in client.get(response["Location"]).content.decode()
    bad_type = client.post(
        reverse("receivables:receipt_list"),
        {"action": "import", "market": "GB", "file": SimpleUploadedFile("st.xlsx", b"PK\x03\x04", "application/zip")},
    )
    assert bad_type.status_code == 400 and "Upload a .csv file" in bad_type.content.decode()
    assert Receipt.objects.count() == 0


def test_api_receipt_post_is_idempotent(api_as):
    w = World()
    seller = w.seller()
    inv = w.invoice(seller, "1.000")
    client = api_as("integration")
    body = {
        "market": "GB",
        "amount": "5.99",
        "currency": "GBP",
        "value_date": "2026-11-05",
        "bank_reference": "API-1",
        "reference": inv.number,
    }
    first = client.post("/api/receivables/receipts/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    retry = client.post("/api/receivables/receipts/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    changed = client.post(
        "/api/receivables/receipts/", {**body, "amount": "6.00"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
    )
    assert first.status_code == 201 and retry.status_code == 201 and retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true" and changed.status_code == 422
    assert first.json()["status"] == "applied" and Receipt.objects.count() == 1
    refused = api_as("auditor").post("/api/receivables/receipts/", {**body, "bank_reference": "API-2"}, format="json")
    assert refused.status_code == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clerks_applying_the_same_receipt_apply_it_once():
    # given: 5.99 of unidentified money and two open invoices of 5.99
    w = World()
    seller = w.seller()
    sep = w.invoice(seller, "1.000", period=SEP)
    oct_ = w.invoice(seller, "1.000")
    receipt = w.receive("5.99", reference="??", payer_name="?")
    clerk2 = type(w.clerk).objects.create(username="clerk-two")

    # when: both apply all of it at the same moment, to different invoices
    results, errors = run_concurrently(
        lambda: receipt_apply(actor=w.clerk, receipt=receipt, invoice=sep),
        lambda: receipt_apply(actor=clerk2, receipt=receipt, invoice=oct_),
    )

    # then: one wins, the other is told there is nothing left
    assert sum(1 for r in results if r is not None) == 1
    assert [type(e) for e in errors if e is not None] == [DomainError]
    receipt.refresh_from_db()
    assert receipt.amount_unapplied == 0 and ReceiptApplication.objects.count() == 1
    assert owed(seller) == D("5.99") and balance_problems() == []


def test_identify_refuses_a_seller_of_another_market():
    from tests.factories import SellerFactory, market

    w = World()
    receipt = w.receive("1.00", reference="?", payer_name="?")
    with pytest.raises(DomainError):
        receipt_identify(actor=w.clerk, receipt=receipt, seller=SellerFactory(market=market("DE")))
