"""Receipts and cash application: bank-statement import, hand/API entry, automatic matching,
the unmatched queue, manual application and reversals. Postings: see `services.py`.

Automatic matching, first rule that finds something wins:
  1. invoice number in the reference (e.g. "GB-INV-2026-000042"): that open invoice of the market
     and currency, up to its open amount; several numbers are served in the order written;
  2. the seller (given, from a referenced invoice, or its code in the reference) and an open
     invoice whose open amount equals the receipt exactly (the oldest such invoice);
  3. the seller: its open invoices oldest-first (due date, then number) until the money is used up.
What is left stays with the seller as unapplied credit (over-payment) and is used on the
seller's next invoice; a receipt whose seller is unknown waits in the unmatched queue.
Rules 2 and 3 only consider invoices collected by bank (payout-collected invoices are settled by
the payout system), rule 1 takes any invoice the payer names.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Upper
from django.utils import timezone

from sellers.models import Seller
from settlement_ops import uploads
from settlement_ops.db import retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AccountKind, AuditEvent, Market
from settlement_ops.money import MINOR_UNITS, quantize, to_decimal
from settlement_ops.services import PostingLine, audit_record, ledger_post, ledger_reverse

from . import locks
from .models import Invoice, Receipt, ReceiptApplication
from .services import (
    Source,
    application_post,
    deduction_sync,
    invoice_refresh_status,
    market_account,
    receipt_refresh_status,
    seller_account,
)

INVOICE_NUMBER_RE = re.compile(r"\b([A-Z]{2,10}-INV-\d{4}-\d{6})\b")
CSV_HEADER = ["value_date", "amount", "currency", "reference", "payer_name", "bank_reference"]
CSV_OPTIONAL = ["seller_code"]
# A bank statement: at most 50,000 lines of 5 MB; one more is refused before its rows are checked.
STATEMENT_LIMITS = uploads.UploadLimits(max_rows=50_001, max_columns=16, max_bytes=5 * 1024 * 1024, seconds=60)


# --- Recording -----------------------------------------------------------------------------------


def _payer(*, market: Market, seller: Seller | None, reference: str) -> Seller | None:
    """Who paid: the given seller, else the one seller of the invoices named in the reference,
    else the one seller whose code is in the reference; None when unknown or ambiguous."""
    if seller is not None or not reference:
        return seller
    numbers = INVOICE_NUMBER_RE.findall(reference.upper())
    sellers = set(Invoice.objects.filter(market=market, number__in=numbers).values_list("seller_id", flat=True))
    if len(sellers) == 1:
        return Seller.objects.get(pk=sellers.pop())
    hits = list(
        Seller.objects.filter(market=market)
        .annotate(ref=Upper(Value(reference)))
        .filter(ref__contains=Upper(F("code")))[:2]
    )
    return hits[0] if len(hits) == 1 else None


def _receipt_create(
    *,
    actor,
    market: Market,
    amount: Decimal,
    currency: str,
    value_date: date,
    bank_reference: str,
    reference: str,
    payer_name: str,
    seller: Seller | None,
    source: str,
    batch: str = "",
) -> Receipt:
    seller = _payer(market=market, seller=seller, reference=reference)
    unapplied = (
        seller_account(market, AccountKind.SELLER_UNAPPLIED_CASH, seller.pk)
        if seller
        else market_account(market, AccountKind.SELLER_UNAPPLIED_CASH)
    )
    entry = ledger_post(
        market=market,
        entry_date=value_date,
        lines=[
            PostingLine(market_account(market, AccountKind.BANK), amount, bank_reference),
            PostingLine(unapplied, -amount, bank_reference),
        ],
        idempotency_key=f"receivables:receipt:{market.pk}:{bank_reference}",
        source_type=Source.RECEIPT,
        source_id=bank_reference,
        description=f"Receipt {bank_reference} {payer_name}".strip(),
        actor=actor,
    )
    return Receipt.objects.create(
        market=market,
        seller=seller,
        currency=currency,
        amount=amount,
        amount_unapplied=amount,
        value_date=value_date,
        bank_reference=bank_reference,
        reference=reference,
        payer_name=payer_name,
        source=source,
        import_batch=batch,
        entry=entry,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def _validate_amount(amount, currency: str, *, field: str = "amount") -> Decimal:
    try:
        amount = to_decimal(amount)
    except (TypeError, ValueError):
        raise DomainError(f"{amount!r} is not an amount.", field=field) from None
    if amount <= 0:
        raise DomainError("The amount must be greater than zero.", field=field)
    if amount != quantize(amount, currency):
        raise DomainError(f"{currency} has {MINOR_UNITS[currency]} decimals; {amount} has more.", field=field)
    return amount


@retry_on_conflict
@transaction.atomic(durable=True)
def receipt_record(
    *,
    actor,
    market: Market,
    amount,
    currency: str,
    value_date: date,
    bank_reference: str,
    reference: str = "",
    payer_name: str = "",
    seller: Seller | None = None,
    source: str = Receipt.Source.MANUAL,
) -> Receipt:
    """Record one receipt (by hand or API), post it and match it automatically.

    Raises DomainError for a currency other than the market's, a non-positive or unrounded
    amount, a seller of another market, or a bank reference already recorded in the market.
    """
    if currency != market.currency:
        raise DomainError(f"Receipts in {market.code} are in {market.currency}, not {currency}.", field="currency")
    amount = _validate_amount(amount, currency)
    bank_reference = (bank_reference or "").strip()
    if not bank_reference:
        raise DomainError("The bank reference is required.", field="bank_reference")
    if seller is not None and seller.market_id != market.pk:
        raise DomainError(f"Seller {seller.code} is not in market {market.code}.", field="seller")
    if Receipt.objects.filter(market=market, bank_reference=bank_reference).exists():
        raise ConflictError(
            f"Bank reference {bank_reference} is already recorded in {market.code}.",
            code="duplicate_receipt",
            field="bank_reference",
        )
    if seller is not None:
        locks.sellers_lock([seller.pk])
    receipt = _receipt_create(
        actor=actor,
        market=market,
        amount=amount,
        currency=currency,
        value_date=value_date,
        bank_reference=bank_reference,
        reference=reference.strip(),
        payer_name=payer_name.strip(),
        seller=seller,
        source=source,
    )
    receipt_match(actor=actor, receipt=receipt)
    receipt.refresh_from_db()
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="receipt_record",
        obj=receipt,
        detail={"amount": str(amount), "status": receipt.status},
    )
    return receipt


def _parse_rows(market: Market, content: bytes) -> tuple[list[dict], uploads.RowErrors]:
    header, records = uploads.csv_records(content, limits=STATEMENT_LIMITS)
    if header[: len(CSV_HEADER)] != CSV_HEADER or any(h not in CSV_OPTIONAL for h in header[len(CSV_HEADER) :]):
        raise DomainError(
            "The file must have the header: " + ",".join(CSV_HEADER) + "[,seller_code]",
            code="bad_header",
            field="header",
        )
    sellers = {s.code.upper(): s for s in Seller.objects.filter(market=market)}
    errors, rows, seen = uploads.RowErrors(), [], set()
    for number, raw in records:
        row = {name: raw.get(name, "") for name in CSV_HEADER + CSV_OPTIONAL}
        problems = []
        try:
            value_date = date.fromisoformat(row["value_date"])
        except ValueError:
            problems.append(("value_date", f"{row['value_date'][:40]!r} is not a YYYY-MM-DD date"))
        if row["currency"] != market.currency:
            problems.append(("currency", f"{row['currency'][:10]!r} is not {market.code}'s currency {market.currency}"))
        try:
            amount = _validate_amount(row["amount"], market.currency)
        except DomainError as exc:
            problems.append(("amount", exc.message))
        if not row["bank_reference"]:
            problems.append(("bank_reference", "is required"))
        elif row["bank_reference"] in seen:
            problems.append(("bank_reference", f"{row['bank_reference'][:100]} appears twice in the file"))
        seen.add(row["bank_reference"])
        seller = None
        if row.get("seller_code"):
            seller = sellers.get(row["seller_code"].upper())
            if seller is None:
                problems.append(("seller_code", f"no seller {row['seller_code'][:30]!r} in {market.code}"))
        for field, message in problems:
            errors.add(number, field, message)
        if not problems:
            rows.append(
                dict(
                    value_date=value_date,
                    amount=amount,
                    reference=row["reference"][:255],
                    payer_name=row["payer_name"][:200],
                    bank_reference=row["bank_reference"][:100],
                    seller=seller,
                    row=number,
                )
            )
    return rows, errors


@retry_on_conflict
@transaction.atomic(durable=True)
def receipts_import(*, actor, market: Market, content: bytes, filename: str = "") -> dict:
    """Import a bank statement CSV (value_date,amount,currency,reference,payer_name,bank_reference
    [,seller_code]) for a market and match every new receipt. All or nothing: any bad row raises
    DomainError listing every row and field. Lines already imported (same bank reference, amount
    and date) are skipped, so importing an overlapping statement again adds only the new lines;
    the same reference with another amount or date is an error.

    Returns {"created", "skipped", "matched", "unmatched", "batch"}.
    """
    uploads.file_kind(content=content, filename=filename, limits=STATEMENT_LIMITS, allowed=(uploads.CSV,))
    rows, errors = _parse_rows(market, content)
    existing = {
        r.bank_reference: r
        for r in Receipt.objects.filter(market=market, bank_reference__in=[row["bank_reference"] for row in rows])
    }
    new_rows = []
    for row in rows:
        known = existing.get(row["bank_reference"])
        if known is None:
            new_rows.append(row)
        elif (known.amount, known.value_date) != (row["amount"], row["value_date"]):
            errors.add(
                row["row"],
                "bank_reference",
                f"{row['bank_reference']} was imported before with {known.currency} {known.amount} on {known.value_date}",
            )
    if errors:
        errors.shown.sort(key=lambda e: e["row"])
        raise errors.refuse()
    if not rows:
        raise DomainError("The file has no receipts.", code="empty_file", field="file")
    batch = hashlib.sha256(content).hexdigest()[:16]
    seller_ids = sorted({row["seller"].pk for row in new_rows if row["seller"]})
    locks.sellers_lock(seller_ids)
    created = []
    for row in new_rows:
        created.append(
            _receipt_create(
                actor=actor,
                market=market,
                amount=row["amount"],
                currency=market.currency,
                value_date=row["value_date"],
                bank_reference=row["bank_reference"],
                reference=row["reference"],
                payer_name=row["payer_name"],
                seller=row["seller"],
                source=Receipt.Source.IMPORT,
                batch=batch,
            )
        )
    for receipt in created:
        receipt_match(actor=actor, receipt=receipt)
        receipt.refresh_from_db()
    result = {
        "created": len(created),
        "skipped": len(rows) - len(new_rows),
        "batch": batch,
        "matched": sum(1 for r in created if r.status != Receipt.Status.UNMATCHED),
        "unmatched": sum(1 for r in created if r.status == Receipt.Status.UNMATCHED),
    }
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="receipts_import",
        detail={"file": filename[:100], "market": market.code, **result},
    )
    return result


# --- Matching --------------------------------------------------------------------------------------


def _identify(*, actor, receipt: Receipt, seller: Seller) -> None:
    """Move an unidentified receipt's cash to the seller's unapplied cash (receipt locked)."""
    if receipt.seller_id is not None:
        if receipt.seller_id != seller.pk:
            raise DomainError(
                f"The receipt belongs to seller {receipt.seller.code}.", code="wrong_seller", field="seller"
            )
        return
    if seller.market_id != receipt.market_id:
        raise DomainError(f"Seller {seller.code} is not in market {receipt.market_id}.", field="seller")
    market = receipt.market
    amount = receipt.amount_unapplied
    receipt.identify_entry = ledger_post(
        market=market,
        entry_date=market.local_date(),
        lines=[
            PostingLine(market_account(market, AccountKind.SELLER_UNAPPLIED_CASH), amount, receipt.bank_reference),
            PostingLine(
                seller_account(market, AccountKind.SELLER_UNAPPLIED_CASH, seller.pk), -amount, receipt.bank_reference
            ),
        ],
        idempotency_key=f"receivables:receipt_identify:{receipt.pk}",
        source_type=Source.RECEIPT_IDENTIFY,
        source_id=receipt.bank_reference,
        description=f"Receipt {receipt.bank_reference} identified as {seller.code}",
        actor=actor,
    )
    receipt.seller = seller
    receipt.save(update_fields=["seller", "identify_entry"])


def _open_invoices(receipt: Receipt, seller_id: int):
    return Invoice.objects.filter(
        market_id=receipt.market_id,
        seller_id=seller_id,
        currency=receipt.currency,
        kind=Invoice.Kind.INVOICE,
        status__in=Invoice.OPEN_STATUSES,
        collection=Invoice.Collection.BANK,
    ).order_by("due_date", "number")


def receipt_match(*, actor, receipt: Receipt) -> list[ReceiptApplication]:
    """Apply a receipt by the rules in the module docstring (runs in the caller's transaction)."""
    receipt = locks.receipt_lock(receipt.pk)
    if receipt.amount_unapplied == 0 or receipt.status == Receipt.Status.REVERSED:
        return []
    applied: list[ReceiptApplication] = []
    # Rule 1: invoice numbers in the reference.
    numbers = list(dict.fromkeys(INVOICE_NUMBER_RE.findall((receipt.reference or "").upper())))
    named = {
        i.number: i
        for i in Invoice.objects.filter(
            market_id=receipt.market_id, currency=receipt.currency, number__in=numbers, kind=Invoice.Kind.INVOICE
        ).select_related("seller")
    }
    named_sellers = {i.seller_id for i in named.values()}
    if named and len(named_sellers) == 1 and receipt.seller_id in (None, *named_sellers):
        seller = next(iter(named.values())).seller
        _identify(actor=actor, receipt=receipt, seller=seller)
        open_named = [i for i in locks.invoices_lock([i.pk for i in named.values()]) if i.is_open]
        for invoice in sorted(open_named, key=lambda i: numbers.index(i.number)):
            if receipt.amount_unapplied == 0:
                break
            amount = min(receipt.amount_unapplied, invoice.amount_open)
            applied.append(
                application_post(
                    actor=actor,
                    receipt=receipt,
                    invoice=invoice,
                    amount=amount,
                    rule=ReceiptApplication.Rule.INVOICE_NUMBER,
                )
            )
        if applied:
            return applied
    seller = receipt.seller or _payer(market=receipt.market, seller=None, reference=receipt.reference)
    if seller is None:
        return applied
    _identify(actor=actor, receipt=receipt, seller=seller)
    candidates = _open_invoices(receipt, seller.pk)
    # Rule 2: exactly the amount of one open invoice (the oldest such).
    exact = candidates.filter(amount_open=receipt.amount_unapplied).first()
    if exact is not None:
        invoice = locks.invoice_lock(exact.pk)
        if invoice.is_open and invoice.amount_open == receipt.amount_unapplied:
            return [
                application_post(
                    actor=actor,
                    receipt=receipt,
                    invoice=invoice,
                    amount=invoice.amount_open,
                    rule=ReceiptApplication.Rule.EXACT_AMOUNT,
                )
            ]
    # Rule 3: oldest first.
    for invoice in sorted(
        locks.invoices_lock(candidates.values_list("pk", flat=True)), key=lambda i: (i.due_date, i.number)
    ):
        if receipt.amount_unapplied == 0:
            break
        if not invoice.is_open:
            continue
        amount = min(receipt.amount_unapplied, invoice.amount_open)
        applied.append(
            application_post(
                actor=actor, receipt=receipt, invoice=invoice, amount=amount, rule=ReceiptApplication.Rule.OLDEST_FIRST
            )
        )
    return applied


# --- People working the queue ----------------------------------------------------------------------


@retry_on_conflict
@transaction.atomic(durable=True)
def receipt_apply(*, actor, receipt: Receipt, invoice: Invoice, amount=None) -> ReceiptApplication:
    """Apply (part of) a receipt to an invoice by hand. An unidentified receipt takes the
    invoice's seller. `amount` defaults to the smaller of the unapplied and the open amount.
    Raises DomainError when the receipt or invoice cannot take the amount (e.g. a second clerk
    applied the same money a moment earlier)."""
    receipt = locks.receipt_lock(receipt.pk)
    if receipt.status == Receipt.Status.REVERSED:
        raise DomainError("The receipt was reversed.", code="reversed")
    invoice = locks.invoice_lock(invoice.pk)
    if invoice.market_id != receipt.market_id:
        raise DomainError(f"{invoice.number} is not an invoice of market {receipt.market_id}.", field="invoice")
    _identify(actor=actor, receipt=receipt, seller=invoice.seller)
    if amount in (None, ""):
        amount = min(receipt.amount_unapplied, invoice.amount_open)
        if amount <= 0:
            raise DomainError("Nothing left to apply.", code="nothing_to_apply")
    amount = _validate_amount(amount, receipt.currency)
    application = application_post(
        actor=actor, receipt=receipt, invoice=invoice, amount=amount, rule=ReceiptApplication.Rule.MANUAL
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="receipt_apply",
        obj=application,
        detail={"receipt": receipt.bank_reference, "invoice": invoice.number, "amount": str(amount)},
    )
    return application


@retry_on_conflict
@transaction.atomic(durable=True)
def receipt_identify(*, actor, receipt: Receipt, seller: Seller, auto_match: bool = True) -> Receipt:
    """Name the seller of an unmatched receipt; then match it by rules 2 and 3 (unless told not to)."""
    receipt = locks.receipt_lock(receipt.pk)
    if receipt.status == Receipt.Status.REVERSED:
        raise DomainError("The receipt was reversed.", code="reversed")
    _identify(actor=actor, receipt=receipt, seller=seller)
    if auto_match:
        receipt_match(actor=actor, receipt=receipt)
        receipt.refresh_from_db()
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="receipt_identify", obj=receipt, detail={"seller": seller.code}
    )
    return receipt


