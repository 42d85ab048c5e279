"""Receivables use cases: statements and invoices, credit notes, payout deductions, write-offs.
Receipts and cash application are in `cash.py`, dunning in `dunning.py`, the collections
worklist in `selectors.py`.

Ledger design (every entry balanced, one deterministic idempotency key per business event):

    rating (billing run, billing/services.py) Dr seller receivable (seller)            gross
                                              Cr logistics revenue                     net
                                              Cr VAT output                            VAT
    invoice issued                            no entry: a tax document over charge lines whose
                                              fees and VAT the billing run already posted
    credit note (correction of an invoice)    Dr logistics revenue                     net
    or VN adjustment invoice                  Dr VAT output                            VAT
                                              Cr seller receivable (seller)            gross
    VN replacement invoice                    the same, for the lines it leaves out; the
                                              original is "replaced", the replacement open
    receipt, seller known                     Dr bank                                  amount
                                              Cr seller unapplied cash (seller)        amount
    receipt, seller unknown                   Dr bank / Cr seller unapplied cash (no party: unidentified)
    receipt identified later                  Dr unapplied (no party) / Cr unapplied (seller)
    application of cash to an invoice         Dr seller unapplied cash (seller)        applied
                                              Cr seller receivable (seller)            applied
    payout deduction confirmed                Dr seller payout clearing (seller)       amount
                                              Cr seller receivable (seller)            amount
    write-off approved                        Dr bad debt expense                      amount
                                              Cr seller receivable (seller)            amount
    any reversal                              the mirror entry (settlement_ops.services.ledger_reverse)

The billing run posts each rated seller fee gross to the seller's receivable with VAT output at
rating (its business date is the tax point), so the receivable holds rated-but-uninvoiced fees
too and the unbilled-receivable account stays unused: moving fees from "unbilled" to "invoiced"
would need billing to post to the unbilled account first. Invoicing therefore posts nothing and
takes exactly the charge lines of *completed* runs up to the period end that no invoice has yet
(unique per charge line), so an invoice's gross is the sum of what the runs posted for its lines.

What the seller owes = seller receivable + seller unapplied cash of that seller (debit positive).
Statements are derived from those postings only (`statement_figures`): fees = the billing-run
postings of the period (their charge lines are the shipment detail), credits = credit notes,
payments = receipts and payout deductions, adjustments = write-offs and postings of other apps
(compensation chargebacks). The sub-ledger is provable (`balance_problems`, nightly):
receivable(seller) == open invoice amounts + rated-not-yet-invoiced fees, and
-unapplied(seller) == the seller's unapplied receipts.

Idempotency keys: `receivables:<event>:<natural id>`, e.g. `receivables:credit_note:GB-CN-2026-000003`.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import BillingRun, ChargeLine
from sellers.models import Seller
from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AccountKind, AuditEvent, Market, PartyType, Posting
from settlement_ops.money import MINOR_UNITS, format_amount, quantize, to_decimal
from settlement_ops.selectors import ZERO
from settlement_ops.services import (
    AnyOf,
    EntrySpec,
    PostingLine,
    account_for,
    approval_check,
    audit_record,
    document_number_next,
    ledger_post,
    ledger_post_many,
)

from . import locks
from .models import (
    CorrectionRule,
    Invoice,
    InvoiceLine,
    PayoutDeduction,
    Receipt,
    ReceiptApplication,
    Statement,
    WriteOff,
)

# The seller's side of the ledger that statements show.
STATEMENT_KINDS = (AccountKind.SELLER_RECEIVABLE, AccountKind.SELLER_UNAPPLIED_CASH)


class Source:
    """`JournalEntry.source_type` of receivables entries (reversals keep the original's)."""

    BILLING_RUN = "billing_run"  # billing's entries: the rated fees
    CREDIT_NOTE = "receivables.credit_note"
    # Vietnam's corrections (CorrectionRule): an adjustment invoice posts like a credit note; a
    # replacement invoice posts what it took off the invoice it replaces.
    ADJUSTMENT = "receivables.adjustment"
    REPLACEMENT = "receivables.replacement"
    RECEIPT = "receivables.receipt"
    RECEIPT_IDENTIFY = "receivables.receipt_identify"
    APPLICATION = "receivables.application"
    PAYOUT_DEDUCTION = "receivables.payout_deduction"
    WRITE_OFF = "receivables.write_off"
    # A charge invoiced to a seller without charge lines (a compensation chargeback): the entry
    # posts the invoice's gross to the receivable, so the sub-ledger proof counts it.
    SELLER_CHARGE = "receivables.seller_charge"

    PAYMENTS = (RECEIPT, RECEIPT_IDENTIFY, PAYOUT_DEDUCTION)
    # What a statement shows as credits: every correction of an invoice.
    CORRECTIONS = (CREDIT_NOTE, ADJUSTMENT, REPLACEMENT)
    # What a statement shows as charges: rated fees and charges invoiced on their own.
    CHARGES = (BILLING_RUN, SELLER_CHARGE)


def amount_hint(currency: str) -> str:
    """What a valid amount looks like in `currency`, for a refused one (never "minor units")."""
    places = MINOR_UNITS.get(currency, 2)
    if places == 0:
        return f"The amount must be more than zero, in whole {currency} ({currency} has no decimals)."
    return f"The amount must be more than zero, in {currency} with at most {places} decimals."


def seller_account(market: Market, kind: str, seller_id: int):
    return account_for(market=market, kind=kind, party_type=PartyType.SELLER, party_id=seller_id)


def market_account(market: Market, kind: str):
    return account_for(market=market, kind=kind)


# --- Periods ------------------------------------------------------------------------------------


def statement_period(*, market: Market, on: date | None = None) -> tuple[date, date]:
    """The last complete statement period before `on` (default: the market's today):
    the previous calendar month, or the previous Monday-Sunday week for weekly markets."""
    on = on or market.local_date()
    if market.statement_cycle == "weekly":
        end = on - timedelta(days=on.weekday() + 1)
        return end - timedelta(days=6), end
    end = on.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


# --- Invoices from rated charge lines -----------------------------------------------------------


def _uninvoiced_lines(*, market: Market, period_end: date):
    """Seller fee lines of completed runs up to the period end that no invoice carries yet."""
    return ChargeLine.objects.filter(
        market=market,
        currency=market.currency,
        run__status=BillingRun.Status.COMPLETED,
        run__business_date__lte=period_end,
        invoice_line__isnull=True,
    )


def _insert_invoice_lines(*, invoice: Invoice, market: Market, seller_id: int, period_end: date) -> int:
    """One INSERT ... SELECT copies the seller's uninvoiced charge lines onto the invoice."""
    line_table = InvoiceLine._meta.db_table
    charge_table = ChargeLine._meta.db_table
    run_table = BillingRun._meta.db_table
    shipment_table = ChargeLine._meta.get_field("shipment").related_model._meta.db_table
    schedule_table = ChargeLine._meta.get_field("seller_fee_schedule").related_model._meta.db_table
    sql = f"""
        INSERT INTO {line_table}
            (invoice_id, charge_line_id, credited_line_id, shipment_id, tracking_number, ship_date, service_level,
             line_kind, vat_rate, net, vat, gross)
        SELECT %s, cl.id, NULL, cl.shipment_id, sh.tracking_number, cl.ship_date, cl.service_level,
               cl.kind, fs.vat_rate, cl.seller_net, cl.seller_vat, cl.seller_gross
        FROM {charge_table} cl
        JOIN {run_table} r ON r.id = cl.run_id
        JOIN {shipment_table} sh ON sh.id = cl.shipment_id
        JOIN {schedule_table} fs ON fs.id = cl.seller_fee_schedule_id
        WHERE cl.market_id = %s AND cl.seller_id = %s AND cl.currency = %s
          AND r.status = %s AND r.business_date <= %s
          AND NOT EXISTS (SELECT 1 FROM {line_table} il WHERE il.charge_line_id = cl.id)
    """
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [invoice.pk, market.pk, seller_id, market.currency, BillingRun.Status.COMPLETED, period_end]
        )
        return cursor.rowcount


