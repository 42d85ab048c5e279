"""Receivables reads shared by pages, API and exports: caller-scoped querysets, statement lines
from the ledger, the shipment detail of a statement, and aging (SQL aggregation)."""

from __future__ import annotations

import hashlib
from array import array
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, DecimalField, F, Max, Min, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext, gettext_lazy

from billing.models import BillingRun, ChargeLine
from sellers.selectors import seller_for_user
from settlement_ops.models import Market, PartyType, Posting
from settlement_ops.money import Money, quantize
from settlement_ops.roles import is_seller_user
from settlement_ops.selectors import ZERO, fx_rate_on

from .dunning import dunning_ladder, invoices_due_for_dunning
from .models import (
    CollectionNote,
    Invoice,
    PayoutDeduction,
    Receipt,
    ReceiptApplication,
    Statement,
    WriteOff,
)
from .services import STATEMENT_KINDS, Source

# --- Scope: a seller user sees only their seller's rows; anyone else with the permission sees all.


def caller_seller(user):
    """The seller a user is confined to, or None for staff and integrations. A seller-role user
    without a seller link is confined to nothing (an id that matches no row)."""
    if is_seller_user(user):
        return seller_for_user(user) or False
    return None


def _scoped(qs, user, field="seller"):
    seller = caller_seller(user)
    if seller is None:
        return qs
    if seller is False:
        return qs.none()
    return qs.filter(**{field: seller})


def statements_for(user):
    return _scoped(Statement.objects.select_related("seller", "market"), user)


def invoices_for(user):
    return _scoped(Invoice.objects.select_related("seller", "market", "credited_invoice"), user)


def receipts_for(user):
    return _scoped(Receipt.objects.select_related("seller", "market"), user)


def applications_for(user):
    return _scoped(
        ReceiptApplication.objects.select_related("receipt", "invoice", "invoice__seller"), user, "invoice__seller"
    )


def deductions_for(user):
    return _scoped(PayoutDeduction.objects.select_related("invoice", "seller"), user)


# --- Statements ----------------------------------------------------------------------------------

# What a statement calls each kind of entry: the seller reads them, in their language.
SOURCE_LABELS = {
    Source.BILLING_RUN: gettext_lazy("Logistics fees"),
    Source.CREDIT_NOTE: gettext_lazy("Credit note"),
    Source.ADJUSTMENT: gettext_lazy("Adjustment invoice"),
    Source.REPLACEMENT: gettext_lazy("Replacement invoice"),
    Source.RECEIPT: gettext_lazy("Payment received"),
    Source.RECEIPT_IDENTIFY: gettext_lazy("Payment received"),
    Source.PAYOUT_DEDUCTION: gettext_lazy("Deducted from payout"),
    Source.WRITE_OFF: gettext_lazy("Written off"),
    Source.SELLER_CHARGE: gettext_lazy("Charge invoiced"),
}
OTHER_SOURCE = gettext_lazy("Adjustment")


def statement_lines(statement: Statement) -> list[dict]:
    """The statement's entries from the ledger: one line per journal entry of the period that
    changed what the seller owes (applications net to zero and drop out), with a running balance
    that starts at the opening balance and ends at the closing balance."""
    rows = (
        Posting.objects.filter(
            market=statement.market_id,
            party_type=PartyType.SELLER,
            party_id=statement.seller_id,
            account__kind__in=STATEMENT_KINDS,
            currency=statement.currency,
            entry_date__gte=statement.period_start,
            entry_date__lte=statement.period_end,
        )
        .values(
            "entry_id",
            "entry__entry_date",
            "entry__source_type",
            "entry__source_id",
            "entry__description",
            "entry__reverses_id",
        )
        .annotate(amount=Sum("amount"))
        .exclude(amount=0)
        .order_by("entry__entry_date", "entry_id")
    )
    running = statement.opening_balance
    lines = []
    for row in rows:
        running += row["amount"]
        # Text in the active language (the reader's): the page, the export and their tests read str.
        label = str(SOURCE_LABELS.get(row["entry__source_type"], OTHER_SOURCE))
        if row["entry__reverses_id"]:
            label = gettext("Reversal: %(entry)s") % {"entry": label}
        lines.append(
            {
                "entry_id": row["entry_id"],
                "date": row["entry__entry_date"],
                "label": label,
                "description": row["entry__description"],
                "source_type": row["entry__source_type"],
                "source_id": row["entry__source_id"],
                "amount": row["amount"],
                "running": running,
            }
        )
    return lines


