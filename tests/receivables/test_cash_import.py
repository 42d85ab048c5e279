"""Bank statements imported set-based: the same applications, amounts, rules and ledger as
recording the lines one by one, to the cent — and the unhappy paths: a bad row or a closed period
writes nothing, a re-import skips what it has, two imports of overlapping statements at the same
moment apply each line once."""

import csv
import io
import random
from datetime import date
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Sum
from django.test import TestCase
from django.urls import reverse

from billing.receivables.cash import receipt_record, receipts_import
from billing.receivables.models import Invoice, PayoutDeduction, Receipt, ReceiptApplication
from billing.receivables.services import balance_problems
from settlement_ops.errors import DomainError
from settlement_ops.models import AccountingPeriod, AuditEvent, JournalEntry, Posting
from settlement_ops.roles import Role
from tests.conftest import run_concurrently
from tests.factories import UserFactory
from tests.receivables.helpers import OCT, SEP, World, owed

pytestmark = pytest.mark.django_db

AUG = (date(2026, 8, 1), date(2026, 8, 31))
HEADER = "value_date,amount,currency,reference,payer_name,bank_reference,seller_code\n"
RULE = ReceiptApplication.Rule

# Parcels each seller ships per period (1 kg costs the seller 5.99 gross, 3 kg 7.61).
SHIPPED = {
    "a": {AUG: ["1.000"], SEP: ["3.000"], OCT: ["1.000", "1.000"]},  # 5.99, 7.61, 11.98
    "b": {AUG: ["3.000"], SEP: ["1.000"], OCT: ["3.000"]},  # 7.61, 5.99, 7.61
    "c": {AUG: ["1.000", "1.000"], SEP: ["3.000"], OCT: ["1.000"]},  # 11.98, 7.61, 5.99
    "d": {AUG: ["1.000"], SEP: ["1.000", "3.000"]},  # 5.99, 13.60
    "e": {SEP: ["1.000"], OCT: ["3.000"]},  # 5.99, 7.61
    "p": {AUG: ["1.000"], SEP: ["3.000"]},  # payout-collected: 5.99, 7.61
}


class Ledger:
    """Six sellers with invoices of August, September and October, rated and issued by the real
    billing run and statements; `inv[("a", OCT)]` is seller a's October invoice."""

    def __init__(self):
        self.w = World()
        self.s = {name: self.w.seller(net_from_payout=name == "p") for name in SHIPPED}
        for period in (AUG, SEP, OCT):
            for name, periods in SHIPPED.items():
                if period in periods:
                    self.w.ship(self.s[name], *periods[period], ship_date=period[0].replace(day=5))
            self.w.rate(period[1])
            self.w.state(period)
        self.inv = {
            (name, period): Invoice.objects.get(seller=seller, period_start=period[0], kind=Invoice.Kind.INVOICE)
            for name, seller in self.s.items()
            for period in SHIPPED[name]
        }

    def statement(self) -> list[tuple]:
        """(amount, reference, payer, bank reference, seller code) per line, each rule and edge."""
        inv, s = self.inv, self.s
        return [
            (inv["a", OCT].gross_total, f"Payment {inv['a', OCT].number}", "A Ltd", "ST-01", ""),  # rule 1
            ("5.99", "logistics", "B Ltd", "ST-02", s["b"].code),  # rule 2 beats the older 7.61
            ("20.00", "fees", "C Ltd", "ST-03", s["c"].code),  # rule 3: Aug, Sep and part of Oct
            ("9.99", "transfer 4471", "Unknown GmbH", "ST-04", ""),  # nobody: the unmatched queue
            ("100.00", f"invoices of {s['d'].code.lower()}", "D Ltd", "ST-05", ""),  # code in text; over-paid
            ("10.00", f"{inv['e', OCT].number} and {inv['e', SEP].number}", "E Ltd", "ST-06", ""),  # order written
            ("7.61", f"again {inv['a', OCT].number}", "A Ltd", "ST-07", ""),  # named invoice paid: rule 2
            ("3.00", inv["p", AUG].number, "P Ltd", "ST-08", ""),  # rule 1 takes a payout invoice too
            ("7.61", "fees", "B Ltd", "ST-09", s["b"].code),  # two exact matches: the oldest
            ("4.00", f"{inv['a', SEP].number} {inv['b', OCT].number}", "?", "ST-10", ""),  # two sellers: unknown
            ("5.58", inv["c", OCT].number.lower(), "C Ltd", "ST-11", s["c"].code),  # the rest of c's October
            ("1.00", inv["d", SEP].number, "E Ltd", "ST-12", s["e"].code),  # names d's invoice, e pays: rule 3
        ]

    def csv(self, lines, value_date="2026-11-10") -> bytes:
        return (HEADER + "".join(f"{value_date},{a},GBP,{r},{p},{b},{c}\n" for a, r, p, b, c in lines)).encode()

    def record_one_by_one(self, lines, value_date=date(2026, 11, 10)) -> None:
        codes = {seller.code: seller for seller in self.s.values()}
        for amount, reference, payer, bank_reference, code in lines:
            receipt_record(
                actor=self.w.clerk,
                market=self.w.market,
                amount=D(amount),
                currency="GBP",
                value_date=value_date,
                bank_reference=bank_reference,
                reference=reference,
                payer_name=payer,
                seller=codes.get(code),
                source=Receipt.Source.IMPORT,
            )