def _invoice_issue(
    *,
    actor,
    market: Market,
    seller: Seller,
    totals: dict,
    period_start: date,
    period_end: date,
    statement: Statement | None,
) -> Invoice:
    """Number and store one invoice for the seller's uninvoiced lines (caller holds the seller lock)."""
    currency = market.currency
    net, vat, gross = (quantize(totals[k], currency) for k in ("net", "vat", "gross"))
    if net + vat != gross:
        raise DomainError(
            f"Seller {seller.code}: rated lines do not add up (net {net} + VAT {vat} != {gross})",
            code="inconsistent_lines",
        )
    issue_date = period_end
    number = document_number_next(market=market, kind="inv", on=issue_date)
    invoice = Invoice.objects.create(
        market=market,
        seller=seller,
        statement=statement,
        kind=Invoice.Kind.INVOICE,
        number=number,
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=market.payment_terms_days),
        period_start=period_start,
        period_end=period_end,
        currency=currency,
        language=market.language,
        collection=Invoice.Collection.PAYOUT if seller.net_from_payout else Invoice.Collection.BANK,
        net_total=net,
        vat_total=vat,
        gross_total=gross,
        amount_open=gross,
        created_by=actor,
    )
    copied = _insert_invoice_lines(invoice=invoice, market=market, seller_id=seller.pk, period_end=period_end)
    check = invoice.lines.aggregate(n=Count("id"), net=Coalesce(Sum("net"), ZERO), vat=Coalesce(Sum("vat"), ZERO))
    if copied != totals["count"] or quantize(check["net"], currency) != net or quantize(check["vat"], currency) != vat:
        # A billing run completed between the totals query and the insert: refuse rather than
        # store an invoice whose lines differ from what was posted.
        raise ConflictError(
            f"Seller {seller.code}: charge lines changed while invoicing; run it again", code="lines_changed"
        )
    if invoice.collection == Invoice.Collection.PAYOUT:
        PayoutDeduction.objects.create(invoice=invoice, market=market, seller=seller, currency=currency, amount=gross)
    return invoice