FEE_ORDER = ("ship_date", "shipment__tracking_number", "generation")
# What the statement page and its export show of a fee line (a charge line has some 40 columns).
FEE_COLUMNS = ("ship_date", "service_level", "kind", "seller_net", "seller_vat", "seller_gross")


def _with_fee_detail(lines):
    return (
        lines.select_related("shipment")
        .only(*FEE_COLUMNS, "shipment__tracking_number")
        .annotate(invoice_number=F("invoice_line__invoice__number"))
    )


def statement_fee_lines(statement: Statement):
    """The shipment detail behind the statement's fees: charge lines of the runs posted in the
    period (their gross adds up to `charges_total`)."""
    lines = ChargeLine.objects.filter(
        seller_id=statement.seller_id,
        market_id=statement.market_id,
        run__status=BillingRun.Status.COMPLETED,
        run__business_date__gte=statement.period_start,
        run__business_date__lte=statement.period_end,
    )
    return _with_fee_detail(lines).order_by(*FEE_ORDER)


# A statement's fee lines in page order, cached by statement_fee_page (array of int64 ids: 8 bytes
# a line, 50 KB for a seller with 6,000 shipments in the period).
FEE_PAGE_SIZE = 50
FEE_IDS_CACHE_SECONDS = 24 * 3600


