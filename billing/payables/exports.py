"""Excel (and PDF) documents of payables: numbers stay numbers, dates stay dates."""

from __future__ import annotations

from settlement_ops.exports import Column, Sheet, workbook_response
from settlement_ops.money import Money, format_amount, minor_units

from . import selectors
from .models import VendorInvoiceLine


def _m(amount, currency):
    return None if amount is None else Money(amount, currency)


def invoices_workbook(invoices, filename="vendor_invoices.xlsx"):
    cols = [
        Column("Id", "int", 8),
        Column("Vendor", width=14),
        Column("Market", width=7),
        Column("Kind", width=12),
        Column("Number", width=20),
        Column("Date", "date", 12),
        Column("Currency", width=9),
        Column("Billed net", "money"),
        Column("Billed VAT", "money"),
        Column("Billed gross", "money"),
        Column("Expected", "money"),
        Column("Approved", "money"),
        Column("Disputed", "money"),
        Column("Savings", "money"),
        Column("Lines", "int", 8),
        Column("Pending", "int", 8),
        Column("Status", width=18),
    ]
    rows = (
        (
            i.pk,
            i.vendor.code,
            i.market_id,
            i.get_kind_display(),
            i.number,
            i.invoice_date,
            i.currency,
            _m(i.net_total, i.currency),
            _m(i.vat_total, i.currency),
            _m(i.gross_total, i.currency),
            _m(i.expected_total, i.currency),
            _m(i.approved_total, i.currency),
            _m(i.disputed_total, i.currency),
            _m(i.savings_total, i.currency),
            i.line_count,
            i.pending_count,
            i.get_status_display(),
        )
        for i in invoices.iterator(chunk_size=2000)
    )
    return workbook_response(filename=filename, sheets=[Sheet("Invoices", cols, rows)])


def _line_columns():
    return [
        Column("Row", "int", 7),
        Column("Tracking", width=22),
        Column("Billed weight", "number", 12, decimals=3),
        Column("Chargeable weight", "number", 12, decimals=3),
        Column("Base", "money"),
        Column("Fuel", "money"),
        Column("Remote", "money"),
        Column("Oversize", "money"),
        Column("COD", "money"),
        Column("Peak", "money"),
        Column("Returns", "money"),
        Column("Billed net", "money"),
        Column("Billed VAT", "money"),
        Column("Billed gross", "money"),
        Column("Expected net", "money"),
        Column("Expected VAT", "money"),
        Column("Approved net", "money"),
        Column("Approved VAT", "money"),
        Column("Flags", width=40),
        Column("Decision", width=22),
        Column("Reason", width=30),
        Column("Decided by", width=14),
        Column("Decided at", "datetime", 19),
        Column("Shipment", "int", 10),
    ]


def invoice_lines_workbook(invoice):
    c = invoice.currency
    rows = (
        (
            line.line_no,
            line.tracking_number,
            line.billed_weight_kg,
            line.chargeable_weight_kg,
            *(_m(getattr(line, f"billed_{f}"), c) for f in ["base", *VendorInvoiceLine.SURCHARGE_FIELDS]),
            _m(line.billed_net, c),
            _m(line.billed_vat, c),
            _m(line.billed_gross, c),
            _m(line.expected_net, c),
            _m(line.expected_vat, c),
            _m(line.approved_net, c),
            _m(line.approved_vat, c),
            ", ".join(line.flag_codes),
            line.get_decision_display(),
            line.reason,
            getattr(line.decided_by, "username", ""),
            line.decided_at,
            line.shipment_id,
        )
        for line in selectors.invoice_lines(invoice).iterator(chunk_size=5000)
    )
    header = [
        f"{invoice.get_kind_display()} {invoice.number} — {invoice.vendor} — {invoice.invoice_date}",
        f"Billed {format_amount(invoice.gross_total, c)} {c}, expected {format_amount(invoice.expected_total, c)}, "
        f"approved {format_amount(invoice.approved_total, c)}, disputed {format_amount(invoice.disputed_total, c)}, "
        f"savings {format_amount(invoice.savings_total, c)}",
    ]
    return workbook_response(
        filename=f"invoice_{invoice.vendor.code}_{invoice.number}.xlsx",
        sheets=[Sheet("Lines", _line_columns(), rows, header_lines=header)],
    )


