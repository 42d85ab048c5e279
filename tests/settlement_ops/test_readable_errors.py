"""Errors a person understands: never a constraint name or "minor units" on a page, a wrong file
named as such before it is parsed, and a refused form keeps what was typed."""

from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.payables.models import InvoiceImport
from billing.receivables.models import CollectionNote, WriteOff
from settlement_ops.roles import Role
from tests.payables.helpers import HEADER, line, setup_vendor
from tests.receivables.helpers import World

pytestmark = pytest.mark.django_db

UNREADABLE = ("constraint", "minor units", "Traceback", "IntegrityError", "collection_promise")


def readable(html: str) -> bool:
    return not any(word.lower() in html.lower() for word in UNREADABLE)


def test_a_text_file_is_refused_as_not_a_csv_and_the_typed_totals_stay(client_as):
    # given: a vendor whose files are CSV, and a letter saved as .txt
    vendor, _, _ = setup_vendor()
    client = client_as(Role.FINANCE_SPECIALIST)
    typed = {
        "vendor": vendor.pk,
        "kind": "invoice",
        "invoice_number": "INV-778",
        "invoice_date": "2026-03-10",
        "net_total": "5123.95",
        "vat_total": "1024.79",
        "gross_total": "6148.74",
    }
    letter = b"Dear finance team,\nplease find our March invoice attached.\nKind regards, Carrier Ltd\n"
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"

    # when
    refused = client.post(
        reverse("payables:invoice_upload"), {**typed, "file": SimpleUploadedFile("march.txt", letter)}
    )
    renamed = client.post(reverse("payables:invoice_upload"), {**typed, "file": SimpleUploadedFile("inv.csv", pdf)})
    csv_as_txt = client.post(
        reverse("payables:invoice_upload"),
        {**typed, "file": SimpleUploadedFile("inv.txt", (HEADER + line("T1", "4.50", "0.45")[0]).encode())},
    )

    # then: named as what it is, nothing parsed, and the form still holds what was typed
    page = refused.content.decode()
    assert refused.status_code == 400
    assert "“march.txt” is not a CSV or Excel file" in page and "not in header" not in page
    for value in ("INV-778", "2026-03-10", "5123.95", "1024.79", "6148.74"):
        assert f'value="{value}"' in page, value
    assert renamed.status_code == 400 and "neither text nor an Excel .xlsx workbook" in renamed.content.decode()
    assert 'value="6148.74"' in renamed.content.decode()
    assert csv_as_txt.status_code == 302  # a CSV named .txt is still a CSV
    assert InvoiceImport.objects.count() == 1


def test_promise_and_write_off_errors_name_the_field_in_plain_words(client_as):
    # given: an open GB invoice of 5.99
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000")
    client = client_as(Role.FINANCE_SPECIALIST)
    collections = reverse("receivables:seller_collections", args=[seller.pk])

    # when: a negative promise, a promise without a date, write-offs of -1, 0.001 and too much
    negative = client.post(
        collections, {"kind": "promise", "invoice": invoice.pk, "promised_amount": "-5", "promised_date": "2026-12-01"}
    )
    undated = client.post(collections, {"kind": "promise", "text": "will pay", "promised_amount": "5"})
    write_off = reverse("receivables:invoice_write_off", args=[invoice.pk])
    messages = []
    for amount in ("-1", "0.001", "6.00"):
        response = client.post(write_off, {"reason": "gone", "amount": amount}, follow=True)
        messages.append(" | ".join(str(m) for m in response.context["messages"]))

    # then
    assert negative.status_code == 400 and "The promised amount must be more than zero." in negative.content.decode()
    assert undated.status_code == 400 and "A promise to pay needs the date promised." in undated.content.decode()
    assert readable(negative.content.decode()) and readable(undated.content.decode())
    assert not CollectionNote.objects.exists()
    assert (
        messages[0]
        == "Write-off not proposed: Amount: The amount must be more than zero (leave it empty to write off all)."
    )
    assert messages[1] == "The amount must be more than zero, in GBP with at most 2 decimals."
    assert "6.00 is more than the open" in messages[2]
    assert all(readable(m) for m in messages)
    assert not WriteOff.objects.exists()
    invoice.refresh_from_db()
    assert invoice.amount_open == D("5.99")
