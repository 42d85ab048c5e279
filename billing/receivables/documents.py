"""Invoice and credit-note PDFs (fpdf2, pure Python) in the market's language, with the DejaVu
Sans font shipped in `fonts/` (Bitstream Vera licence) so Vietnamese and German text render on
any machine. Labels exist in English, Bahasa Indonesia and Vietnamese; German and French
markets get English labels until translations are added (a known gap).
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
        "number": "Number",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "period": "Service period",
        "seller": "Bill to",
        "vat_number": "VAT number",
        "credits": "Credits invoice",
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
        "number": "Nomor",
        "issue_date": "Tanggal terbit",
        "due_date": "Jatuh tempo",
        "period": "Periode layanan",
        "seller": "Ditagihkan kepada",
        "vat_number": "NPWP",
        "credits": "Mengkredit faktur",
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
        "credit_note": "Hóa đơn điều chỉnh giảm",
        "number": "Số",
        "issue_date": "Ngày lập",
        "due_date": "Hạn thanh toán",
        "period": "Kỳ dịch vụ",
        "seller": "Khách hàng",
        "vat_number": "Mã số thuế",
        "credits": "Điều chỉnh cho hóa đơn",
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
    pdf.cell(0, 10, t["credit_note" if invoice.is_credit_note else "invoice"], new_x="LMARGIN", new_y="NEXT")
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
    if invoice.credited_invoice_id:
        facts.append((t["credits"], invoice.credited_invoice.number))
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
    for w, h in zip(widths, headers, strict=True):
        pdf.cell(w, 6, h, border=1, align="R" if h in (t["net"], t["vat_rate"], t["vat"], t["gross"]) else "L")
    pdf.ln()
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
