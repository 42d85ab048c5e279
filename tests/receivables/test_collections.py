"""Dunning by date, promises to pay, write-off four eyes and limits, aging buckets."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.core import mail
from django.urls import reverse

from billing.receivables.dunning import collection_note_add, dunning_run
from billing.receivables.models import DunningNotice, Invoice, WriteOff
from billing.receivables.selectors import BUCKET_KEYS, aging, aging_at
from billing.receivables.services import balance_problems, write_off_approve, write_off_propose
from billing.receivables.tasks import dunning_run_task
from settlement_ops.errors import DomainError, PermissionDeniedError
from settlement_ops.models import AccountKind, FxRate
from settlement_ops.selectors import balance
from tests.factories import UserFactory, market
from tests.receivables.helpers import SEP, World, owed

pytestmark = pytest.mark.django_db


def run_on(day, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return dunning_run(on=day, markets=[market("GB")])


def test_dunning_moves_up_one_level_when_each_wait_is_over(django_capture_on_commit_callbacks):
    # given: an invoice due 2026-11-30 (October, 30 days); ladder +3, +10, +14 days
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000")
    assert invoice.due_date == date(2026, 11, 30)

    # then: nothing until 3 days past due; level 1 on day 3; once only
    assert run_on(date(2026, 12, 2), django_capture_on_commit_callbacks) == {"GB": 0}
    assert run_on(date(2026, 12, 3), django_capture_on_commit_callbacks) == {"GB": 1}
    assert run_on(date(2026, 12, 3), django_capture_on_commit_callbacks) == {"GB": 0}
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [seller.email]
    assert invoice.number in mail.outbox[0].subject and "GBP 5.99" in mail.outbox[0].body
    # level 2 needs 10 days after level 1; level 3 14 days after level 2; then it stays
    assert run_on(date(2026, 12, 12), django_capture_on_commit_callbacks) == {"GB": 0}
    assert run_on(date(2026, 12, 13), django_capture_on_commit_callbacks) == {"GB": 1}
    assert run_on(date(2026, 12, 27), django_capture_on_commit_callbacks) == {"GB": 1}
    assert run_on(date(2027, 3, 1), django_capture_on_commit_callbacks) == {"GB": 0}
    invoice.refresh_from_db()
    assert invoice.dunning_level == 3 and invoice.last_dunned_on == date(2026, 12, 27)
    assert list(DunningNotice.objects.values_list("level", "sent_on")) == [
        (1, date(2026, 12, 3)),
        (2, date(2026, 12, 13)),
        (3, date(2026, 12, 27)),
    ]
    assert "Final notice" in mail.outbox[-1].subject


def test_paid_and_promised_invoices_are_not_dunned(django_capture_on_commit_callbacks):
    w = World()
    paid_seller, promising = w.seller(), w.seller()
    paid = w.invoice(paid_seller, "1.000")
    promised = w.invoice(promising, "1.000")
    w.receive("5.99", reference=paid.number)
    collection_note_add(
        actor=w.clerk,
        seller=promising,
        kind="promise",
        text="Pays on the 10th",
        promised_amount=D("5.99"),
        promised_date=date(2026, 12, 10),
    )
    assert run_on(date(2026, 12, 5), django_capture_on_commit_callbacks) == {"GB": 0}
    # the promise lapses: dunning resumes
    assert run_on(date(2026, 12, 11), django_capture_on_commit_callbacks) == {"GB": 1}
    assert DunningNotice.objects.get().invoice == promised


def test_letters_in_bahasa_indonesia_and_vietnamese():
    from billing.receivables.dunning import dunning_letter
    from tests.factories import SellerFactory

    # Each in its language, with the amount grouped as that language writes it.
    for code, word, amount in (
        ("ID", "Pengingat", "IDR 150.000"),
        ("VN", "Nhắc nhở", "VND 150.000"),
        ("DE", "Zahlungserinnerung", "EUR 150.000,00"),
    ):
        seller = SellerFactory(market=market(code))
        invoice = Invoice(
            seller=seller,
            market=market(code),
            number=f"{code}-INV-2026-000001",
            issue_date=date(2026, 10, 31),
            due_date=date(2026, 11, 14),
            currency=market(code).currency,
            language=market(code).language,
            gross_total=D("150000"),
            amount_open=D("150000"),
        )
        language, subject, body = dunning_letter(invoice=invoice, level=1, on=date(2026, 11, 20))
        assert subject.startswith(word), subject
        assert amount in body, body


def test_nightly_task_runs_through_celery():
    assert isinstance(dunning_run_task.delay().get(), dict)


def test_write_off_needs_a_different_approver_within_the_limit(client_as):
    # given
    w = World()
    seller = w.seller()
    invoice = w.invoice(seller, "1.000", "3.000")  # 13.60
    write_off = write_off_propose(actor=w.clerk, invoice=invoice, reason="Seller insolvent", amount=D("13.60"))
    assert owed(seller) == D("13.60")  # nothing posted yet
    # the proposer cannot approve it, even as an approver too
    w.clerk.groups.add(*type(w.clerk.groups.first()).objects.filter(name="finance_approver"))
    with pytest.raises(PermissionDeniedError) as exc:
        write_off_approve(actor=type(w.clerk).objects.get(pk=w.clerk.pk), write_off=write_off)
    assert exc.value.code == "four_eyes"
    # a specialist has no write-off limit
    with pytest.raises(PermissionDeniedError) as exc:
        write_off_approve(actor=UserFactory(role="finance_specialist"), write_off=write_off)
    assert exc.value.code == "no_limit"
    # when: another approver approves through the page
    client = client_as("finance_approver")
    response = client.post(reverse("receivables:write_off_decide", args=[write_off.pk]), {"decision": "approve"})
    # then
    assert response.status_code == 302
    write_off.refresh_from_db()
    invoice.refresh_from_db()
    assert write_off.status == WriteOff.Status.APPROVED and write_off.decided_by == client.user
    assert invoice.status == Invoice.Status.WRITTEN_OFF and owed(seller) == 0
    assert balance(kind=AccountKind.BAD_DEBT_EXPENSE, market=w.market) == {"GBP": D("13.60")}
    assert balance_problems() == []
    again = client.post(reverse("receivables:write_off_decide", args=[write_off.pk]), {"decision": "approve"})
    assert again.status_code == 302 and balance(kind=AccountKind.BAD_DEBT_EXPENSE, market=w.market) == {
        "GBP": D("13.60")
    }


def test_write_off_above_the_approver_limit_is_refused():
    from settlement_ops.models import ApprovalLimit

    ApprovalLimit.objects.filter(role="finance_approver", action="write_off", currency="GBP").update(
        max_amount=D("10.00")
    )
    w = World()
    invoice = w.invoice(w.seller(), "1.000", "3.000")
    write_off = write_off_propose(actor=w.clerk, invoice=invoice, reason="x")
    with pytest.raises(PermissionDeniedError) as exc:
        write_off_approve(actor=UserFactory(role="finance_approver"), write_off=write_off)
    assert exc.value.code == "over_limit"
    with pytest.raises(DomainError):
        write_off_propose(actor=w.clerk, invoice=invoice, reason="twice")


def test_aging_buckets_in_invoice_and_reporting_currency(client_as):
    w = World()
    seller = w.seller()
    w.invoice(seller, "1.000", period=SEP)  # due 2026-10-30
    w.invoice(seller, "3.000")  # due 2026-11-30
    FxRate.objects.create(rate_date=date(2026, 12, 1), currency="GBP", rate=D("1.2"))
    report = aging(as_of=date(2026, 12, 15), market=w.market)
    [row] = report["rows"]
    assert (row["current"], row["d1_30"], row["d31_60"], row["total"]) == (D("0"), D("7.61"), D("5.99"), D("13.60"))
    assert row["reporting"]["total"].amount == D("16.32") and report["reporting"]["d1_30"].amount == D("9.13")
    response = client_as("auditor").get(reverse("receivables:aging") + "?market=GB&as_of=2026-12-15")
    assert response.status_code == 200 and "<svg" in response.content.decode()
    xlsx = client_as("auditor").get(reverse("receivables:aging") + "?market=GB&as_of=2026-12-15&format=xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_aging_at_a_past_period_end_is_what_stood_open_then(db):
    # given: September's invoice (5.99, due 2026-10-30) paid on 2026-11-10, and October's
    # (7.61, due 2026-11-30) paid in part the same day
    w = World()
    seller = w.seller()
    sep = w.invoice(seller, "1.000", period=SEP)
    oct_ = w.invoice(seller, "3.000")
    receipt = w.receive("13.00", seller=seller, value_date=date(2026, 11, 10))
    # the matcher applied it oldest first, posted the day it applied it (the market's today)
    applied = {a.invoice_id: a.amount for a in receipt.applications.all()}
    assert applied == {sep.pk: D("5.99"), oct_.pk: D("7.01")}
    applied_on = {a.entry.entry_date for a in receipt.applications.all()}
    assert applied_on == {w.market.local_date()}
    # when / then: at October's end both were still open, September's one day past due
    [october] = aging_at(market=w.market, end=date(2026, 10, 31))
    assert (october["current"], october["d1_30"], october["total"]) == (D("7.61"), D("5.99"), D("13.60"))
    # at the end of the day of the applications only October's remainder is open, as the ledger
    # says (in the bucket of its days past due then: it fell due on 2026-11-30)
    [after] = aging_at(market=w.market, end=w.market.local_date())
    assert after["total"] == D("0.60") and sum(after[key] for key in BUCKET_KEYS) == D("0.60")
    assert owed(seller) == D("0.60")
    # today's aging of October's end would show the paid invoices as paid: not what stood then
    assert aging(as_of=date(2026, 10, 31), market=w.market)["rows"][0]["total"] == D("0.60")


def test_promise_in_the_past_is_refused_with_a_field_message(client_as):
    w = World()
    seller = w.seller()
    client = client_as("finance_specialist")
    response = client.post(
        reverse("receivables:seller_collections", args=[seller.pk]),
        {"kind": "promise", "text": "will pay", "promised_amount": "5", "promised_date": "2020-01-01"},
    )
    assert response.status_code == 400 and "The promised date is in the past." in response.content.decode()