def statement_figures(*, market: Market, period_start: date, period_end: date, seller_ids=None) -> dict[int, dict]:
    """Per seller: opening, charges, credits, payments, adjustments, closing of the period, from
    the postings of the seller's receivable and unapplied cash — one aggregate query."""
    in_period = Q(entry_date__gte=period_start)
    qs = Posting.objects.filter(
        market=market,
        party_type=PartyType.SELLER,
        account__kind__in=STATEMENT_KINDS,
        entry_date__lte=period_end,
        currency=market.currency,
    )
    if seller_ids is not None:
        qs = qs.filter(party_id__in=list(seller_ids))
    source = "entry__source_type"
    rows = qs.values("party_id").annotate(
        opening=Coalesce(Sum("amount", filter=Q(entry_date__lt=period_start)), ZERO),
        charges=Coalesce(Sum("amount", filter=in_period & Q(**{f"{source}__in": Source.CHARGES})), ZERO),
        credits=Coalesce(Sum("amount", filter=in_period & Q(**{f"{source}__in": Source.CORRECTIONS})), ZERO),
        payments=Coalesce(Sum("amount", filter=in_period & Q(**{f"{source}__in": Source.PAYMENTS})), ZERO),
        closing=Coalesce(Sum("amount"), ZERO),
    )
    figures = {}
    for row in rows:
        # Every figure is an exact NUMERIC sum of rounded amounts: nothing to round here.
        row["adjustments"] = row["closing"] - row["opening"] - row["charges"] - row["credits"] - row["payments"]
        figures[row["party_id"]] = row
    return figures


