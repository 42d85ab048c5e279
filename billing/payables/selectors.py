"""Reads shared by pages, API and exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import islice

from django.db import connection
from django.db.models import Count, Q

from billing.models import ChargeLine, Shipment
from settlement_ops.models import AccountKind
from settlement_ops.selectors import balance
from vendors.models import ContractVersion, RateLine

from .models import (
    BankFile,
    InvoiceColumnMapping,
    InvoiceImport,
    Payable,
    Payment,
    PaymentRun,
    PaymentRunItem,
    VendorDeduction,
    VendorInvoice,
    VendorInvoiceLine,
)


def invoices_list():
    return VendorInvoice.objects.select_related("vendor", "market", "credited_invoice").order_by("-created_at", "-id")


def invoice_lines(invoice: VendorInvoice, *, flagged_only: bool = False):
    qs = invoice.lines.select_related("decided_by").order_by("line_no")
    if flagged_only:
        any_flag = Q()
        for name in VendorInvoiceLine.FLAGS:
            any_flag |= Q(**{name: True})
        qs = qs.filter(any_flag)
    return qs


def imports_list():
    return InvoiceImport.objects.select_related("vendor", "uploaded_by", "invoice").defer("content")


def payables_list():
    return Payable.objects.select_related(
        "vendor", "market", "invoice", "deduction", "payment_run", "held_by"
    ).order_by("due_date", "id")


def runs_list():
    return PaymentRun.objects.select_related("market", "prepared_by", "approved_by")


def mappings_list():
    return InvoiceColumnMapping.objects.select_related("vendor", "updated_by").order_by("vendor__code")


def payments_list():
    """Payments with what their lineage and remittance read about them."""
    return Payment.objects.select_related("vendor", "run__prepared_by", "run__approved_by", "confirmed_by").order_by(
        "-id"
    )


# What a bank file is served as: SEPA files are XML, the others CSV.
BANK_FILE_CONTENT_TYPES = {BankFile.Format.SEPA: "application/xml", BankFile.Format.CSV: "text/csv"}


def run_bank_file(run: PaymentRun) -> tuple[BankFile, str] | None:
    """The bank file of a run with its content type, or None before it is exported."""
    bank_file = run.bank_files.first()
    if bank_file is None:
        return None
    return bank_file, BANK_FILE_CONTENT_TYPES.get(bank_file.format, "application/octet-stream")


def disputed_lines(*, vendor, invoice: VendorInvoice | None = None):
    qs = VendorInvoiceLine.objects.filter(
        invoice__vendor=vendor,
        decision__in=[VendorInvoiceLine.Decision.DISPUTED, VendorInvoiceLine.Decision.SHORT_PAID],
    )
    if invoice is not None:
        qs = qs.filter(invoice=invoice)
    return qs.select_related("invoice", "decided_by").order_by("invoice__invoice_date", "invoice_id", "line_no")


@dataclass
class StatementRow:
    on: date
    kind: str
    reference: str
    description: str
    amount: Decimal  # + increases what the platform owes, - reduces it
    balance: Decimal = Decimal(0)


def vendor_statement(vendor, *, currency: str | None = None) -> dict:
    """Invoices, credit notes, deductions and payments of a vendor with a running balance (what
    the platform owes, positive), and the vendor payable balance of the ledger beside it."""
    currency = currency or vendor.market.currency
    rows: list[StatementRow] = []
    for inv in VendorInvoice.objects.filter(
        vendor=vendor, currency=currency, status=VendorInvoice.Status.APPROVED, entry__isnull=False
    ):
        if inv.is_credit_note:
            rows.append(
                StatementRow(
                    inv.approved_at.date(),
                    "Credit note",
                    inv.number,
                    f"Credits {inv.credited_invoice.number}",
                    -inv.gross_total,
                )
            )
        else:
            rows.append(
                StatementRow(
                    inv.approved_at.date(),
                    "Invoice",
                    inv.number,
                    f"Billed {inv.gross_total}, approved {inv.approved_total}",
                    inv.approved_total,
                )
            )
    for d in VendorDeduction.objects.filter(vendor=vendor, currency=currency):
        rows.append(StatementRow(d.created_at.date(), "Deduction", f"D{d.pk}", d.reason, -d.amount))
    for p in Payment.objects.filter(vendor=vendor, currency=currency, entry__isnull=False).select_related("run"):
        rows.append(
            StatementRow(
                p.confirmed_at.date() if p.confirmed_at else p.run.pay_date,
                "Payment",
                p.end_to_end_id,
                f"Run {p.run.number}",
                -p.amount,
            )
        )
        if p.reversal_entry_id:
            rows.append(
                StatementRow(p.confirmed_at.date(), "Payment returned", p.end_to_end_id, p.rejection_reason, p.amount)
            )
    order = {"Invoice": 0, "Credit note": 1, "Deduction": 2, "Payment": 3, "Payment returned": 4}
    rows.sort(key=lambda r: (r.on, order[r.kind], r.reference))
    running = Decimal(0)
    for row in rows:
        running += row.amount
        row.balance = running
    ledger = -balance(kind=AccountKind.VENDOR_PAYABLE, party_type="vendor", party_id=vendor.pk).get(
        currency, Decimal(0)
    )
    open_payables = Payable.objects.filter(vendor=vendor, currency=currency).exclude(status=Payable.Status.PAID)
    return {
        "currency": currency,
        "rows": rows,
        "balance": running,
        "ledger_balance": ledger,
        "ties": running == ledger,
        "open_payables": open_payables,
    }


def payment_lineage(payment: Payment):
    """Every amount of a payment traced back: payable -> invoice line -> shipment -> contract
    version and rate line -> decisions -> run -> bank file. Yields flat rows (dicts)."""
    run = payment.run
    bank_file = run.bank_files.first()
    base = {
        "payment": payment.end_to_end_id,
        "payment_status": payment.get_status_display(),
        "payment_amount": payment.amount,
        "currency": payment.currency,
        "vendor": payment.vendor.code,
        "run": run.number,
        "pay_date": run.pay_date,
        "prepared_by": run.prepared_by.username,
        "prepared_at": run.prepared_at,
        "run_approved_by": getattr(run.approved_by, "username", ""),
        "run_approved_at": run.approved_at,
        "bank_file": bank_file.filename if bank_file else "",
        "bank_file_sha256": bank_file.sha256 if bank_file else "",
        "confirmed_by": getattr(payment.confirmed_by, "username", ""),
        "confirmed_at": payment.confirmed_at,
    }
    items = (
        PaymentRunItem.objects.filter(payment=payment)
        .select_related("payable__invoice__approved_by", "payable__deduction")
        .order_by("payable_id")
    )
    for item in items:
        payable = item.payable
        head = {
            **base,
            "payable": payable.pk,
            "payable_kind": payable.get_kind_display(),
            "payable_amount": payable.amount,
            "due_date": payable.due_date,
        }
        if payable.deduction_id:
            d = payable.deduction
            yield {
                **head,
                "document": f"Deduction {d.pk}",
                "line": None,
                "tracking_number": "",
                "decision": d.reason,
                "decided_by": getattr(d.created_by, "username", ""),
                "decided_at": d.created_at,
            }
            continue
        invoice = payable.invoice
        head.update(
            document=invoice.number,
            invoice_date=invoice.invoice_date,
            invoice_approved_by=getattr(invoice.approved_by, "username", "") or "automatic",
            invoice_approved_at=invoice.approved_at,
        )
        lines = invoice.lines.select_related(
            "shipment", "charge_line", "contract_version__contract", "rate_line", "decided_by"
        ).order_by("line_no")
        for line in lines.iterator(chunk_size=5000):
            cv, rl = line.contract_version, line.rate_line
            yield {
                **head,
                "line": line.line_no,
                "tracking_number": line.tracking_number,
                "billed_gross": line.billed_gross,
                "expected_gross": line.expected_gross,
                "approved_gross": line.approved_gross,
                "decision": line.get_decision_display(),
                "flags": ", ".join(line.flag_codes),
                "reason": line.reason,
                "decided_by": getattr(line.decided_by, "username", "")
                or ("automatic" if line.decision == "auto_approved" else ""),
                "decided_at": line.decided_at,
                "shipment": line.shipment_id,
                "ship_date": line.shipment.ship_date if line.shipment else None,
                "charge_line": line.charge_line_id,
                "contract": cv.contract.reference if cv else "",
                "contract_version": cv.number if cv else None,
                "rate_line": str(rl) if rl else "",
                "rate_line_id": line.rate_line_id,
            }


class LineageRows:
    """A payment's lineage as a sequence a paginator can count and slice: counted in SQL, a page
    read by running `payment_lineage` up to it, so memory holds one page, not every line."""

    def __init__(self, payment: Payment):
        self.payment = payment

    def count(self) -> int:
        items = (
            PaymentRunItem.objects.filter(payment=self.payment)
            .annotate(lines=Count("payable__invoice__lines"))
            .values_list("payable__deduction_id", "lines")
        )
        return sum(1 if deduction else lines for deduction, lines in items)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[dict]:
        return list(islice(payment_lineage(self.payment), window.start, window.stop))


def invoice_lines_integrity() -> list[str]:
    """Nightly proof for the references the freight audit writes without database constraints
    (see `VendorInvoiceLine`): each matched shipment, charge line, contract version and rate line
    exists, the shipment is the invoice vendor's, and the charge line is that shipment's."""
    sql = f"""
        SELECT COUNT(*) FROM {VendorInvoiceLine._meta.db_table} l
        JOIN {VendorInvoice._meta.db_table} i ON i.id = l.invoice_id
        LEFT JOIN {Shipment._meta.db_table} s ON s.id = l.shipment_id
        LEFT JOIN {ChargeLine._meta.db_table} c ON c.id = l.charge_line_id
        LEFT JOIN {ContractVersion._meta.db_table} v ON v.id = l.contract_version_id
        LEFT JOIN {RateLine._meta.db_table} r ON r.id = l.rate_line_id
        WHERE (l.shipment_id IS NOT NULL AND (s.id IS NULL OR s.vendor_id <> i.vendor_id))
           OR (l.charge_line_id IS NOT NULL AND (c.id IS NULL OR c.shipment_id <> l.shipment_id))
           OR (l.contract_version_id IS NOT NULL AND v.id IS NULL)
           OR (l.rate_line_id IS NOT NULL AND r.id IS NULL)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        broken = cursor.fetchone()[0]
    return (
        [
            f"{broken} vendor invoice line(s) point at a missing or another vendor's shipment, charge line, "
            "contract version or rate line"
        ]
        if broken
        else []
    )
