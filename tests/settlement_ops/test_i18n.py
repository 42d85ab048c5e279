"""The portal in the seller's language: complete catalogues, the market language by default, the
switch, and money, dates and overdue invoices as the reader's language writes them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.template.base import Lexer, TokenType
from django.urls import reverse
from django.utils import timezone, translation

from billing.receivables.models import Invoice
from settlement_ops import catalogues
from tests.factories import SellerFactory, SellerUserFactory, UserFactory, market

BASE = Path(settings.BASE_DIR)
# What a seller reads in the portal: its page templates, the shared pages it renders for sellers,
# and every template they include; the portal views' messages. Model choice labels come in through
# each app's portal.TRANSLATED_CHOICES.
PORTAL_PAGES = [
    *BASE.glob("templates/*/portal/*.html"),
    *BASE.glob("templates/*/portal_*.html"),
    BASE / "templates/receivables/statement_detail.html",
]


def _with_includes(pages: list[Path]) -> list[Path]:
    seen, todo = set(), list(pages)
    while todo:
        page = todo.pop()
        if page not in seen:
            seen.add(page)
            todo += [BASE / "templates" / name for name in re.findall(r'{%\s*include\s+"([^"]+)"', page.read_text())]
    return sorted(seen)


PORTAL_TEMPLATES = _with_includes(PORTAL_PAGES)
PORTAL_CODE = sorted(
    {
        *BASE.glob("*/portal.py"),
        *BASE.glob("*/*/portal.py"),
        BASE / "sellers/views.py",
        # The statement's entries and fee rows (the portal's statement page and export).
        BASE / "billing/receivables/selectors.py",
        BASE / "billing/receivables/templatetags/statement_rows.py",
    }
)


@pytest.fixture(autouse=True, scope="module")
def compiled_catalogues():
    """The .mo files `make` builds, also when pytest runs without make; Django's cached
    catalogues are dropped so the fresh ones are read."""
    from django.utils.translation import trans_real

    catalogues.compile_all()
    trans_real._translations = {}
    trans_real._default = None


def _unmarked_text(path: Path) -> list[str]:
    """Words of `path` shown to the reader but not inside {% translate %} / {% blocktranslate %}:
    text outside HTML tags (attribute values are skipped), entities and punctuation aside."""
    found, in_tag, in_block = [], False, False
    for token in Lexer(path.read_text(encoding="utf-8")).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            in_block = name in ("blocktranslate", "blocktrans") or (
                in_block and name not in ("endblocktranslate", "endblocktrans")
            )
            continue
        if token.token_type != TokenType.TEXT or in_block:
            continue
        visible = []
        for char in token.contents:
            if char == "<":
                in_tag = True
            elif char == ">" and in_tag:
                in_tag = False
                visible.append(" ")
            elif not in_tag:
                visible.append(char)
        text = re.sub(r"&#?\w+;", " ", "".join(visible))
        found += re.findall(r"[^\W\d_]{2,}", text)
    return found


def test_every_portal_string_is_marked_and_translated_in_indonesian_and_vietnamese():
    assert len(PORTAL_TEMPLATES) >= 8, PORTAL_TEMPLATES
    unmarked = {str(p.relative_to(BASE)): words for p in PORTAL_TEMPLATES if (words := _unmarked_text(p))}
    assert unmarked == {}, f"text not wrapped in {{% translate %}}: {unmarked}"
    # dates in the reader's one format per locale; choice labels through {% translate %}
    fixed_formats = {
        str(p.relative_to(BASE)): found
        for p in PORTAL_TEMPLATES
        if (found := re.findall(r'\|date:"(?![A-Z_]+_FORMAT")[^"]*"|{{\s*[\w.]+get_\w+_display\s*}}', p.read_text()))
    }
    assert fixed_formats == {}, f"fixed date formats or untranslated choice labels: {fixed_formats}"

    wanted = catalogues.add_translated_choices(catalogues.extract([*PORTAL_TEMPLATES, *PORTAL_CODE]))
    assert {"Invoices", "Open", "Partially paid", "Overdue · %(days)s day"} <= {
        m.id if isinstance(m.id, str) else m.id[0] for m in wanted if m.id
    }
    for language in ("id", "vi"):
        catalogue = catalogues.read_catalogue(language)
        problems = []
        for message in wanted:
            if not message.id:
                continue
            entry = catalogue.get(message.id, context=message.context)
            forms = (entry.string,) if entry and isinstance(entry.string, str) else (entry.string if entry else ())
            if entry is None or entry.fuzzy or not forms or not all(forms):
                problems.append(message.id)
        assert problems == [], f"{language}: missing, empty or fuzzy: {problems}"


def test_the_unmarked_text_check_catches_a_bare_string(tmp_path):
    page = tmp_path / "portal_x.html"
    page.write_text(
        '{% load i18n %}<h1 title="ignored">Balance</h1><p>{% translate "Ok" %} &rarr; 12</p>'
        "{% blocktranslate %}Due {{ x }}{% endblocktranslate %}<td>{{ a }} Rows</td>"
    )
    assert _unmarked_text(page) == ["Balance", "Rows"]


@pytest.mark.parametrize(
    "language, idr, gbp, day",
    [
        ("en", "12,500", "1,234,567.50", "2026-10-31"),
        ("en-gb", "12,500", "1,234,567.50", "2026-10-31"),
        ("id", "12.500", "1.234.567,50", "31/10/2026"),
        ("vi", "12.500", "1.234.567,50", "31/10/2026"),
        ("de", "12.500", "1.234.567,50", "31.10.2026"),
        ("fr", "12\xa0500", "1\xa0234\xa0567,50", "31/10/2026"),
    ],
)
def test_money_and_dates_in_the_readers_locale(language, idr, gbp, day):
    template = Template(
        '{% load money %}{{ idr|money:"IDR" }}|{{ gbp|money:"GBP" }}|{{ neg|money:"VND" }}|{{ day|date:"SHORT_DATE_FORMAT" }}'
    )
    context = Context({"idr": D("12499.5"), "gbp": D("1234567.5"), "neg": D("-1000"), "day": date(2026, 10, 31)})
    with translation.override(language):
        assert template.render(context) == f"{idr}|{gbp}|-1{idr[2]}000|{day}"
    # the cached `day` filter of the long tables writes what `date` writes, in each language in turn
    cached = Template("{% load day %}{{ day|day }}|{{ moment|day }}|{{ none|day }}")
    uncached = Template('{{ day|date:"SHORT_DATE_FORMAT" }}|{{ moment|date:"SHORT_DATE_FORMAT" }}|')
    # 23:30 UTC on 31 October is 1 November in Jakarta
    values = {"day": date(2026, 10, 31), "moment": datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "none": None}
    for _ in range(2):  # the second time from the cache
        with translation.override(language), timezone.override("Asia/Jakarta"):
            shown = cached.render(Context(values))
            assert shown == uncached.render(Context(values))
            assert shown.startswith(f"{day}|") and "11" in shown.split("|")[1]


def test_money_formatting_equals_djangos_number_format_in_every_language():
    """The cached separators give what Django's general formatter gives, amount for amount."""
    import random

    from django.utils import formats

    from settlement_ops.i18n import format_money
    from settlement_ops.money import MINOR_UNITS, quantize

    rng = random.Random(18)
    amounts = [D("0"), D("-0.004"), D("0.005"), D("-0.5"), D("999.995"), D("1000"), D("-1234567.891")]
    amounts += [D(rng.randint(-(10**12), 10**12)) / D(10) ** rng.randint(0, 4) for _ in range(300)]
    for language in ("en", "en-gb", "id", "vi", "de", "fr"):
        for currency in ("GBP", "EUR", "IDR", "VND"):
            for amount in amounts:
                rounded = quantize(amount, currency)
                with translation.override(language):
                    expected = formats.number_format(
                        rounded,
                        decimal_pos=MINOR_UNITS[currency],
                        use_l10n=True,
                        force_grouping=True,
                    )
                assert format_money(amount, currency, language) == expected, (language, currency, amount)