@retry_on_conflict
@transaction.atomic(durable=True)
def statements_generate(
    *, actor, market: Market, period_start: date, period_end: date, seller_ids=None
) -> list[Statement]:
    """Issue the period's invoices and write the statements of every seller of the market with
    activity (or of `seller_ids`). Safe to run again: sellers that already have a statement for
    the period are skipped, so a second run creates nothing.

    Per seller with uninvoiced fee lines of completed runs (business date <= period end) whose
    total is positive: one invoice dated the period end, gaplessly numbered, with the
    lines copied by one INSERT ... SELECT. A period whose new lines net to zero or less issues no
    invoice; its lines (re-rating credits) roll into the next period's invoice.

    Raises DomainError for a reversed or open period.
    """
    if period_end < period_start:
        raise DomainError("The period ends before it starts.", field="period_end")
    if period_end >= market.local_date():
        raise DomainError(
            f"The period must be over: it ends {period_end}, today is {market.local_date()} in {market.code}.",
            code="period_open",
            field="period_end",
        )
    sellers = Seller.objects.filter(market=market)
    if seller_ids is not None:
        sellers = sellers.filter(pk__in=list(seller_ids))
    done = set(
        Statement.objects.filter(seller__in=sellers, period_start=period_start, period_end=period_end).values_list(
            "seller_id", flat=True
        )
    )
    lines = (
        _uninvoiced_lines(market=market, period_end=period_end).filter(seller__in=sellers).exclude(seller_id__in=done)
    )
    billable = {
        row["seller_id"]: row
        for row in lines.values("seller_id").annotate(
            net=Sum("seller_net"), vat=Sum("seller_vat"), gross=Sum("seller_gross"), count=Count("id")
        )
    }
    active = set(
        Posting.objects.filter(
            market=market,
            party_type=PartyType.SELLER,
            account__kind__in=STATEMENT_KINDS,
            entry_date__lte=period_end,
            party_id__in=sellers.values("pk"),
        )
        .values_list("party_id", flat=True)
        .distinct()
    )
    todo = sorted((set(billable) | active) - done)
    if not todo:
        return []
    locked = {s.pk: s for s in locks.sellers_lock(todo)}
    statements = Statement.objects.bulk_create(
        Statement(
            market=market,
            seller_id=pk,
            period_start=period_start,
            period_end=period_end,
            currency=market.currency,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        for pk in todo
    )
    by_seller = {s.seller_id: s for s in statements}
    for seller_id in todo:
        totals = billable.get(seller_id)
        if totals and to_decimal(totals["gross"]) > 0:
            _invoice_issue(
                actor=actor,
                market=market,
                seller=locked[seller_id],
                totals=totals,
                period_start=period_start,
                period_end=period_end,
                statement=by_seller[seller_id],
            )
    figures = statement_figures(market=market, period_start=period_start, period_end=period_end, seller_ids=todo)
    for statement in statements:
        row = figures.get(statement.seller_id, {})
        for field in ("opening", "charges", "credits", "payments", "adjustments"):
            setattr(
                statement, f"{field}_balance" if field == "opening" else f"{field}_total", row.get(field, Decimal(0))
            )
        statement.closing_balance = row.get("closing", Decimal(0))
    Statement.objects.bulk_update(
        statements,
        ["opening_balance", "charges_total", "credits_total", "payments_total", "adjustments_total", "closing_balance"],
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="statements_generate",
        detail={
            "market": market.code,
            "period": f"{period_start}..{period_end}",
            "statements": len(statements),
            "invoices": sum(1 for t in billable.values() if to_decimal(t["gross"]) > 0),
        },
    )
    for invoice in Invoice.objects.filter(statement__in=statements, collection=Invoice.Collection.BANK).order_by("pk"):
        apply_available_credit(actor=actor, invoice=invoice)
    return statements


# --- Invoice status --------------------------------------------------------------------------------


def invoice_refresh_status(invoice: Invoice) -> None:
    """Status from the open amount and what settled it (caller saves)."""
    invoices_refresh_status([invoice])


def invoices_refresh_status(invoices) -> None:
    """`invoice_refresh_status` for many invoices (caller writes them): two queries at most, for
    the invoices with nothing left open (written off, credited or paid)."""
    settled = []
    for invoice in invoices:
        if invoice.is_credit_note:
            invoice.status = Invoice.Status.ISSUED
        elif invoice.amount_open == invoice.gross_total:
            invoice.status = Invoice.Status.OPEN
        elif invoice.amount_open > 0:
            invoice.status = Invoice.Status.PARTIALLY_PAID
        else:
            settled.append(invoice)
    if not settled:
        return
    written_off = set(
        WriteOff.objects.filter(
            AnyOf(F("invoice_id"), [i.pk for i in settled]), status=WriteOff.Status.APPROVED
        ).values_list("invoice_id", flat=True)
    )
    rest = [i.pk for i in settled if i.pk not in written_off]
    lines = (
        {
            row["invoice_id"]: row["uncredited"]
            for row in InvoiceLine.objects.filter(AnyOf(F("invoice_id"), rest))
            .values("invoice_id")
            .annotate(uncredited=Count("pk", filter=Q(credit_line__isnull=True)))
        }
        if rest
        else {}
    )
    for invoice in settled:
        if invoice.pk in written_off:
            invoice.status = Invoice.Status.WRITTEN_OFF
        elif lines.get(invoice.pk) == 0:  # has lines, and every one was credited
            invoice.status = Invoice.Status.CREDITED
        else:
            invoice.status = Invoice.Status.PAID


def deduction_sync(invoice: Invoice) -> None:
    """A payout invoice's pending deduction always asks for what is still open."""
    deductions_sync([invoice])


def deductions_sync(invoices) -> None:
    """`deduction_sync` for many invoices: their unconfirmed deductions locked in one query and
    written in one."""
    by_pk = {invoice.pk: invoice for invoice in invoices}
    deductions = list(
        PayoutDeduction.objects.filter(AnyOf(F("invoice_id"), list(by_pk)))
        .exclude(status=PayoutDeduction.Status.CONFIRMED)
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    for deduction in deductions:
        invoice = by_pk[deduction.invoice_id]
        if invoice.amount_open > 0:
            deduction.amount, deduction.status = invoice.amount_open, PayoutDeduction.Status.PENDING
        else:
            deduction.status = PayoutDeduction.Status.CANCELLED
    if deductions:
        PayoutDeduction.objects.bulk_update(deductions, ["amount", "status"])


# --- Applying cash (shared by statements and cash.py) ------------------------------------------------


def receipt_refresh_status(receipt: Receipt) -> None:
    if receipt.status == Receipt.Status.REVERSED:
        return
    if receipt.amount_unapplied == receipt.amount:
        receipt.status = Receipt.Status.UNMATCHED
    elif receipt.amount_unapplied > 0:
        receipt.status = Receipt.Status.PARTIALLY_APPLIED
    else:
        receipt.status = Receipt.Status.APPLIED


def application_entry(
    *, market: Market, receipt, invoice, amount: Decimal, nth: int, unapplied, receivable, on: date, actor
) -> EntrySpec:
    """The entry applying `amount` of a receipt to an invoice (the n-th time this receipt pays this
    invoice): seller's unapplied cash -> seller's receivable. Shared by application_post and the
    bulk statement import, so both post the same lines under the same key."""
    return EntrySpec(
        market=market,
        entry_date=on,
        lines=(
            PostingLine(unapplied, amount, receipt.bank_reference),
            PostingLine(receivable, -amount, invoice.number),
        ),
        idempotency_key=f"receivables:application:{receipt.pk}:{invoice.pk}:{nth}",
        source_type=Source.APPLICATION,
        source_id=str(receipt.pk),
        description=f"Receipt {receipt.bank_reference} applied to {invoice.number}",
        actor=actor,
    )


def application_post(*, actor, receipt: Receipt, invoice: Invoice, amount: Decimal, rule: str) -> ReceiptApplication:
    """Apply `amount` of a locked, identified receipt to a locked open invoice of the same seller:
    post unapplied cash -> receivable and update both open amounts (caller holds the locks)."""
    if receipt.seller_id is None or receipt.seller_id != invoice.seller_id:
        raise DomainError(
            f"{invoice.number} is not an invoice of the receipt's seller.", code="wrong_seller", field="invoice"
        )
    if receipt.market_id != invoice.market_id or receipt.currency != invoice.currency:
        raise DomainError(f"{invoice.number} is in another market or currency.", code="wrong_currency", field="invoice")
    if invoice.is_credit_note or not invoice.is_open:
        raise DomainError(f"{invoice.number} has nothing open.", code="not_open", field="invoice")
    if amount <= 0 or amount != quantize(amount, invoice.currency):
        raise DomainError(amount_hint(invoice.currency), field="amount")
    if amount > receipt.amount_unapplied:
        raise DomainError(
            f"Only {receipt.currency} {receipt.amount_unapplied} of the receipt is unapplied.",
            code="exceeds_unapplied",
            field="amount",
        )
    if amount > invoice.amount_open:
        raise DomainError(
            f"Only {invoice.currency} {invoice.amount_open} of {invoice.number} is open.",
            code="exceeds_open",
            field="amount",
        )
    market = invoice.market
    # The n-th application of this receipt to this invoice: deterministic under the locks.
    nth = ReceiptApplication.objects.filter(receipt=receipt, invoice=invoice).count() + 1
    entry = ledger_post_many(
        entries=[
            application_entry(
                market=market,
                receipt=receipt,
                invoice=invoice,
                amount=amount,
                nth=nth,
                unapplied=seller_account(market, AccountKind.SELLER_UNAPPLIED_CASH, invoice.seller_id),
                receivable=seller_account(market, AccountKind.SELLER_RECEIVABLE, invoice.seller_id),
                on=market.local_date(),
                actor=actor,
            )
        ]
    )[0]
    application = ReceiptApplication.objects.create(
        receipt=receipt,
        invoice=invoice,
        amount=amount,
        rule=rule,
        entry=entry,
        applied_by=actor if getattr(actor, "pk", None) else None,
    )
    receipt.amount_unapplied -= amount
    receipt_refresh_status(receipt)
    receipt.save(update_fields=["amount_unapplied", "status"])
    invoice.amount_open -= amount
    invoice_refresh_status(invoice)
    invoice.save(update_fields=["amount_open", "status"])
    deduction_sync(invoice)
    return application


def apply_available_credit(*, actor, invoice: Invoice) -> list[ReceiptApplication]:
    """Use the seller's unapplied cash (over-payments), oldest receipt first, on a new invoice."""
    receipt_ids = list(
        Receipt.objects.filter(
            seller_id=invoice.seller_id, market_id=invoice.market_id, currency=invoice.currency, amount_unapplied__gt=0
        )
        .exclude(status=Receipt.Status.REVERSED)
        .order_by("value_date", "pk")
        .values_list("pk", flat=True)
    )
    if not receipt_ids:
        return []
    receipts = locks.receipts_lock(receipt_ids)
    invoice = locks.invoice_lock(invoice.pk)
    applied = []
    for receipt in sorted(receipts, key=lambda r: (r.value_date, r.pk)):
        if invoice.amount_open == 0:
            break
        amount = min(receipt.amount_unapplied, invoice.amount_open)
        applied.append(
            application_post(
                actor=actor, receipt=receipt, invoice=invoice, amount=amount, rule=ReceiptApplication.Rule.OLDEST_FIRST
            )
        )
    return applied


# --- Corrections: credit notes, adjustment and replacement invoices ----------------------------------


def _lines_to_correct(invoice: Invoice, line_ids):
    """The invoice's uncredited lines, or those of `line_ids` (all must be uncredited lines of it)."""
    lines = invoice.lines.filter(credit_line__isnull=True)
    if line_ids is not None:
        wanted = {int(pk) for pk in line_ids}
        lines = lines.filter(pk__in=wanted)
        found = set(lines.values_list("pk", flat=True))
        if wanted - found:
            numbers = ", ".join(str(pk) for pk in sorted(wanted - found))
            raise DomainError(f"Lines {numbers} are not uncredited lines of {invoice.number}.", field="lines")
    return lines


def _correction_posting(*, market: Market, seller_id: int, net, vat, gross, number: str) -> list[PostingLine]:
    """Dr revenue and output VAT, Cr the seller's receivable: what a correction takes back."""
    posting = [
        PostingLine(seller_account(market, AccountKind.SELLER_RECEIVABLE, seller_id), -gross, number),
        PostingLine(market_account(market, AccountKind.LOGISTICS_REVENUE), net, number),
    ]
    if vat:
        posting.append(PostingLine(market_account(market, AccountKind.VAT_OUTPUT), vat, number))
    return posting


CORRECTION_WORDS = {
    CorrectionRule.Document.CREDIT_NOTE: ("Credit note", Source.CREDIT_NOTE),
    CorrectionRule.Document.ADJUSTMENT: ("Adjustment invoice", Source.ADJUSTMENT),
    CorrectionRule.Document.REPLACEMENT: ("Replacement invoice", Source.REPLACEMENT),
}


def _lines_copy(*, document: Invoice, lines, link: str) -> None:
    """The lines onto a correction document, each pointing at the line it credits or replaces."""
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=document,
            **{link: line},
            shipment_id=line.shipment_id,
            tracking_number=line.tracking_number,
            ship_date=line.ship_date,
            service_level=line.service_level,
            line_kind=line.line_kind,
            vat_rate=line.vat_rate,
            net=line.net,
            vat=line.vat,
            gross=line.gross,
        )
        for line in lines
    )