def _application_reverse(*, actor, application: ReceiptApplication, reason: str, receipt: Receipt) -> None:
    invoice = locks.invoice_lock(application.invoice_id)
    application = ReceiptApplication.objects.select_for_update().get(pk=application.pk)
    if application.is_reversed:
        raise ConflictError("This application was already reversed.", code="already_reversed")
    application.reversal_entry = ledger_reverse(
        entry=application.entry, reason=reason, actor=actor, entry_date=invoice.market.local_date()
    )
    application.reversed_at, application.reversed_by, application.reversal_reason = timezone.now(), actor, reason[:255]
    application.save(update_fields=["reversal_entry", "reversed_at", "reversed_by", "reversal_reason"])
    receipt.amount_unapplied += application.amount
    receipt_refresh_status(receipt)
    receipt.save(update_fields=["amount_unapplied", "status"])
    invoice.amount_open += application.amount
    invoice_refresh_status(invoice)
    invoice.save(update_fields=["amount_open", "status"])
    deduction_sync(invoice)


@retry_on_conflict
@transaction.atomic(durable=True)
def application_reverse(*, actor, application: ReceiptApplication, reason: str) -> ReceiptApplication:
    """Undo a wrong application: post the mirror entry, reopen the invoice, give the money back to
    the receipt's unapplied amount (to be applied again). Reversing twice is a ConflictError."""
    if not reason.strip():
        raise DomainError("Say why the application is reversed.", field="reason")
    receipt = locks.receipt_lock(application.receipt_id)
    _application_reverse(actor=actor, application=application, reason=reason, receipt=receipt)
    application.refresh_from_db()
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="application_reverse",
        obj=application,
        detail={
            "receipt": receipt.bank_reference,
            "invoice": application.invoice.number,
            "amount": str(application.amount),
            "reason": reason[:255],
        },
    )
    return application