def _statement_fee_ids(statement: Statement) -> list[int]:
    """The ids of `statement_fee_lines` in their order. Sorting them means reading every fee line
    of the period with its shipment's tracking number (thousands for a busy seller), so the
    sorted ids are cached under the completed runs of the period: a completed run's lines never
    change (corrections are later runs' deltas), so the list changes only when another run of
    the period completes, and then the key changes with it."""
    runs = list(
        BillingRun.objects.filter(
            market_id=statement.market_id,
            status=BillingRun.Status.COMPLETED,
            business_date__gte=statement.period_start,
            business_date__lte=statement.period_end,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not runs:
        return []
    digest = hashlib.sha256(",".join(map(str, runs)).encode()).hexdigest()[:16]
    # The creation time too: a database recreated under a shared cache reuses statement ids.
    # v2: charge-line ids are shipment x 10,000 + generation since billing 0014.
    key = f"receivables:statement-fee-ids:v2:{statement.pk}:{statement.created_at.timestamp()}:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return array("q", cached).tolist()
    lines = ChargeLine.objects.filter(seller_id=statement.seller_id, market_id=statement.market_id, run_id__in=runs)
    ids = list(lines.order_by(*FEE_ORDER).values_list("pk", flat=True))
    cache.set(key, array("q", ids).tobytes(), timeout=FEE_IDS_CACHE_SECONDS)
    return ids


def statement_fee_page(statement: Statement, number) -> Page:
    """Page `number` (1 for a missing or bad one, the last past the end) of the statement's fee
    lines, FEE_PAGE_SIZE a page, in `statement_fee_lines` order with its annotations; the count
    is exact."""
    page = Paginator(_statement_fee_ids(statement), FEE_PAGE_SIZE).get_page(number)
    rows = {line.pk: line for line in _with_fee_detail(ChargeLine.objects.filter(pk__in=list(page.object_list)))}
    page.object_list = [rows[pk] for pk in page.object_list if pk in rows]
    return page


# --- Aging -------------------------------------------------------------------------------------------

BUCKETS = [("current", "Current"), ("d1_30", "1–30"), ("d31_60", "31–60"), ("d61_90", "61–90"), ("d90_plus", "Over 90")]
BUCKET_KEYS = [key for key, _ in BUCKETS]


def bucket_filter(key: str, as_of: date) -> Q:
    """Invoices of an aging bucket by days past due on `as_of`."""
    return {
        "current": Q(due_date__gte=as_of),
        "d1_30": Q(due_date__lt=as_of, due_date__gte=as_of - timedelta(days=30)),
        "d31_60": Q(due_date__lt=as_of - timedelta(days=30), due_date__gte=as_of - timedelta(days=60)),
        "d61_90": Q(due_date__lt=as_of - timedelta(days=60), due_date__gte=as_of - timedelta(days=90)),
        "d90_plus": Q(due_date__lt=as_of - timedelta(days=90)),
    }[key]


def open_invoices(*, user=None, market=None, seller=None):
    qs = invoices_for(user) if user is not None else Invoice.objects.all()
    qs = qs.filter(kind=Invoice.Kind.INVOICE, status__in=Invoice.OPEN_STATUSES)
    if market is not None:
        qs = qs.filter(market=market)
    if seller is not None:
        qs = qs.filter(seller=seller)
    return qs


WORKLIST_LIMIT = 500


def collections_worklist(*, today: date, market: Market | None = None, limit: int = WORKLIST_LIMIT):
    """Sellers with invoices overdue on `today` (of `market`, or all markets), the oldest due date
    first: per seller and currency the overdue open amount, invoice count, oldest due date, highest
    dunning level, the next promise to pay (date and amount) and the text of the latest note.
    One GROUP BY query with two correlated subqueries; at most `limit` rows."""
    overdue = open_invoices(market=market).filter(due_date__lt=today)
    promise = CollectionNote.objects.filter(
        seller_id=OuterRef("seller_id"), kind="promise", promised_date__gte=today
    ).order_by("promised_date")
    last_note = CollectionNote.objects.filter(seller_id=OuterRef("seller_id")).order_by("-created_at")
    rows = (
        overdue.values("seller_id", "seller__code", "seller__name", "currency", "market_id")
        .annotate(
            overdue=Sum("amount_open"),
            invoices=Count("id"),
            oldest_due=Min("due_date"),
            level=Max("dunning_level"),
            promised_date=Subquery(promise.values("promised_date")[:1]),
            promised_amount=Subquery(promise.values("promised_amount")[:1]),
            last_note=Subquery(last_note.values("text")[:1]),
        )
        .order_by("oldest_due", "seller__code")
    )
    return rows[:limit]


def aging(
    *, as_of: date, market: Market | None = None, user=None, reporting_currency: str | None = None, seller=None
) -> dict:
    """Open invoice amounts per market and seller in the five buckets, one GROUP BY query.

    Returns {"rows": [...], "totals": {currency: {bucket: Decimal}}, "reporting": {bucket: Money}};
    each row has the buckets in the invoice currency and `reporting` (converted with the FX rate
    of `as_of`; `fx_missing` when no rate is stored).
    """
    reporting_currency = reporting_currency or settings.REPORTING_CURRENCY
    money = DecimalField(max_digits=20, decimal_places=4)
    annotations = {
        key: Coalesce(
            Sum(
                Case(When(bucket_filter(key, as_of), then="amount_open"), default=Value(Decimal(0)), output_field=money)
            ),
            ZERO,
        )
        for key in BUCKET_KEYS
    }
    rows = list(
        open_invoices(user=user, market=market, seller=seller)
        .values("market_id", "seller_id", "seller__code", "seller__name", "currency")
        .annotate(total=Sum("amount_open"), **annotations)
        .order_by("market_id", "seller__code")
    )
    totals: dict = {}
    reporting = {key: Money.zero(reporting_currency) for key in [*BUCKET_KEYS, "total"]}
    fx_missing = set()
    # The rates are read once per currency, not per row and bucket (ten thousand sellers made
    # 120,000 lookups); each amount is converted with fx_convert's arithmetic: through the
    # reporting currency, rounded once in the target.
    unit_rates: dict = {}
    for currency in {row["currency"] for row in rows}:
        try:
            unit_rates[currency] = (
                fx_rate_on(currency=currency, on=as_of),
                fx_rate_on(currency=reporting_currency, on=as_of),
            )
        except Exception:  # noqa: BLE001 - a missing rate is shown, not fatal
            fx_missing.add(currency)
    for row in rows:
        cur = totals.setdefault(row["currency"], {key: Decimal(0) for key in [*BUCKET_KEYS, "total"]})
        row["reporting"] = {}
        rates = unit_rates.get(row["currency"])
        for key in [*BUCKET_KEYS, "total"]:
            cur[key] += row[key]
            if rates is None:
                converted = None
            elif row["currency"] == reporting_currency:
                converted = Money(row[key], reporting_currency)
            else:
                converted = Money(quantize(row[key] * rates[0] / rates[1], reporting_currency), reporting_currency)
            row["reporting"][key] = converted
            if converted is not None:
                reporting[key] = reporting[key] + converted
    return {
        "rows": rows,
        "totals": totals,
        "reporting": reporting,
        "reporting_currency": reporting_currency,
        "fx_missing": sorted(fx_missing),
        "as_of": as_of,
    }


def _posted_by(end: date) -> Q:
    """A document whose ledger entry is dated on or before `end` and not reversed by then."""
    return Q(entry__entry_date__lte=end) & ~Q(entry__reversed_by__entry_date__lte=end)


def dunning_due(*, on: date | None = None, market: Market | None = None, seller=None) -> list[dict]:
    """The letters the next dunning run would send (dunning.invoices_due_for_dunning, the rule the
    run applies). `on` defaults to each market's business date. Rows carry the invoice, the day,
    days overdue and the next level."""
    result = []
    markets = [market] if market is not None else Market.objects.filter(is_active=True).order_by("code")
    for mkt in markets:
        day = on or mkt.local_date()
        ladder = dunning_ladder(mkt)
        invoices = invoices_due_for_dunning(on=day, market=mkt).select_related("seller").order_by("due_date", "number")
        if seller is not None:
            invoices = invoices.filter(seller=seller)
        for invoice in invoices:
            step = ladder[invoice.dunning_level + 1]
            result.append(
                {
                    "invoice": invoice,
                    "on": day,
                    "days_overdue": (day - invoice.due_date).days,
                    "level": step.level,
                    "level_name": step.name,
                }
            )
    return result


def aging_at(*, market: Market, end: date) -> list[dict]:
    """AR aging as it stood at `end` (a closed period's end), not as it stands today: every
    invoice issued by then, open by its gross less what was credited, applied, written off or
    deducted from payouts as posted by then; buckets by days past due at `end`. One query, as
    the period's AR tie-out counts the same documents."""
    money = DecimalField(max_digits=20, decimal_places=4)
    posted = _posted_by(end)

    def reduced(qs, link: str, amount: str):
        sums = qs.filter(posted, **{link: OuterRef("pk")}).values(link).annotate(s=Sum(amount)).values("s")[:1]
        return Coalesce(Subquery(sums, output_field=money), Value(Decimal(0), output_field=money))

    open_at = (
        F("gross_total")
        - reduced(ReceiptApplication.objects.all(), "invoice", "amount")
        - reduced(Invoice.objects.filter(kind__in=Invoice.REDUCING_KINDS), "credited_invoice", "gross_total")
        # A replaced invoice had nothing settled; its replacement carries what stays open.
        - reduced(Invoice.objects.filter(replaces__isnull=False), "replaces", "replaces__gross_total")
        - reduced(WriteOff.objects.all(), "invoice", "amount")
        - reduced(PayoutDeduction.objects.all(), "invoice", "amount")
    )
    invoices = (
        Invoice.objects.filter(market=market, kind=Invoice.Kind.INVOICE, issue_date__lte=end)
        .annotate(open_at=open_at)
        .filter(open_at__gt=0)
    )
    buckets = {
        key: Coalesce(
            Sum(Case(When(bucket_filter(key, end), then=F("open_at")), default=Value(Decimal(0)), output_field=money)),
            ZERO,
        )
        for key in BUCKET_KEYS
    }
    return list(
        invoices.values("seller_id", "seller__code", "seller__name", "currency")
        .annotate(total=Sum("open_at"), **buckets)
        .order_by("seller__code", "currency")
    )


def aging_chart_svg(reporting: dict, currency: str) -> str:
    """A small server-rendered bar chart of the reporting-currency buckets (no JavaScript)."""
    from django.utils.html import escape

    width, height, left, bar = 560, 200, 10, 90
    values = [reporting[key].amount for key in BUCKET_KEYS]
    top = max([v for v in values if v > 0], default=Decimal(1))
    colours = ["#1e7b46", "#7aa33b", "#d4a017", "#d9822b", "#b42318"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Aging by bucket in {escape(currency)}">'
    ]
    for i, ((key, label), value) in enumerate(zip(BUCKETS, values, strict=True)):
        h = int(Decimal(130) * value / top) if value > 0 else 0
        x = left + i * (bar + 20)
        parts.append(
            f'<rect x="{x}" y="{160 - h}" width="{bar}" height="{h}" fill="{colours[i]}"><title>{escape(label)}: '
            f"{escape(str(reporting[key]))}</title></rect>"
        )
        parts.append(f'<text x="{x + bar / 2}" y="178" text-anchor="middle" font-size="12">{escape(label)}</text>')
        parts.append(
            f'<text x="{x + bar / 2}" y="{max(155 - h, 12)}" text-anchor="middle" font-size="11">'
            f"{escape(f'{value:,.0f}')}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