def _invoice(seller, number: str, gross: str, *, due: date, status=Invoice.Status.OPEN, open_amount=None) -> Invoice:
    gross_total = D(gross)
    return Invoice.objects.create(
        market=seller.market,
        seller=seller,
        number=number,
        issue_date=due - timedelta(days=14),
        due_date=due,
        currency=seller.market.currency,
        language=seller.market.language,
        net_total=gross_total,
        vat_total=D("0"),
        gross_total=gross_total,
        amount_open=gross_total if open_amount is None else D(open_amount),
        status=status,
    )


def _portal_client(client, code: str):
    link = SellerUserFactory(seller=SellerFactory(market=market(code)))
    client.force_login(link.user)
    return client, link.seller


@pytest.mark.django_db
def test_an_indonesian_seller_reads_the_portal_in_indonesian_and_can_switch_to_english(client):
    client, seller = _portal_client(client, "ID")
    today = seller.market.local_date()
    _invoice(seller, "ID-INV-2026-900001", "12500", due=today - timedelta(days=3))
    other = SellerFactory(market=market("ID"))
    _invoice(other, "ID-INV-2026-900002", "99000", due=today - timedelta(days=3))

    home = client.get(reverse("portal:home"))
    page = home.content.decode()
    assert home.status_code == 200 and home["Content-Language"] == "id"
    assert '<html lang="id">' in page and "Beranda" in page and "Laporan tagihan" in page and "Keluar" in page
    assert "Statements" not in page and "Sign out" not in page

    invoices = client.get(reverse("portal:invoices")).content.decode()
    assert "ID-INV-2026-900001" in invoices and "ID-INV-2026-900002" not in invoices
    assert "12.500" in invoices and "12,500" not in invoices and "12.500,00" not in invoices
    assert "Lewat jatuh tempo · 3 hari" in invoices
    assert (today - timedelta(days=3)).strftime("%d/%m/%Y") in invoices

    # an unknown language changes nothing; English through the switch sticks across pages
    client.post(reverse("set_language"), {"language": "xx", "next": reverse("portal:home")})
    assert "Beranda" in client.get(reverse("portal:home")).content.decode()
    switched = client.post(reverse("set_language"), {"language": "en", "next": reverse("portal:invoices")})
    assert switched.status_code == 302 and switched["Location"] == reverse("portal:invoices")
    english = client.get(reverse("portal:invoices")).content.decode()
    assert '<html lang="en">' in english and "Statements" in english and "Beranda" not in english
    assert "Overdue · 3 days" in english and "12,500" in english