def dispute_letter_workbook(vendor, invoice=None):
    lines = selectors.disputed_lines(vendor=vendor, invoice=invoice)
    cur = vendor.market.currency
    cols = [
        Column("Invoice", width=20),
        Column("Invoice date", "date", 12),
        Column("Row", "int", 7),
        Column("Tracking", width=22),
        Column("Billed gross", "money"),
        Column("Accepted gross", "money"),
        Column("Disputed amount", "money"),
        Column("Outcome", width=22),
        Column("Reason", width=50),
        Column("Flags", width=40),
    ]
    rows = (
        (
            line.invoice.number,
            line.invoice.invoice_date,
            line.line_no,
            line.tracking_number,
            _m(line.billed_gross, cur),
            _m(line.approved_gross, cur),
            _m(line.billed_gross - line.approved_gross, cur),
            line.get_decision_display(),
            line.reason,
            ", ".join(line.flag_codes),
        )
        for line in lines.iterator(chunk_size=5000)
    )
    header = [
        f"Dispute of charges — {vendor.legal_name} ({vendor.code})",
        "We dispute the charges below for the reasons given; please issue a credit note or explain them.",
    ]
    suffix = f"_{invoice.number}" if invoice else ""
    return workbook_response(
        filename=f"dispute_{vendor.code}{suffix}.xlsx",
        sheets=[Sheet("Disputed lines", cols, rows, header_lines=header)],
    )


def payables_workbook(payables):
    cols = [
        Column("Id", "int", 8),
        Column("Vendor", width=14),
        Column("Kind", width=12),
        Column("Reference", width=20),
        Column("Currency", width=9),
        Column("Amount", "money"),
        Column("Due", "date", 12),
        Column("Status", width=16),
        Column("Run", width=22),
        Column("On hold", width=8),
        Column("Hold reason", width=30),
        Column("Last rejection", width=30),
    ]
    rows = (
        (
            p.pk,
            p.vendor.code,
            p.get_kind_display(),
            p.reference,
            p.currency,
            _m(p.amount, p.currency),
            p.due_date,
            p.get_status_display(),
            p.payment_run.number if p.payment_run else "",
            "yes" if p.on_hold else "",
            p.hold_reason,
            p.last_rejection_reason,
        )
        for p in payables.iterator(chunk_size=2000)
    )
    return workbook_response(filename="payables.xlsx", sheets=[Sheet("Payables", cols, rows)])


def run_workbook(run):
    c = run.currency
    pay_cols = [
        Column("End-to-end id", width=26),
        Column("Vendor", width=14),
        Column("Beneficiary", width=30),
        Column("Account", width=30),
        Column("Amount", "money"),
        Column("Status", width=14),
        Column("Rejection reason", width=30),
    ]
    payments = (
        (
            p.end_to_end_id,
            p.vendor.code,
            p.account_holder,
            p.iban or f"{p.bank_code} {p.account_number}",
            _m(p.amount, c),
            p.get_status_display(),
            p.rejection_reason,
        )
        for p in run.payments.select_related("vendor")
    )
    item_cols = [
        Column("Vendor", width=14),
        Column("Payable", "int", 9),
        Column("Kind", width=12),
        Column("Reference", width=20),
        Column("Due", "date", 12),
        Column("Amount", "money"),
        Column("Payment", width=26),
    ]
    items = (
        (
            i.vendor.code,
            i.payable_id,
            i.payable.get_kind_display(),
            i.payable.reference,
            i.payable.due_date,
            _m(i.amount, c),
            i.payment.end_to_end_id,
        )
        for i in run.items.select_related("vendor", "payable__invoice", "payment")
    )
    ex_cols = [
        Column("Vendor", width=14),
        Column("Payable", "int", 9),
        Column("Amount", "money"),
        Column("Code", width=22),
        Column("Reason", width=60),
    ]
    exclusions = (
        (e.vendor.code, e.payable_id, _m(e.amount, c), e.code, e.reason)
        for e in run.exclusions.select_related("vendor")
    )
    header = [
        f"Payment run {run.number} — {run.market_id} {c} — pay date {run.pay_date} — {run.get_status_display()}",
        f"Prepared by {run.prepared_by.username} at {run.prepared_at:%Y-%m-%d %H:%M}; approved by "
        f"{getattr(run.approved_by, 'username', '—')}",
    ]
    return workbook_response(
        filename=f"payment_run_{run.number}.xlsx",
        sheets=[
            Sheet("Payments", pay_cols, payments, header_lines=header),
            Sheet("Items", item_cols, items),
            Sheet("Excluded", ex_cols, exclusions),
        ],
    )


def statement_workbook(vendor, statement):
    c = statement["currency"]
    cols = [
        Column("Date", "date", 12),
        Column("Kind", width=16),
        Column("Reference", width=24),
        Column("Description", width=40),
        Column("Amount", "money"),
        Column("Balance owed", "money"),
    ]
    rows = ((r.on, r.kind, r.reference, r.description, _m(r.amount, c), _m(r.balance, c)) for r in statement["rows"])
    header = [
        f"Vendor statement — {vendor.legal_name} ({vendor.code}) — {c}",
        f"Balance owed {format_amount(statement['balance'], c)}; ledger vendor payable {format_amount(statement['ledger_balance'], c)}",
    ]
    return workbook_response(
        filename=f"statement_{vendor.code}.xlsx", sheets=[Sheet("Statement", cols, rows, header_lines=header)]
    )


