"""Correcting a wrong invoice: a credit note in GB; in Vietnam an adjustment invoice (hóa đơn điều
chỉnh) or a replacement invoice (hóa đơn thay thế) referencing the original, each with its own
gapless number series, its own PDF wording and a balanced ledger entry."""

from datetime import date
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from fpdf import FPDF

from billing.receivables.cash import receipt_record
from billing.receivables.documents import (
    FONT_DIR,
    LABELS,
    correction_reference,
    document_title,
    header_lines,
    invoice_pdf,
    labels_for,
)
from billing.receivables.models import CorrectionRule, Invoice
from billing.receivables.services import balance_problems, credit_note_issue
from settlement_ops.errors import DomainError
from settlement_ops.models import AccountKind
from settlement_ops.periods import tie_outs
from tests.billing.helpers import STANDARD_LINES, make_contract, make_fee_schedule
from tests.factories import UserFactory, VendorFactory, market
from tests.receivables.helpers import World, owed

pytestmark = pytest.mark.django_db

# VN seller fees (10 % VAT): a 1 kg parcel 49,000 + 4,900 = 53,900 VND; a 3 kg parcel 69,000 + 6,900 = 75,900.
VN_FEES = [("0", "2", "49000", "0", "1", "0"), ("2", "30", "69000", "0", "1", "0")]


class VietnamWorld(World):
    def __init__(self):
        self.market = market("VN")
        self.vendor = VendorFactory(market=self.market)
        make_contract(vendor=self.vendor, lines=STANDARD_LINES)
        make_fee_schedule(code="VN", lines=VN_FEES, cod_fee_minimum="5000", returns_fee="20000")
        self.clerk = UserFactory(role="finance_specialist")


def postings(document) -> dict[str, D]:
    """The document's entry as {account kind: amount} (debit positive)."""
    return {p.account.kind: p.amount for p in document.entry.postings.select_related("account")}


def heavy_line(invoice):
    return max(invoice.lines.all(), key=lambda line: line.gross)


def test_gb_credits_and_vn_adjusts_each_in_its_own_gapless_series():
    # given: a GB invoice and two VN invoices, each of a 1 kg and a 3 kg parcel
    gb, vn = World(), VietnamWorld()
    gb_invoice = gb.invoice(gb.seller(), "1.000", "3.000")
    seller = vn.seller()
    vn_invoice = vn.invoice(seller, "1.000", "3.000")

    # when: the 3 kg parcel is taken off each, then the VN invoice's other parcel too
    note = credit_note_issue(
        actor=gb.clerk, invoice=gb_invoice, reason="Test parcel", line_ids=[heavy_line(gb_invoice).pk]
    )
    first = credit_note_issue(
        actor=vn.clerk, invoice=vn_invoice, reason="Sai trọng lượng", line_ids=[heavy_line(vn_invoice).pk]
    )
    second = credit_note_issue(actor=vn.clerk, invoice=vn_invoice, reason="Bưu kiện thử")

    # then: GB keeps its credit note; VN issues adjustment invoices that reference the original
    assert (note.kind, note.number, note.credited_invoice) == ("credit_note", "GB-CN-2026-000001", gb_invoice)
    assert postings(note) == {
        AccountKind.SELLER_RECEIVABLE: D("-7.61"),
        AccountKind.LOGISTICS_REVENUE: D("6.34"),
        AccountKind.VAT_OUTPUT: D("1.27"),
    }
    assert (first.kind, first.number, second.number) == ("adjustment", "VN-ADJ-2026-000001", "VN-ADJ-2026-000002")
    assert first.credited_invoice == second.credited_invoice == vn_invoice and first.status == "issued"
    assert postings(first) == {
        AccountKind.SELLER_RECEIVABLE: D("-75900"),
        AccountKind.LOGISTICS_REVENUE: D("69000"),
        AccountKind.VAT_OUTPUT: D("6900"),
    }
    assert first.entry.source_type == "receivables.adjustment" and first.entry.source_id == first.number
    vn_invoice.refresh_from_db()
    assert (vn_invoice.amount_open, vn_invoice.status) == (0, "credited") and owed(seller) == 0
    assert not Invoice.objects.filter(market_id="VN", kind="credit_note").exists()
    # the PDF says what the document is and which invoice it corrects
    t = labels_for("vi")
    assert document_title(first, t) == "Hóa đơn điều chỉnh giảm"
    assert correction_reference(first, t) == f"Điều chỉnh giảm cho hóa đơn số {vn_invoice.number} ngày 2026-10-31"
    assert correction_reference(note, labels_for("en")) == f"Credits invoice {gb_invoice.number} of 2026-10-31"
    assert invoice_pdf(first).startswith(b"%PDF")
    with pytest.raises(DomainError) as exc:
        credit_note_issue(actor=vn.clerk, invoice=first, reason="again")
    assert exc.value.code == "not_an_invoice"
    assert balance_problems() == []
    assert all(c.passed for m in ("GB", "VN") for c in tie_outs(market=market(m), end=date.today()))


