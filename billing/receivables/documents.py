"""Invoice and credit-note PDFs (fpdf2, pure Python) in the market's language, with the DejaVu
Sans font shipped in `fonts/` (Bitstream Vera licence) so Vietnamese and German text render on
any machine. Labels exist in English, Bahasa Indonesia and Vietnamese; German and French
markets get English labels until translations are added (a known gap).

Each correction document has its own title and a line naming the invoice it corrects: a credit
note "credits" it; Vietnam's adjustment invoice says "Điều chỉnh giảm cho hóa đơn số … ngày …" and
its replacement invoice "Thay thế cho hóa đơn số … ngày …" (Decree 123/2020 art. 19). Column
headers wrap inside their column (Vietnamese ones are long) instead of running into the next.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF

from settlement_ops.money import format_amount

from .models import Invoice

FONT_DIR = Path(__file__).resolve().parent / "fonts"

LABELS = {
    "en": {
        "invoice": "Tax invoice",
        "credit_note": "Credit note",
        "adjustment": "Adjustment invoice (decrease)",
        "replacement": "Replacement tax invoice",
        "number": "Number",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "period": "Service period",
        "seller": "Bill to",
        "vat_number": "VAT number",
        "credits": "Credits invoice",
        "corrects": "Corrects",
        "credits_ref": "Credits invoice {number} of {date}",
        "adjusts_ref": "Decreases invoice {number} of {date}",
        "replaces_ref": "Replaces invoice {number} of {date}",
        "tracking": "Tracking number",
        "ship_date": "Ship date",
        "service": "Service",
        "kind": "Type",
        "net": "Net",
        "vat_rate": "VAT %",
        "vat": "VAT",
        "gross": "Total",
        "totals": "Totals",
        "vat_summary": "VAT summary",
        "pay_by_bank": "Please pay by bank transfer quoting the invoice number by the due date.",
        "pay_by_payout": "This amount will be deducted from your next payout.",
        "original": "fee",
        "delta": "re-rating",
        "reason": "Reason",
        "issuer": "Marketplace Logistics Services",
    },
    "id": {
        "invoice": "Faktur pajak",
        "credit_note": "Nota kredit",
        "adjustment": "Faktur penyesuaian (pengurangan)",
        "replacement": "Faktur pajak pengganti",
        "number": "Nomor",
        "issue_date": "Tanggal terbit",
        "due_date": "Jatuh tempo",
        "period": "Periode layanan",
        "seller": "Ditagihkan kepada",
        "vat_number": "NPWP",
        "credits": "Mengkredit faktur",
        "corrects": "Mengoreksi",
        "credits_ref": "Mengkredit faktur {number} tanggal {date}",
        "adjusts_ref": "Mengurangi faktur {number} tanggal {date}",
        "replaces_ref": "Menggantikan faktur {number} tanggal {date}",
        "tracking": "Nomor resi",
        "ship_date": "Tanggal kirim",
        "service": "Layanan",
        "kind": "Jenis",
        "net": "Neto",
        "vat_rate": "PPN %",
        "vat": "PPN",
        "gross": "Total",
        "totals": "Jumlah",
        "vat_summary": "Ringkasan PPN",
        "pay_by_bank": "Mohon bayar melalui transfer bank dengan mencantumkan nomor faktur sebelum jatuh tempo.",
        "pay_by_payout": "Jumlah ini akan dipotong dari pembayaran Anda berikutnya.",
        "original": "biaya",
        "delta": "koreksi tarif",
        "reason": "Alasan",
        "issuer": "Layanan Logistik Marketplace",
    },
    "vi": {
        "invoice": "Hóa đơn GTGT",
        "credit_note": "Giấy báo có",
        "adjustment": "Hóa đơn điều chỉnh giảm",
        "replacement": "Hóa đơn GTGT thay thế",
        "number": "Số",
        "issue_date": "Ngày lập",
        "due_date": "Hạn thanh toán",
        "period": "Kỳ dịch vụ",
        "seller": "Khách hàng",
        "vat_number": "Mã số thuế",
        "credits": "Ghi có cho hóa đơn",
        "corrects": "Hóa đơn gốc",
        "credits_ref": "Ghi có cho hóa đơn số {number} ngày {date}",
        "adjusts_ref": "Điều chỉnh giảm cho hóa đơn số {number} ngày {date}",
        "replaces_ref": "Thay thế cho hóa đơn số {number} ngày {date}",
        "tracking": "Mã vận đơn",
        "ship_date": "Ngày gửi",
        "service": "Dịch vụ",
        "kind": "Loại",
        "net": "Chưa thuế",
        "vat_rate": "Thuế suất",
        "vat": "Thuế GTGT",
        "gross": "Tổng cộng",
        "totals": "Cộng",
        "vat_summary": "Tổng hợp thuế GTGT",
        "pay_by_bank": "Vui lòng chuyển khoản trước hạn thanh toán, ghi số hóa đơn làm nội dung.",
        "pay_by_payout": "Số tiền này sẽ được khấu trừ vào khoản thanh toán tiếp theo của Quý khách.",
        "original": "phí",
        "delta": "điều chỉnh giá",
        "reason": "Lý do",
        "issuer": "Dịch vụ Logistics Marketplace",
    },
}


def labels_for(language: str) -> dict:
    return LABELS.get(language, LABELS["en"])


def document_title(invoice: Invoice, t: dict) -> str:
    """The document's title in the labels `t`: invoice, replacement, credit note or adjustment."""
    if invoice.kind == Invoice.Kind.INVOICE:
        return t["replacement"] if invoice.replaces_id else t["invoice"]
    return t[invoice.kind]