@pytest.mark.django_db
def test_a_vietnamese_invoice_list_says_overdue_only_for_open_invoices_past_due(client):
    client, seller = _portal_client(client, "VN")
    today = seller.market.local_date()
    _invoice(seller, "VN-INV-2026-900001", "1500000", due=today - timedelta(days=1))
    _invoice(
        seller,
        "VN-INV-2026-900002",
        "2000000",
        due=today - timedelta(days=20),
        status=Invoice.Status.PAID,
        open_amount="0",
    )
    _invoice(seller, "VN-INV-2026-900003", "300000", due=today)
    _invoice(
        seller,
        "VN-INV-2026-900004",
        "400000",
        due=today - timedelta(days=9),
        status=Invoice.Status.PARTIALLY_PAID,
        open_amount="100000",
    )

    page = client.get(reverse("portal:invoices")).content.decode()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"(VN-INV-2026-90000\d)</a>(.*?)</tr>", page, re.S)}
    assert "Quá hạn · 1 ngày" in rows["VN-INV-2026-900001"] and "1.500.000" in rows["VN-INV-2026-900001"]
    assert "Đã thanh toán" in rows["VN-INV-2026-900002"] and "Quá hạn" not in rows["VN-INV-2026-900002"]
    assert "Chưa thanh toán" in rows["VN-INV-2026-900003"] and "Quá hạn" not in rows["VN-INV-2026-900003"]
    assert "Quá hạn · 9 ngày" in rows["VN-INV-2026-900004"] and "100.000" in rows["VN-INV-2026-900004"]
    assert "Hóa đơn" in page and "Trạng thái" in page and "Open" not in page

    # the status filter keeps working with translated choices
    paid = client.get(reverse("portal:invoices"), {"status": "paid"}).content.decode()
    assert "VN-INV-2026-900002" in paid and "VN-INV-2026-900001" not in paid


@pytest.mark.django_db
def test_staff_pages_stay_english_and_staff_may_not_open_the_portal(client):
    user = UserFactory(role="finance_specialist")
    client.force_login(user)
    # the browser asking for Indonesian changes nothing: staff read English unless they switch
    response = client.get(reverse("markets"), HTTP_ACCEPT_LANGUAGE="id,vi;q=0.8")
    page = response.content.decode()
    assert response.status_code == 200 and '<html lang="en-gb">' in page and "Sign out" in page
    assert client.get(reverse("portal:invoices")).status_code == 403


def test_a_catalogue_that_breaks_a_placeholder_is_refused(tmp_path, settings):
    po = tmp_path / "id" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        '#, python-format\nmsgid "Invoice %(number)s"\nmsgstr "Faktur %(nomor)s"\n',
        encoding="utf-8",
    )
    settings.LOCALE_PATHS = [tmp_path]
    with pytest.raises(catalogues.CatalogueError, match="Invoice %"):
        catalogues.compile_all()
    assert not po.with_suffix(".mo").exists()


@pytest.mark.django_db
def test_the_portal_statement_export_has_headers_in_the_sellers_language(client):
    from io import BytesIO

    from openpyxl import load_workbook

    from billing.receivables.models import Statement

    client, seller = _portal_client(client, "ID")
    statement = Statement.objects.create(
        market=seller.market,
        seller=seller,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        currency="IDR",
        opening_balance=D("0"),
        charges_total=D("12500"),
        credits_total=D("0"),
        payments_total=D("0"),
        adjustments_total=D("0"),
        closing_balance=D("12500"),
    )
    url = reverse("portal:statement_export", args=[statement.pk])

    def workbook():
        return load_workbook(BytesIO(b"".join(client.get(url).streaming_content)))

    book = workbook()
    assert book.sheetnames == ["Ringkasan", "Mutasi", "Pengiriman"]
    cells = [[c for c in row if c is not None] for row in book["Ringkasan"].iter_rows(values_only=True)]
    assert cells[0] == [f"Laporan tagihan {seller.code} {seller.legal_name} — 01/10/2026 s.d. 31/10/2026 (IDR)"]
    assert ["Pos", "Jumlah"] in cells and ["Biaya logistik", 12500] in cells  # amounts stay numbers
    assert "Tanggal kirim" in next(r for r in book["Pengiriman"].iter_rows(values_only=True) if "Nomor resi" in r)

    client.post(reverse("set_language"), {"language": "en", "next": url})
    book = workbook()
    assert book.sheetnames == ["Summary", "Entries", "Shipments"]
    assert [f"Statement {seller.code} {seller.legal_name} — 2026-10-01 to 2026-10-31 (IDR)"] in [
        [c for c in row if c is not None] for row in book["Summary"].iter_rows(values_only=True)
    ]
