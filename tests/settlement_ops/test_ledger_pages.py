"""The ledger as finance reads it: debit and credit columns, drill-down from the trial balance to an
account's postings and from each posting to its source document by name; the audit log in
sentences; overdue items marked; filters that start at "All"; counts pluralised."""

import re
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.receivables.services import credit_note_issue
from settlement_ops.models import Account, AccountKind, AuditEvent, JournalEntry
from settlement_ops.roles import Role
from settlement_ops.services import audit_record
from tests.payables.helpers import open_payable
from tests.receivables.helpers import SEP, World

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page's visible text, tags stripped and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_trial_balance_drills_down_to_postings_and_their_source_documents(client_as):
    # given: a GB invoice of 5.99 + 7.61, the 7.61 parcel credited, 1.00 received against it
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000", "3.000")
    heavy = max(invoice.lines.all(), key=lambda line: line.gross)
    note = credit_note_issue(actor=w.clerk, invoice=invoice, reason="Test parcel", line_ids=[heavy.pk])
    w.receive("1.00", reference=invoice.number)
    receivable = Account.objects.get(market_id="GB", kind=AccountKind.SELLER_RECEIVABLE, party_id=seller.pk)
    client = client_as(Role.AUDITOR)

    # when
    trial = client.get(reverse("trial_balance") + "?market=GB")
    postings = client.get(reverse("account_postings", args=[receivable.pk]))
    journal = client.get(reverse("journal_list") + "?market=GB")
    entry = JournalEntry.objects.get(source_type="receivables.credit_note")
    detail = client.get(reverse("journal_detail", args=[entry.pk]))

    # then: the account links to its postings, which add up to the cent and name their documents
    assert f'href="{reverse("account_postings", args=[receivable.pk])}"' in trial.content.decode()
    assert "Debit" in text(trial) and "Credit" in text(trial) and "Dr/Cr" in text(trial)
    page = text(postings)
    assert postings.status_code == 200 and f"{seller.code} {seller.name}" in page
    assert "Debits 13.60" in page and "Credits 8.61" in page and "Balance 4.99 Dr" in page
    assert f"Credit note {note.number}" in page and "Application of receipt BANK-" in page
    assert re.search(r"Billing run #\d+ \(GB 2026-10-31\)", page)
    html = postings.content.decode()
    assert f'href="{reverse("receivables:invoice_detail", args=[note.pk])}">Credit note {note.number}</a>' in html
    assert "receivables.credit_note" not in html and "receivables.application" not in html
    # the journal shows each entry's amount and source by name
    row = re.search(rf"JE{entry.pk} .*?(?=JE\d+ |$)", text(journal)).group(0)
    assert f"Credit note {note.number}" in row and "GBP 7.61" in row
    assert "receivables.credit_note" not in journal.content.decode()
    # an entry's postings carry debit and credit columns and the party by code and name
    page = text(detail)
    assert f"Source document Credit note {note.number}" in page
    assert f"{seller.code} {seller.name} GBP 7.61" in page  # the receivable is credited
    assert "Logistics revenue" in page and "6.34" in page and "1.27" in page

    # and: a role without the ledger is refused the drill-down
    assert client_as(Role.SUPPORT_TIER1).get(reverse("account_postings", args=[receivable.pk])).status_code == 403


def test_audit_log_reads_as_sentences_and_a_before_after_table(client_as):
    # given
    w = World()
    invoice = w.invoice(w.seller(), "1.000")
    credit_note_issue(actor=w.clerk, invoice=invoice, reason="Damaged", line_ids=None)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=w.clerk,
        action="payable_hold",
        obj=invoice,
        detail={"before": {"status": "open", "on_hold": False}, "after": {"status": "open", "on_hold": True}},
    )

    # when
    response = client_as(Role.AUDITOR).get(reverse("audit_log"))

    # then
    page, html = text(response), response.content.decode()
    assert f"{w.clerk.username} — credit note issue, invoice" in page
    assert f"Invoice {invoice.number}" in page and "Gross 5.99" in page and "Reason Damaged" in page
    assert "On hold no → yes" in page and "<strong>yes</strong>" in html
    assert "{&#x27;" not in html and "{'" not in html  # no Python dict


def test_overdue_filters_and_counts_read_right(client_as):
    # given: a September invoice (due 2026-10-30) and a payable due 40 days ago, one of them held
    w = World()
    seller = w.seller()
    late = w.invoice(seller, "1.000", period=SEP)
    payable = open_payable()
    days = 40
    type(payable).objects.filter(pk=payable.pk).update(due_date=payable.market.local_date() - timedelta(days=days))
    client = client_as(Role.FINANCE_SPECIALIST)

    # when
    invoices = text(client.get(reverse("receivables:invoice_list")))
    invoice_page = text(client.get(reverse("receivables:invoice_detail", args=[late.pk])))
    payables = client.get(reverse("payables:payable_list"))
    held_only = client.get(reverse("payables:payable_list") + "?on_hold=true")
    fx = client.post(
        reverse("fx_rates"), {"file": SimpleUploadedFile("fx.csv", b"date,currency,rate\n2026-13-01,GBP,1.1\n")}
    )

    # then: overdue with days past due
    overdue = (late.market.local_date() - late.due_date).days
    assert late.due_date == date(2026, 10, 30) and overdue > 0
    assert f"Overdue · {overdue} days" in invoices and f"Overdue · {overdue} days past due" in invoice_page
    assert f"Overdue · {days} days" in text(payables)
    # the on-hold filter starts at "All" and filters when asked
    html = payables.content.decode()
    assert re.search(r'<select name="on_hold"[^>]*>\s*<option value="" selected>All</option>', html)
    assert "Unknown" not in html and '<option value="">---------</option>' not in html
    assert "No payables match." in held_only.content.decode()
    # one bad row is "1 row", never "1 rows" or "row(s)"
    assert "1 row has errors; nothing was imported." in fx.content.decode()
    assert late.gross_total == D("5.99")