def snapshot(market) -> dict:
    """Everything cash application decides, by natural keys (ids differ between two runs)."""
    receipts = {r.pk: r for r in Receipt.objects.filter(market=market).select_related("seller")}

    def key(entry_key: str) -> str:
        # receivables:application:<receipt id>:<invoice id>:<n> -> by bank reference and number
        parts = entry_key.split(":")
        if parts[1] in ("application", "receipt_identify"):
            parts[2] = receipts[int(parts[2])].bank_reference
        if parts[1] == "application":
            parts[3] = Invoice.objects.get(pk=parts[3]).number
        return ":".join(parts)

    return {
        "applications": [
            (a.receipt.bank_reference, a.invoice.number, a.amount, a.rule)
            for a in ReceiptApplication.objects.filter(receipt__market=market)
            .select_related("receipt", "invoice")
            .order_by("pk")
        ],
        "receipts": {
            r.bank_reference: (r.seller.code if r.seller else None, r.amount, r.amount_unapplied, r.status)
            for r in receipts.values()
        },
        "invoices": {i.number: (i.amount_open, i.status) for i in Invoice.objects.filter(market=market)},
        "deductions": {d.invoice.number: (d.amount, d.status) for d in PayoutDeduction.objects.filter(market=market)},
        "balances": {
            row["account__code"]: row["total"]
            for row in Posting.objects.filter(market=market).values("account__code").annotate(total=Sum("amount"))
        },
        "entries": sorted(
            (
                key(e.idempotency_key),
                e.entry_date,
                e.description,
                tuple(sorted((p.account.code, p.amount, p.memo) for p in e.postings.all())),
            )
            for e in JournalEntry.objects.filter(market=market, source_type__startswith="receivables.")
            .exclude(source_type__in=["receivables.credit_note"])
            .prefetch_related("postings__account")
        ),
    }


def unidentified_cash(market) -> D:
    return Posting.objects.filter(market=market, account__kind="seller_unapplied_cash", party_type="").aggregate(
        s=Sum("amount")
    )["s"] or D(0)


def random_statement(world: Ledger, seed: int, count: int = 40) -> list[tuple]:
    """`count` lines drawn with a seeded generator: invoice numbers (one or two, of one seller or
    two, upper or lower case), seller codes in the column or in the text, exact amounts of open
    invoices, arbitrary amounts, strangers. Many lines hit the same sellers, so each depends on
    what the lines before it paid."""
    rng = random.Random(seed)
    invoices, sellers = list(world.inv.values()), list(world.s.values())
    lines = []
    for n in range(count):
        invoice, other = rng.choice(invoices), rng.choice(invoices)
        seller = rng.choice(sellers)
        amount = rng.choice([invoice.gross_total, other.gross_total, D(rng.randint(1, 3000)) / 100])
        reference, code = rng.choice(
            [
                (invoice.number, ""),
                (f"{invoice.number} {other.number}".lower(), ""),
                ("fees", seller.code),
                (f"from {seller.code.lower()}", ""),
                (invoice.number, seller.code),
                ("no idea", ""),
            ]
        )
        lines.append((amount, reference, "Payer", f"RND-{seed}-{n:03d}", code))
    return lines