@retry_on_conflict
@transaction.atomic(durable=True)
def credit_note_issue(*, actor, invoice: Invoice, reason: str, line_ids=None) -> Invoice:
    """Correct an issued invoice for shipments wrongly charged (all uncredited lines, or
    `line_ids`), never editing it, with the document its market's CorrectionRule names:

    - credit note (most markets) or adjustment invoice (Vietnam's hóa đơn điều chỉnh giảm): a
      document referencing the invoice that reverses the lines' revenue and VAT and reduces the
      invoice's open amount;
    - replacement invoice (Vietnam's hóa đơn thay thế): a new invoice with the lines that stay,
      referencing the original, which becomes "replaced"; the removed lines' revenue and VAT are
      reversed. Only an invoice with nothing paid, credited or written off can be replaced.

    Each document is numbered in its own gapless series (CorrectionRule.NUMBER_SERIES). Raises
    DomainError when a line is not on the invoice or already credited, when nothing is left to
    correct, or when the correction is more than the invoice's open amount (reverse the payment
    applications first; the cash then stays with the seller as unapplied credit).
    """
    if not reason.strip():
        raise DomainError("Say why the invoice is corrected.", field="reason")
    invoice = locks.invoice_lock(invoice.pk)
    if invoice.kind != Invoice.Kind.INVOICE:
        raise DomainError(f"{invoice.number} is itself a correction; correct an invoice.", code="not_an_invoice")
    if invoice.status == Invoice.Status.REPLACED:
        raise DomainError(
            f"{invoice.number} was replaced by {invoice.replaced_by.number}; correct that invoice.",
            code="not_an_invoice",
        )
    document = CorrectionRule.document_for(invoice.market)
    lines = _lines_to_correct(invoice, line_ids)
    totals = lines.aggregate(
        n=Count("id"),
        net=Coalesce(Sum("net"), ZERO),
        vat=Coalesce(Sum("vat"), ZERO),
        gross=Coalesce(Sum("gross"), ZERO),
    )
    if not totals["n"]:
        raise DomainError(f"Nothing left to correct on {invoice.number}.", code="nothing_to_credit")
    market, currency = invoice.market, invoice.currency
    net, vat, gross = (quantize(totals[k], currency) for k in ("net", "vat", "gross"))
    if gross <= 0:
        raise DomainError("The selected lines add up to zero or less; select the charges to correct.", field="lines")
    if gross > invoice.amount_open:
        raise DomainError(
            f"The correction ({currency} {format_amount(gross, currency)}) is more than {invoice.number} still has open "
            f"({currency} {format_amount(invoice.amount_open, currency)}). Reverse its payment applications first.",
            code="credit_exceeds_open",
        )
    if document == CorrectionRule.Document.REPLACEMENT:
        return _replacement_issue(actor=actor, invoice=invoice, removed=lines, net=net, vat=vat, reason=reason)
    noun, source = CORRECTION_WORDS[document]
    today = market.local_date()
    number = document_number_next(market=market, kind=CorrectionRule.NUMBER_SERIES[document], on=today)
    entry = ledger_post(
        market=market,
        entry_date=today,
        lines=_correction_posting(
            market=market, seller_id=invoice.seller_id, net=net, vat=vat, gross=gross, number=number
        ),
        idempotency_key=f"receivables:{document}:{number}",
        source_type=source,
        source_id=number,
        description=f"{noun} {number} for {invoice.number}",
        actor=actor,
    )
    note = Invoice.objects.create(
        market=market,
        seller=invoice.seller,
        kind=Invoice.Kind.ADJUSTMENT if document == CorrectionRule.Document.ADJUSTMENT else Invoice.Kind.CREDIT_NOTE,
        number=number,
        issue_date=today,
        due_date=today,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        currency=currency,
        language=invoice.language,
        collection=invoice.collection,
        net_total=net,
        vat_total=vat,
        gross_total=gross,
        amount_open=Decimal(0),
        status=Invoice.Status.ISSUED,
        credited_invoice=invoice,
        reason=reason[:255],
        entry=entry,
        created_by=actor,
    )
    _lines_copy(document=note, lines=lines, link="credited_line")
    invoice.amount_open -= gross
    invoice_refresh_status(invoice)
    invoice.save(update_fields=["amount_open", "status"])
    deduction_sync(invoice)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action=f"{document}_issue",
        obj=note,
        detail={"invoice": invoice.number, "gross": str(gross), "reason": reason[:255]},
    )
    return note