def test_vn_replacement_invoice_replaces_the_original_and_posts_what_it_leaves_out(client):
    # given: the market's rule says replace; a VN invoice of two parcels and another one paid in part
    vn = VietnamWorld()
    CorrectionRule.objects.create(market=vn.market, document=CorrectionRule.Document.REPLACEMENT)
    seller = vn.seller()
    original = vn.invoice(seller, "1.000", "3.000")
    client.force_login(vn.clerk)

    # when: the specialist takes the 3 kg parcel off through the invoice page
    response = client.post(
        f"/receivables/invoices/{original.pk}/credit-note/",
        {"reason": "Sai trọng lượng", "line": [heavy_line(original).pk]},
    )

    # then: a replacement invoice in its own series carries the 1 kg parcel; the original is replaced
    replacement = Invoice.objects.get(replaces=original)
    assert response.status_code == 302 and response.url == f"/receivables/invoices/{replacement.pk}/"
    assert (replacement.kind, replacement.number, replacement.status) == ("invoice", "VN-REP-2026-000001", "open")
    assert (replacement.gross_total, replacement.vat_total, replacement.amount_open) == (
        D("53900"),
        D("4900"),
        D("53900"),
    )
    assert replacement.due_date == original.due_date
    assert [line.replaced_line.invoice_id for line in replacement.lines.all()] == [original.pk]
    original.refresh_from_db()
    assert (original.status, original.amount_open, original.gross_total) == ("replaced", 0, D("129800"))
    assert postings(replacement) == {
        AccountKind.SELLER_RECEIVABLE: D("-75900"),
        AccountKind.LOGISTICS_REVENUE: D("69000"),
        AccountKind.VAT_OUTPUT: D("6900"),
    }
    assert owed(seller) == D("53900")
    page = client.get(f"/receivables/invoices/{replacement.pk}/").content.decode()
    assert "Hóa đơn GTGT thay thế" in page and original.number in page
    t = labels_for("vi")
    assert correction_reference(replacement, t) == f"Thay thế cho hóa đơn số {original.number} ngày 2026-10-31"
    assert invoice_pdf(replacement).startswith(b"%PDF")
    assert balance_problems() == []
    assert all(c.passed for c in tie_outs(market=vn.market, end=date.today()))

    # and: a replaced invoice and an invoice with a payment on it cannot be replaced
    with pytest.raises(DomainError) as replaced:
        credit_note_issue(actor=vn.clerk, invoice=original, reason="again")
    assert replacement.number in replaced.value.message
    paid = vn.invoice(seller, "1.000", "1.000", period=(date(2026, 9, 1), date(2026, 9, 30)))
    receipt_record(
        actor=vn.clerk,
        market=vn.market,
        amount=D("10000"),
        currency="VND",
        value_date=date(2026, 11, 3),
        bank_reference="VCB-1",
        reference=paid.number,
        seller=seller,
    )
    paid.refresh_from_db()
    assert paid.status == "partially_paid"
    with pytest.raises(DomainError) as settled:
        credit_note_issue(actor=vn.clerk, invoice=paid, reason="Sai", line_ids=[heavy_line(paid).pk])
    assert settled.value.code == "not_replaceable"
    assert Invoice.objects.filter(number__startswith="VN-REP-").count() == 1
    # Vietnam cannot be set to credit notes
    with pytest.raises(IntegrityError), transaction.atomic():
        CorrectionRule.objects.filter(market=vn.market).update(document="credit_note")


def test_long_pdf_column_headers_wrap_inside_their_column():
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_font("DejaVu", "B", 8)
    widths = {"net": 22, "vat_rate": 14, "vat": 20, "gross": 26, "tracking": 44, "ship_date": 22, "service": 22}
    wrapped = {}
    for language, t in LABELS.items():
        for key, width in widths.items():
            lines = header_lines(pdf, width, t[key])
            assert all(pdf.get_string_width(line) <= width - 2 for line in lines), (language, key, lines)
            wrapped[(language, key)] = len(lines)
    # "Thuế suất" is wider than its 14 mm column and now takes two lines instead of overlapping "Chưa thuế"
    assert pdf.get_string_width("Thuế suất") > 14 - 2 and wrapped[("vi", "vat_rate")] == 2