LINEAGE_COLUMNS = [
    ("payment", "text"),
    ("payment_status", "text"),
    ("payment_amount", "money"),
    ("currency", "text"),
    ("vendor", "text"),
    ("run", "text"),
    ("pay_date", "date"),
    ("prepared_by", "text"),
    ("prepared_at", "datetime"),
    ("run_approved_by", "text"),
    ("run_approved_at", "datetime"),
    ("bank_file", "text"),
    ("bank_file_sha256", "text"),
    ("confirmed_by", "text"),
    ("confirmed_at", "datetime"),
    ("payable", "int"),
    ("payable_kind", "text"),
    ("payable_amount", "money"),
    ("due_date", "date"),
    ("document", "text"),
    ("invoice_date", "date"),
    ("invoice_approved_by", "text"),
    ("invoice_approved_at", "datetime"),
    ("line", "int"),
    ("tracking_number", "text"),
    ("billed_gross", "money"),
    ("expected_gross", "money"),
    ("approved_gross", "money"),
    ("decision", "text"),
    ("flags", "text"),
    ("reason", "text"),
    ("decided_by", "text"),
    ("decided_at", "datetime"),
    ("shipment", "int"),
    ("ship_date", "date"),
    ("charge_line", "int"),
    ("contract", "text"),
    ("contract_version", "int"),
    ("rate_line", "text"),
    ("rate_line_id", "int"),
]


def lineage_workbook(payment):
    cur = payment.currency
    cols = [
        Column(name.replace("_", " ").capitalize(), kind, 16, decimals=minor_units(cur))
        for name, kind in LINEAGE_COLUMNS
    ]
    rows = ([row.get(name) for name, _ in LINEAGE_COLUMNS] for row in selectors.payment_lineage(payment))
    return workbook_response(
        filename=f"lineage_{payment.end_to_end_id}.xlsx",
        sheets=[
            Sheet(
                "Lineage",
                cols,
                rows,
                header_lines=[
                    f"Payment lineage {payment.end_to_end_id} — {payment.vendor} — {cur} {format_amount(payment.amount, cur)}"
                ],
            )
        ],
    )


def remittance_rows(payment):
    for item in payment.items.select_related("payable__invoice", "payable__deduction").order_by("payable_id"):
        payable = item.payable
        date = payable.invoice.invoice_date if payable.invoice_id else payable.deduction.created_at.date()
        yield payable.get_kind_display(), payable.reference, date, item.amount


def remittance_workbook(payment):
    cur = payment.currency
    cols = [
        Column("Kind", width=14),
        Column("Reference", width=24),
        Column("Date", "date", 12),
        Column("Amount", "money"),
    ]
    rows = [(k, r, d, Money(a, cur)) for k, r, d, a in remittance_rows(payment)] + [
        ("Total paid", payment.end_to_end_id, payment.run.pay_date, Money(payment.amount, cur))
    ]
    return workbook_response(
        filename=f"remittance_{payment.end_to_end_id}.xlsx",
        sheets=[
            Sheet(
                "Remittance",
                cols,
                rows,
                header_lines=[
                    f"Remittance advice — {payment.vendor.legal_name} — {payment.end_to_end_id} — {payment.run.pay_date}"
                ],
            )
        ],
    )


def remittance_pdf(payment) -> bytes:
    """A one-page remittance advice (fpdf2, pure Python)."""
    from fpdf import FPDF

    cur = payment.currency
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)

    def text(value: str) -> str:
        return value.encode("latin-1", "replace").decode("latin-1")

    pdf.cell(0, 10, "Remittance advice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for line in (
        f"To: {payment.vendor.legal_name} ({payment.vendor.code})",
        f"Payment reference: {payment.end_to_end_id}",
        f"Payment run: {payment.run.number}, pay date {payment.run.pay_date}",
        f"Paid to: {payment.account_holder} {payment.iban or payment.account_number}",
    ):
        pdf.cell(0, 6, text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    for label, width in (("Kind", 35), ("Reference", 70), ("Date", 35), (f"Amount {cur}", 40)):
        pdf.cell(width, 7, label, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    for kind, reference, date, amount in remittance_rows(payment):
        pdf.cell(35, 6, text(kind), border=1)
        pdf.cell(70, 6, text(reference), border=1)
        pdf.cell(35, 6, str(date), border=1)
        pdf.cell(40, 6, format_amount(amount, cur), border=1, align="R")
        pdf.ln()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(140, 7, "Total paid", border=1)
    pdf.cell(40, 7, format_amount(payment.amount, cur), border=1, align="R")
    return bytes(pdf.output())