def _replacement_issue(*, actor, invoice: Invoice, removed, net, vat, reason: str) -> Invoice:
    """A replacement invoice carrying the lines that stay (caller holds the invoice lock)."""
    if invoice.status != Invoice.Status.OPEN:
        raise DomainError(
            f"{invoice.number} has payments, credits or write-offs; a replacement invoice can only replace an "
            "invoice on which nothing is settled yet. Reverse the payment applications first.",
            code="not_replaceable",
        )
    market, currency = invoice.market, invoice.currency
    removed_ids = set(removed.values_list("pk", flat=True))
    kept = [line for line in invoice.lines.order_by("pk") if line.pk not in removed_ids]
    if not kept:
        raise DomainError(
            f"Every line of {invoice.number} is wrong; a replacement invoice must keep at least one line.",
            field="lines",
        )
    gross = net + vat
    today = market.local_date()
    number = document_number_next(market=market, kind=CorrectionRule.NUMBER_SERIES["replacement"], on=today)
    entry = ledger_post(
        market=market,
        entry_date=today,
        lines=_correction_posting(
            market=market, seller_id=invoice.seller_id, net=net, vat=vat, gross=gross, number=number
        ),
        idempotency_key=f"receivables:replacement:{number}",
        source_type=Source.REPLACEMENT,
        source_id=number,
        description=f"Replacement invoice {number} replaces {invoice.number}",
        actor=actor,
    )
    kept_net = quantize(sum((line.net for line in kept), Decimal(0)), currency)
    kept_vat = quantize(sum((line.vat for line in kept), Decimal(0)), currency)
    replacement = Invoice.objects.create(
        market=market,
        seller=invoice.seller,
        kind=Invoice.Kind.INVOICE,
        number=number,
        issue_date=today,
        # The seller's payment terms run from the original invoice.
        due_date=invoice.due_date,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        currency=currency,
        language=invoice.language,
        collection=invoice.collection,
        net_total=kept_net,
        vat_total=kept_vat,
        gross_total=kept_net + kept_vat,
        amount_open=kept_net + kept_vat,
        status=Invoice.Status.OPEN,
        replaces=invoice,
        reason=reason[:255],
        entry=entry,
        created_by=actor,
    )
    _lines_copy(document=replacement, lines=kept, link="replaced_line")
    invoice.amount_open, invoice.status = Decimal(0), Invoice.Status.REPLACED
    invoice.save(update_fields=["amount_open", "status"])
    deduction_sync(invoice)
    if replacement.collection == Invoice.Collection.PAYOUT:
        PayoutDeduction.objects.create(
            invoice=replacement, market=market, seller=invoice.seller, currency=currency, amount=replacement.gross_total
        )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="replacement_issue",
        obj=replacement,
        detail={"invoice": invoice.number, "removed_gross": str(gross), "reason": reason[:255]},
    )
    return replacement