@pytest.mark.parametrize("seed", [18, 1802])
def test_a_seeded_random_statement_gives_the_same_in_bulk_as_line_by_line(seed):
    # given
    world = Ledger()
    lines = random_statement(world, seed)
    # when
    savepoint = transaction.savepoint()
    world.record_one_by_one(lines)
    one_by_one = snapshot(world.w.market)
    transaction.savepoint_rollback(savepoint)
    receipts_import(actor=world.w.clerk, market=world.w.market, content=world.csv(lines), filename="r.csv")
    # then
    bulk = snapshot(world.w.market)
    for part in one_by_one:
        assert bulk[part] == one_by_one[part], part
    assert len(bulk["applications"]) > 10 and balance_problems() == []


def test_a_statement_imported_in_bulk_gives_what_recording_its_lines_one_by_one_gives():
    # given one set of invoices, and a statement exercising every rule and edge
    world = Ledger()
    lines = world.statement()
    before = snapshot(world.w.market)
    # when the lines are recorded one by one (receipt_record, the hand/API door) ...
    savepoint = transaction.savepoint()
    world.record_one_by_one(lines)
    one_by_one = snapshot(world.w.market)
    # ... and, on the same data again, imported as one statement
    transaction.savepoint_rollback(savepoint)
    assert snapshot(world.w.market) == before
    result = receipts_import(actor=world.w.clerk, market=world.w.market, content=world.csv(lines), filename="s.csv")
    bulk = snapshot(world.w.market)
    # then: the same applications in the same order, amounts, receipts, invoices, deductions,
    # entries and balances, to the cent
    assert result["created"] == 12 and (result["matched"], result["unmatched"]) == (10, 2)
    for part in one_by_one:
        assert bulk[part] == one_by_one[part], part
    assert bulk["applications"] != before["applications"]
    assert balance_problems() == []


def test_a_statement_imported_through_the_page_applies_each_rule_to_the_cent(client_as):
    # given
    world = Ledger()
    inv, s, market = world.inv, world.s, world.w.market
    client = client_as(Role.FINANCE_SPECIALIST)
    upload = SimpleUploadedFile("nov.csv", world.csv(world.statement()), "text/csv")
    # when the clerk uploads the statement (a background job, run after commit)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            reverse("receivables:receipt_list"), {"action": "import", "market": "GB", "file": upload}
        )
    # then
    assert response.status_code == 302
    applied = [
        (a.receipt.bank_reference, a.invoice_id, a.amount, a.rule)
        for a in ReceiptApplication.objects.select_related("receipt").order_by("pk")
    ]
    assert applied == [
        ("ST-01", inv["a", OCT].pk, D("11.98"), RULE.INVOICE_NUMBER),
        ("ST-02", inv["b", SEP].pk, D("5.99"), RULE.EXACT_AMOUNT),
        ("ST-03", inv["c", AUG].pk, D("11.98"), RULE.OLDEST_FIRST),
        ("ST-03", inv["c", SEP].pk, D("7.61"), RULE.OLDEST_FIRST),
        ("ST-03", inv["c", OCT].pk, D("0.41"), RULE.OLDEST_FIRST),
        ("ST-05", inv["d", AUG].pk, D("5.99"), RULE.OLDEST_FIRST),
        ("ST-05", inv["d", SEP].pk, D("13.60"), RULE.OLDEST_FIRST),
        ("ST-06", inv["e", OCT].pk, D("7.61"), RULE.INVOICE_NUMBER),
        ("ST-06", inv["e", SEP].pk, D("2.39"), RULE.INVOICE_NUMBER),
        ("ST-07", inv["a", SEP].pk, D("7.61"), RULE.EXACT_AMOUNT),
        ("ST-08", inv["p", AUG].pk, D("3.00"), RULE.INVOICE_NUMBER),
        ("ST-09", inv["b", AUG].pk, D("7.61"), RULE.EXACT_AMOUNT),
        ("ST-11", inv["c", OCT].pk, D("5.58"), RULE.INVOICE_NUMBER),
        ("ST-12", inv["e", SEP].pk, D("1.00"), RULE.OLDEST_FIRST),
    ]
    receipts = {r.bank_reference: r for r in Receipt.objects.filter(market=market)}
    assert (receipts["ST-04"].status, receipts["ST-04"].seller) == (Receipt.Status.UNMATCHED, None)
    assert (receipts["ST-10"].status, receipts["ST-10"].seller) == (Receipt.Status.UNMATCHED, None)
    # over-payment: d's 100.00 paid 19.59 and keeps 80.41 as credit
    assert (receipts["ST-05"].status, receipts["ST-05"].amount_unapplied) == (
        Receipt.Status.PARTIALLY_APPLIED,
        D("80.41"),
    )
    assert receipts["ST-05"].seller == s["d"] and owed(s["d"]) == D("-80.41")
    fresh = {pk: (i.amount_open, i.status) for pk, i in Invoice.objects.in_bulk([i.pk for i in inv.values()]).items()}
    assert fresh[inv["c", OCT].pk] == (D("0.00"), Invoice.Status.PAID)
    assert fresh[inv["e", SEP].pk] == (D("2.60"), Invoice.Status.PARTIALLY_PAID)
    assert fresh[inv["b", OCT].pk] == (D("7.61"), Invoice.Status.OPEN)
    assert fresh[inv["p", AUG].pk] == (D("2.99"), Invoice.Status.PARTIALLY_PAID)
    # the payout system is now asked for what is still open of the payout invoice
    deduction = PayoutDeduction.objects.get(invoice=inv["p", AUG])
    assert (deduction.amount, deduction.status) == (D("2.99"), PayoutDeduction.Status.PENDING)
    # history: each receipt created, each paid invoice changed, by the clerk
    assert Receipt.history.filter(history_type="+").count() == 12
    changed = Invoice.history.filter(history_type="~", id=inv["e", SEP].pk).latest("history_id")
    assert (changed.amount_open, changed.status, changed.history_user) == (
        D("2.60"),
        Invoice.Status.PARTIALLY_PAID,
        client.user,
    )
    assert AuditEvent.objects.filter(action="receipts_import").get().detail["created"] == 12
    assert unidentified_cash(market) == D("-13.99") and balance_problems() == []