def correction_reference(invoice: Invoice, t: dict) -> str:
    """The line naming the invoice a correction corrects ("" for a plain invoice)."""
    original = invoice.corrected_invoice
    if original is None:
        return ""
    key = {Invoice.Kind.ADJUSTMENT: "adjusts_ref", Invoice.Kind.CREDIT_NOTE: "credits_ref"}.get(
        invoice.kind, "replaces_ref"
    )
    return t[key].format(number=original.number, date=original.issue_date.isoformat())


HEADER_LINE_HEIGHT = 4


def header_lines(pdf: FPDF, width: float, text: str) -> list[str]:
    """`text` broken into the lines it takes in a column of `width` (current font)."""
    return pdf.multi_cell(width, HEADER_LINE_HEIGHT, text, dry_run=True, output="LINES", padding=(0, 1))


def table_header(pdf: FPDF, widths: list[float], headers: list[str], right: set[int]) -> None:
    """One header row whose cells wrap their text and share the tallest cell's height."""
    rows = max(len(header_lines(pdf, w, h)) for w, h in zip(widths, headers, strict=True))
    height = rows * HEADER_LINE_HEIGHT + 2
    x, y = pdf.get_x(), pdf.get_y()
    for i, (w, h) in enumerate(zip(widths, headers, strict=True)):
        pdf.rect(x, y, w, height)
        pdf.set_xy(x, y + 1)
        pdf.multi_cell(w, HEADER_LINE_HEIGHT, h, align="R" if i in right else "L", padding=(0, 1))
        x += w
    pdf.set_xy(pdf.l_margin, y + height)


def vat_summary(invoice: Invoice) -> list[dict]:
    from django.db.models import Sum

    return list(
        invoice.lines.values("vat_rate")
        .annotate(net=Sum("net"), vat=Sum("vat"), gross=Sum("gross"))
        .order_by("vat_rate")
    )


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice (or credit note) as PDF bytes."""
    t = labels_for(invoice.language)
    cur = invoice.currency
    money = lambda amount: format_amount(amount, cur)  # noqa: E731
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_title(invoice.number)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.cell(0, 10, document_title(invoice, t), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(0, 5, f"{t['issuer']} · {invoice.market.name}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    seller = invoice.seller
    facts = [
        (t["number"], invoice.number),
        (t["issue_date"], invoice.issue_date.isoformat()),
        (t["due_date"], invoice.due_date.isoformat()),
        (t["seller"], f"{seller.legal_name} ({seller.code})"),
    ]
    if seller.vat_number:
        facts.append((t["vat_number"], seller.vat_number))
    if invoice.period_start:
        facts.append((t["period"], f"{invoice.period_start.isoformat()} – {invoice.period_end.isoformat()}"))
    reference = correction_reference(invoice, t)
    if reference:
        facts.append((t["corrects"], reference))
        facts.append((t["reason"], invoice.reason))
    for label, value in facts:
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(40, 5, label)
        pdf.set_font("DejaVu", "", 9)
        pdf.cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = [44, 22, 22, 20, 22, 14, 20, 26]
    headers = [t["tracking"], t["ship_date"], t["service"], t["kind"], t["net"], t["vat_rate"], t["vat"], t["gross"]]
    pdf.set_font("DejaVu", "B", 8)
    table_header(pdf, widths, headers, right={4, 5, 6, 7})
    pdf.set_font("DejaVu", "", 8)
    for line in invoice.lines.order_by("ship_date", "tracking_number", "id").iterator(chunk_size=2000):
        cells = [
            line.tracking_number,
            line.ship_date.isoformat(),
            line.service_level,
            t.get(line.line_kind, line.line_kind),
            money(line.net),
            f"{line.vat_rate}",
            money(line.vat),
            money(line.gross),
        ]
        for i, (w, value) in enumerate(zip(widths, cells, strict=True)):
            pdf.cell(w, 5, value, border=1, align="R" if i >= 4 else "L")
        pdf.ln()
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(sum(widths[:4]), 6, f"{t['totals']} ({cur})", border=1)
    pdf.cell(widths[4], 6, money(invoice.net_total), border=1, align="R")
    pdf.cell(widths[5], 6, "", border=1)
    pdf.cell(widths[6], 6, money(invoice.vat_total), border=1, align="R")
    pdf.cell(widths[7], 6, money(invoice.gross_total), border=1, align="R")
    pdf.ln(10)
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(0, 5, t["vat_summary"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    for row in vat_summary(invoice):
        pdf.cell(
            0,
            5,
            f"{row['vat_rate']} %: {t['net']} {cur} {money(row['net'])} · {t['vat']} {cur} {money(row['vat'])}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(4)
    if not invoice.is_credit_note:
        pdf.multi_cell(0, 5, t["pay_by_payout" if invoice.collection == Invoice.Collection.PAYOUT else "pay_by_bank"])
    return bytes(pdf.output())