# --- Payout deductions ------------------------------------------------------------------------------


@retry_on_conflict
@transaction.atomic(durable=True)
def payout_deduction_confirm(*, actor, deduction: PayoutDeduction, payout_reference: str) -> PayoutDeduction:
    """The payout system deducted the amount from the seller's payout: post it and settle the
    invoice. Confirming again with the same payout reference returns the deduction unchanged;
    another reference is a conflict. Raises DomainError for a cancelled deduction."""
    payout_reference = (payout_reference or "").strip()
    if not payout_reference:
        raise DomainError("The payout reference is required.", field="payout_reference")
    invoice = locks.invoice_lock(deduction.invoice_id)
    deduction = locks.deduction_lock(deduction.pk)
    if deduction.status == PayoutDeduction.Status.CONFIRMED:
        if deduction.payout_reference == payout_reference:
            return deduction
        raise ConflictError(f"Already confirmed with payout {deduction.payout_reference}.", code="already_confirmed")
    if deduction.status == PayoutDeduction.Status.CANCELLED:
        raise DomainError("This deduction was cancelled: the invoice was settled otherwise.", code="cancelled")
    if deduction.amount != invoice.amount_open:
        raise ConflictError("The invoice changed since this deduction was read; read it again.", code="stale_deduction")
    market = invoice.market
    entry = ledger_post(
        market=market,
        entry_date=market.local_date(),
        lines=[
            PostingLine(
                seller_account(market, AccountKind.SELLER_PAYOUT_CLEARING, invoice.seller_id),
                deduction.amount,
                invoice.number,
            ),
            PostingLine(
                seller_account(market, AccountKind.SELLER_RECEIVABLE, invoice.seller_id),
                -deduction.amount,
                invoice.number,
            ),
        ],
        idempotency_key=f"receivables:payout_deduction:{deduction.pk}",
        source_type=Source.PAYOUT_DEDUCTION,
        source_id=str(deduction.pk),
        description=f"Payout deduction {payout_reference} for {invoice.number}",
        actor=actor,
    )
    deduction.status, deduction.payout_reference, deduction.entry = (
        PayoutDeduction.Status.CONFIRMED,
        payout_reference[:100],
        entry,
    )
    deduction.confirmed_at, deduction.confirmed_by = timezone.now(), actor
    deduction.save()
    invoice.amount_open -= deduction.amount
    invoice_refresh_status(invoice)
    invoice.save(update_fields=["amount_open", "status"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="payout_deduction_confirm",
        obj=deduction,
        detail={"invoice": invoice.number, "amount": str(deduction.amount), "payout": payout_reference},
    )
    return deduction


# --- Write-offs -------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def write_off_propose(*, actor, invoice: Invoice, reason: str, amount=None) -> WriteOff:
    """Propose writing off (part of) an invoice's open balance; nothing is posted until approved."""
    if not reason.strip():
        raise DomainError("Say why the balance is uncollectable.", field="reason")
    invoice = locks.invoice_lock(invoice.pk)
    if not invoice.is_open:
        raise DomainError(f"{invoice.number} has nothing open to write off.", code="not_open")
    amount = invoice.amount_open if amount in (None, "") else to_decimal(amount)
    if amount != quantize(amount, invoice.currency) or amount <= 0:
        raise DomainError(amount_hint(invoice.currency), field="amount")
    if amount > invoice.amount_open:
        raise DomainError(
            f"{invoice.currency} {amount} is more than the open {invoice.currency} {invoice.amount_open}.",
            field="amount",
        )
    if invoice.write_offs.filter(status=WriteOff.Status.PROPOSED).exists():
        raise ConflictError(f"{invoice.number} already has a write-off waiting for approval.", code="already_proposed")
    write_off = WriteOff.objects.create(
        invoice=invoice, currency=invoice.currency, amount=amount, reason=reason[:255], proposed_by=actor
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="write_off_propose",
        obj=write_off,
        detail={"invoice": invoice.number, "amount": str(amount)},
    )
    return write_off


@retry_on_conflict
@transaction.atomic(durable=True)
def write_off_approve(*, actor, write_off: WriteOff, note: str = "") -> WriteOff:
    """Approve and post a proposed write-off. Four eyes and the approver's role limit for
    write-offs in the currency (PermissionDeniedError); the invoice must still have the amount open."""
    invoice = locks.invoice_lock(write_off.invoice_id)
    write_off = locks.write_off_lock(write_off.pk)
    if write_off.status != WriteOff.Status.PROPOSED:
        raise ConflictError(
            f"This write-off was already {write_off.get_status_display().lower()}.", code="already_decided"
        )
    approval_check(
        actor=actor,
        action="write_off",
        prepared_by=write_off.proposed_by,
        amount=write_off.amount,
        currency=write_off.currency,
    )
    if write_off.amount > invoice.amount_open:
        raise DomainError(
            f"{invoice.number} has only {invoice.currency} {invoice.amount_open} open now.", code="exceeds_open"
        )
    market = invoice.market
    entry = ledger_post(
        market=market,
        entry_date=market.local_date(),
        lines=[
            PostingLine(market_account(market, AccountKind.BAD_DEBT_EXPENSE), write_off.amount, invoice.number),
            PostingLine(
                seller_account(market, AccountKind.SELLER_RECEIVABLE, invoice.seller_id),
                -write_off.amount,
                invoice.number,
            ),
        ],
        idempotency_key=f"receivables:write_off:{write_off.pk}",
        source_type=Source.WRITE_OFF,
        source_id=str(write_off.pk),
        description=f"Write-off of {invoice.number}: {write_off.reason}",
        actor=actor,
    )
    write_off.status, write_off.decided_by, write_off.decided_at = WriteOff.Status.APPROVED, actor, timezone.now()
    write_off.decision_note, write_off.entry = note[:255], entry
    write_off.save()
    invoice.amount_open -= write_off.amount
    invoice_refresh_status(invoice)
    invoice.save(update_fields=["amount_open", "status"])
    deduction_sync(invoice)
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="write_off_approve",
        obj=write_off,
        detail={
            "invoice": invoice.number,
            "amount": str(write_off.amount),
            "proposed_by": write_off.proposed_by.username,
        },
    )
    return write_off