def test_importing_an_overlapping_statement_again_adds_only_the_new_lines():
    # given the first five lines imported
    world = Ledger()
    lines = world.statement()
    market, clerk = world.w.market, world.w.clerk
    receipts_import(actor=clerk, market=market, content=world.csv(lines[:5]), filename="week1.csv")
    first = snapshot(market)
    # when the next statement repeats lines 4 and 5 and brings the rest (the job runs twice, too)
    second = receipts_import(actor=clerk, market=market, content=world.csv(lines[3:]), filename="week2.csv")
    again = receipts_import(actor=clerk, market=market, content=world.csv(lines[3:]), filename="week2.csv")
    # then
    assert (second["created"], second["skipped"]) == (7, 2)
    assert (again["created"], again["skipped"]) == (0, 9)
    after = snapshot(market)
    assert after["applications"][: len(first["applications"])] == first["applications"]
    assert len(after["receipts"]) == 12 and balance_problems() == []
    # a line whose bank reference was imported with another amount is refused by row, nothing written
    changed = [("12.00", "x", "A Ltd", "ST-01", ""), ("1.00", "new", "A Ltd", "ST-99", "")]
    with pytest.raises(DomainError) as refused:
        receipts_import(actor=clerk, market=market, content=world.csv(changed), filename="bad.csv")
    assert [(e["row"], e["field"]) for e in refused.value.errors] == [(2, "bank_reference")]
    assert "imported before with GBP 11.98" in refused.value.errors[0]["message"]
    assert snapshot(market) == after


def test_a_bad_row_anywhere_writes_nothing_at_all():
    # given a statement whose first lines would match, and a bad last line
    world = Ledger()
    market = world.w.market
    before = snapshot(market)
    history = (Receipt.history.count(), Invoice.history.count())
    content = world.csv(world.statement()) + b"2026-11-10,12.345,GBP,x,y,ST-BAD,\n"
    # when
    with pytest.raises(DomainError) as refused:
        receipts_import(actor=world.w.clerk, market=market, content=content, filename="s.csv")
    # then the row and field are named, and nothing was written
    assert [(e["row"], e["field"]) for e in refused.value.errors] == [(14, "amount")]
    assert snapshot(market) == before
    assert (Receipt.history.count(), Invoice.history.count()) == history
    assert not AuditEvent.objects.filter(action="receipts_import").exists()


