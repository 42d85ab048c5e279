"""Dunning letters in the invoice's language, with amounts and dates as that language writes them
and the platform's collection bank account from the market's settings."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.core import mail

from billing.receivables.dunning import dunning_run
from billing.receivables.models import DunningNotice, Invoice
from billing.receivables.tasks import dunning_run_task
from settlement_ops import catalogues
from tests.factories import SellerFactory, market

pytestmark = pytest.mark.django_db

DUE = date(2026, 11, 14)


@pytest.fixture(autouse=True, scope="module")
def compiled_catalogues():
    from django.utils.translation import trans_real

    catalogues.compile_all()
    trans_real._translations = {}
    trans_real._default = None


def _overdue_invoice(code: str, number: str, gross: str, due: date = DUE, **seller) -> Invoice:
    m = market(code)
    s = SellerFactory(market=m, **seller)
    amount = D(gross)
    return Invoice.objects.create(
        market=m,
        seller=s,
        number=number,
        issue_date=date(2026, 10, 31) if due == DUE else due - timedelta(days=14),
        due_date=due,
        currency=m.currency,
        language=m.language,
        net_total=amount,
        vat_total=D("0"),
        gross_total=amount,
        amount_open=amount,
    )


def test_letters_name_the_markets_collection_account_in_the_sellers_language(django_capture_on_commit_callbacks):
    # given: Indonesia has its collection account set; Vietnam, France and the UK do not
    id_market = market("ID")
    id_market.collection_bank_name = "Bank Central Asia"
    id_market.collection_account_holder = "PT Marketplace Logistik Indonesia"
    id_market.collection_account_number = "0123456789"
    id_market.collection_bic = "CENAIDJA"
    id_market.save()
    rupiah = _overdue_invoice("ID", "ID-INV-2026-800001", "1234567", legal_name="PT Toko O'Brien & Sons")
    dong = _overdue_invoice("VN", "VN-INV-2026-800001", "2500000")
    euro = _overdue_invoice("FR", "FR-INV-2026-800001", "1234.5")
    pound = _overdue_invoice("GB", "GB-INV-2026-800001", "1234.5")

    # when: the nightly task runs 3 days after the due date (level 1), twice
    with django_capture_on_commit_callbacks(execute=True):
        sent = dunning_run(on=date(2026, 11, 17), markets=[market(c) for c in ("ID", "VN", "FR", "GB")])
    with django_capture_on_commit_callbacks(execute=True):
        again = dunning_run(on=date(2026, 11, 17), markets=[market(c) for c in ("ID", "VN", "FR", "GB")])

    # then: one letter each, once, sent as stored
    assert sent == {"ID": 1, "VN": 1, "FR": 1, "GB": 1} and again == {"ID": 0, "VN": 0, "FR": 0, "GB": 0}
    notices = {n.invoice_id: n for n in DunningNotice.objects.all()}
    assert len(mail.outbox) == 4
    assert {(m.subject, m.body) for m in mail.outbox} == {(n.subject, n.body) for n in notices.values()}

    letter = notices[rupiah.pk]
    assert letter.language == "id" and letter.subject == "Pengingat: faktur ID-INV-2026-800001 terlambat 3 hari"
    assert letter.body.startswith("Yth. PT Toko O'Brien & Sons,\n")  # plain text: nothing HTML-escaped
    assert "tanggal 31/10/2026 telah jatuh tempo pada 14/11/2026" in letter.body
    assert "Jumlah yang belum dibayar: IDR 1.234.567\n" in letter.body
    assert "rekening bank kami berikut dengan mencantumkan ID-INV-2026-800001 sebagai referensi" in letter.body
    assert "  Bank: Bank Central Asia\n  Atas nama: PT Marketplace Logistik Indonesia\n" in letter.body
    assert "  Nomor rekening: 0123456789\n  BIC / SWIFT: CENAIDJA\n" in letter.body

    letter = notices[dong.pk]
    assert letter.language == "vi" and letter.subject == "Nhắc nhở: hóa đơn VN-INV-2026-800001 đã quá hạn 3 ngày"
    assert "Số tiền còn nợ: VND 2.500.000\n" in letter.body and "ngày 14/11/2026" in letter.body
    # no account configured: the letter still asks for payment, without inventing an account
    assert "Số tài khoản" not in letter.body and "ghi VN-INV-2026-800001 làm nội dung thanh toán" in letter.body

    letter = notices[euro.pk]
    assert letter.language == "fr" and letter.subject.startswith("Relance : la facture FR-INV-2026-800001")
    assert "Montant restant dû : EUR 1\xa0234,50\n" in letter.body and "du 31/10/2026" in letter.body

    letter = notices[pound.pk]
    assert letter.language == "en" and letter.subject == "Reminder: invoice GB-INV-2026-800001 is 3 days overdue"
    assert "Amount still open: GBP 1,234.50\n" in letter.body and "was due on 2026-11-14." in letter.body


def test_a_german_final_notice_through_the_celery_task(django_capture_on_commit_callbacks):
    de = market("DE")
    de.collection_bank_name = "Commerzbank"
    de.collection_account_holder = "Marketplace Logistics GmbH"
    de.collection_account_number = "DE89370400440532013000"
    de.collection_bic = "COBADEFFXXX"
    de.save()
    # the task runs at each market's business date: level 2 was sent 20 days ago, so the final
    # notice (14 days later) is due
    today = de.local_date()
    invoice = _overdue_invoice("DE", "DE-INV-2026-800001", "99.9", due=today - timedelta(days=40))
    invoice.dunning_level, invoice.last_dunned_on = 2, today - timedelta(days=20)
    invoice.save(update_fields=["dunning_level", "last_dunned_on"])

    with django_capture_on_commit_callbacks(execute=True):
        result = dunning_run_task.delay().get()

    assert result["DE"] == 1
    letter = DunningNotice.objects.get(invoice=invoice)
    assert letter.level == 3 and letter.language == "de"
    assert letter.subject == "Letzte Mahnung: Rechnung DE-INV-2026-800001 ist seit 40 Tagen überfällig"
    assert (
        "Offener Betrag: EUR 99,90\n" in letter.body
        and f"am {invoice.due_date:%d.%m.%Y} fällige Rechnung" in letter.body
    )
    assert "  IBAN / Kontonummer: DE89370400440532013000\n  BIC / SWIFT: COBADEFFXXX" in letter.body
    assert mail.outbox[-1].subject == letter.subject


def test_a_collection_account_is_checked_before_letters_can_print_it():
    from django.core.exceptions import ValidationError

    de = market("DE")
    de.collection_bank_name, de.collection_account_number, de.collection_bic = (
        "Commerzbank",
        "DE89370400440532013001",
        "XX",
    )
    with pytest.raises(ValidationError) as refused:
        de.full_clean()
    assert refused.value.message_dict == {
        "collection_account_number": ["This IBAN is not valid: Invalid checksum digits."],
        "collection_bic": ["This BIC is not valid: Invalid length '2'."],
    }
    de.collection_bank_name, de.collection_account_number, de.collection_bic = "", "0123456789", ""
    with pytest.raises(ValidationError, match="together"):
        de.full_clean()
    # a local account number (no IBAN in Indonesia) with its bank is fine
    de.collection_bank_name = "Bank Central Asia"
    de.full_clean()