@retry_on_conflict
@transaction.atomic(durable=True)
def receipt_reverse(*, actor, receipt: Receipt, reason: str) -> Receipt:
    """Reverse a receipt that should never have been recorded (e.g. the bank recalled it): its
    applications, its identification and the receipt entry itself, each by a mirror entry."""
    if not reason.strip():
        raise DomainError("Say why the receipt is reversed.", field="reason")
    receipt = locks.receipt_lock(receipt.pk)
    if receipt.status == Receipt.Status.REVERSED:
        raise ConflictError("The receipt was already reversed.", code="already_reversed")
    for application in receipt.applications.filter(reversed_at__isnull=True).order_by("invoice_id"):
        _application_reverse(actor=actor, application=application, reason=reason, receipt=receipt)
    on = receipt.market.local_date()
    if receipt.identify_entry_id:
        ledger_reverse(entry=receipt.identify_entry, reason=reason, actor=actor, entry_date=on)
    ledger_reverse(entry=receipt.entry, reason=reason, actor=actor, entry_date=on)
    receipt.status, receipt.amount_unapplied = Receipt.Status.REVERSED, Decimal(0)
    receipt.save(update_fields=["status", "amount_unapplied"])
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="receipt_reverse", obj=receipt, detail={"reason": reason[:255]}
    )
    return receipt