def test_lines_dated_in_a_closed_period_are_named_and_nothing_is_written():
    # given October closed
    world = Ledger()
    market = world.w.market
    AccountingPeriod.objects.create(
        market=market,
        month=date(2026, 10, 1),
        status=AccountingPeriod.Status.CLOSED,
        soft_closed_by=UserFactory(role=Role.FINANCE_SPECIALIST),
        soft_closed_at="2026-11-02T10:00Z",
        closed_by=UserFactory(role=Role.FINANCE_APPROVER),
        closed_at="2026-11-03T10:00Z",
    )
    before = snapshot(market)
    lines = world.statement()
    content = world.csv(lines[:2]) + world.csv(lines[2:4], value_date="2026-10-31")[len(HEADER) :]
    # when
    with pytest.raises(DomainError) as refused:
        receipts_import(actor=world.w.clerk, market=market, content=content, filename="s.csv")
    # then
    assert [(e["row"], e["field"]) for e in refused.value.errors] == [(4, "value_date"), (5, "value_date")]
    assert "2026-10-31 is in 2026-10, which is closed in GB" in refused.value.errors[0]["message"]
    assert snapshot(market) == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_overlapping_statements_at_once_apply_each_line_once():
    # given two clerks with statements sharing three lines
    world = Ledger()
    lines = world.statement()
    market = world.w.market
    other_clerk = UserFactory(role=Role.FINANCE_SPECIALIST)

    def run(clerk, part, name):
        return lambda: receipts_import(actor=clerk, market=market, content=world.csv(part), filename=name)

    # when both import at the same moment
    results, errors = run_concurrently(
        run(world.w.clerk, lines[:8], "first.csv"), run(other_clerk, lines[5:][::-1], "second.csv")
    )
    # then both succeed, the shared lines once, and each invoice paid no more than once over
    assert errors == [None, None]
    assert sorted(r["created"] for r in results) in ([4, 8], [5, 7])
    assert sum(r["created"] for r in results) == 12 and sum(r["skipped"] for r in results) == 3
    assert Receipt.objects.filter(market=market).count() == 12
    assert JournalEntry.objects.filter(source_type="receivables.receipt").count() == 12
    for invoice in Invoice.objects.filter(market=market, kind=Invoice.Kind.INVOICE):
        paid = invoice.applications.aggregate(s=Sum("amount"))["s"] or D(0)
        assert invoice.amount_open == invoice.gross_total - paid
    assert balance_problems() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_line_recorded_by_hand_while_its_statement_is_imported_is_recorded_once():
    # given a statement, and a clerk typing one of its lines in by hand at the same moment
    world = Ledger()
    lines = world.statement()[:6]
    market = world.w.market
    # when
    results, errors = run_concurrently(
        lambda: receipts_import(actor=world.w.clerk, market=market, content=world.csv(lines), filename="s.csv"),
        lambda: world.record_one_by_one([lines[4]]),
    )
    # then either the hand entry came first and the import skipped the line, or the import came
    # first and the hand entry was refused as a duplicate — never both, never a server error
    assert errors[0] is None
    if errors[1] is None:
        assert (results[0]["created"], results[0]["skipped"]) == (5, 1)
    else:
        assert isinstance(errors[1], DomainError) and errors[1].code == "duplicate_receipt"
        assert (results[0]["created"], results[0]["skipped"]) == (6, 0)
    assert Receipt.objects.filter(market=market, bank_reference="ST-05").count() == 1
    assert balance_problems() == []


def test_references_and_payer_names_are_stored_as_the_bank_wrote_them():
    # given a statement whose text fields hold what COPY's text format escapes: backslash, tab,
    # and a quoted comma (the import writes its receipts by COPY)
    world = Ledger()
    market, clerk = world.w.market, world.w.clerk
    reference, payer = 'Pay\\ment\t"fees", Nov', "C:\\Payers\\N\\Ltd"
    body = io.StringIO()
    writer = csv.writer(body, lineterminator="\n")
    writer.writerow(HEADER.strip().split(","))
    writer.writerow(["2026-11-10", "9.99", "GBP", reference, payer, "ST-ESC", ""])
    # when
    result = receipts_import(actor=clerk, market=market, content=body.getvalue().encode(), filename="s.csv")
    # then: stored to the character, and so is their history row
    assert result["created"] == 1
    receipt = Receipt.objects.get(market=market, bank_reference="ST-ESC")
    assert (receipt.reference, receipt.payer_name, receipt.amount) == (reference, payer, D("9.99"))
    history = receipt.history.get()
    assert (history.reference, history.payer_name) == (reference, payer)