@transaction.atomic(durable=True)
def write_off_reject(*, actor, write_off: WriteOff, note: str = "") -> WriteOff:
    """Reject a proposed write-off (by someone other than the proposer)."""
    write_off = locks.write_off_lock(write_off.pk)
    if write_off.status != WriteOff.Status.PROPOSED:
        raise ConflictError(
            f"This write-off was already {write_off.get_status_display().lower()}.", code="already_decided"
        )
    approval_check(actor=actor, action="write_off", prepared_by=write_off.proposed_by)
    write_off.status, write_off.decided_by, write_off.decided_at = WriteOff.Status.REJECTED, actor, timezone.now()
    write_off.decision_note = note[:255]
    write_off.save()
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="write_off_reject",
        obj=write_off,
        detail={"note": note[:255]},
    )
    return write_off


# --- Sub-ledger proof (nightly) -------------------------------------------------------------------------


def balance_problems() -> list[str]:
    """Per market and seller: receivable == open invoices + rated fees not yet invoiced, and
    unapplied cash == unapplied receipts. Only billing's and receivables' entries count (other
    apps may post chargebacks to a seller's receivable)."""
    own = [v for k, v in vars(Source).items() if k.isupper() and isinstance(v, str)]
    ledger = {
        (r["market_id"], r["account__kind"], r["party_id"]): r["total"]
        for r in Posting.objects.filter(
            party_type=PartyType.SELLER, account__kind__in=STATEMENT_KINDS, entry__source_type__in=own
        )
        .values("market_id", "account__kind", "party_id")
        .annotate(total=Sum("amount"))
    }
    books: dict = {}
    for r in (
        Invoice.objects.filter(kind=Invoice.Kind.INVOICE)
        .values("market_id", "seller_id")
        .annotate(total=Sum("amount_open"))
    ):
        books[(r["market_id"], AccountKind.SELLER_RECEIVABLE, r["seller_id"])] = r["total"]
    uninvoiced = (
        ChargeLine.objects.filter(run__status=BillingRun.Status.COMPLETED, invoice_line__isnull=True)
        .values("market_id", "seller_id")
        .annotate(total=Sum("seller_gross"))
    )
    for r in uninvoiced:
        key = (r["market_id"], AccountKind.SELLER_RECEIVABLE, r["seller_id"])
        books[key] = books.get(key, Decimal(0)) + r["total"]
    for r in (
        Receipt.objects.filter(seller__isnull=False)
        .values("market_id", "seller_id")
        .annotate(total=Sum("amount_unapplied"))
    ):
        books[(r["market_id"], AccountKind.SELLER_UNAPPLIED_CASH, r["seller_id"])] = -r["total"]
    problems = []
    for key in sorted(set(ledger) | set(books), key=str):
        # Exact NUMERIC sums on both sides: Decimal equality ignores trailing zeros.
        if (ledger.get(key) or ZERO) != (books.get(key) or ZERO):
            problems.append(
                f"{key[0]} seller {key[2]} {key[1]}: ledger {ledger.get(key) or 0} != receivables {books.get(key) or 0}"
            )
    return problems
