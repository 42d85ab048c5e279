"""Receivables REST API. Every queryset is scoped to the caller's seller when the caller is a
seller user, so another seller's object answers 404 exactly like a missing one."""

from __future__ import annotations

import decimal
from datetime import date

import django_filters
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from sellers.models import Seller
from settlement_ops.api import IdempotentMixin, ValuesListMixin
from settlement_ops.errors import DomainError
from settlement_ops.models import Market
from settlement_ops.permissions import HasRolePermission, log_refusal
from settlement_ops.roles import is_seller_user
from settlement_ops.schema import ERROR_BODY, AutoSchema

from . import selectors
from .cash import receipt_record
from .documents import invoice_pdf
from .dunning import collection_note_add
from .models import (
    CollectionNote,
    DunningNotice,
    Invoice,
    InvoiceLine,
    PayoutDeduction,
    Receipt,
    ReceiptApplication,
    Statement,
    WriteOff,
)
from .services import payout_deduction_confirm, write_off_approve, write_off_propose, write_off_reject


class StatementSerializer(serializers.ModelSerializer):
    seller_code = serializers.CharField(source="seller.code", read_only=True)
    invoices = serializers.SlugRelatedField(many=True, read_only=True, slug_field="number")

    class Meta:
        model = Statement
        fields = [
            "id",
            "market",
            "seller",
            "seller_code",
            "period_start",
            "period_end",
            "currency",
            "opening_balance",
            "charges_total",
            "credits_total",
            "payments_total",
            "adjustments_total",
            "closing_balance",
            "invoices",
            "created_at",
        ]


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["id", "tracking_number", "ship_date", "service_level", "line_kind", "vat_rate", "net", "vat", "gross"]


class InvoiceSerializer(serializers.ModelSerializer):
    seller_code = serializers.CharField(source="seller.code", read_only=True)
    # The credited invoice's number (null unless a credit note): a path, so the list can read it
    # from .values() rows.
    credited_invoice = serializers.CharField(source="credited_invoice.number", read_only=True, allow_null=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "kind",
            "market",
            "seller",
            "seller_code",
            "issue_date",
            "due_date",
            "period_start",
            "period_end",
            "currency",
            "language",
            "collection",
            "net_total",
            "vat_total",
            "gross_total",
            "amount_open",
            "status",
            "dunning_level",
            "credited_invoice",
            "reason",
        ]


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = InvoiceSerializer.Meta.fields + ["lines"]


class ApplicationSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)

    class Meta:
        model = ReceiptApplication
        fields = ["id", "invoice_number", "amount", "rule", "applied_at", "reversed_at", "reversal_reason"]


class ReceiptSerializer(serializers.ModelSerializer):
    seller_code = serializers.CharField(source="seller.code", read_only=True, default=None, allow_null=True)
    applications = ApplicationSerializer(many=True, read_only=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "market",
            "seller",
            "seller_code",
            "currency",
            "amount",
            "amount_unapplied",
            "value_date",
            "bank_reference",
            "reference",
            "payer_name",
            "source",
            "status",
            "applications",
            "created_at",
        ]


class ReceiptCreateSerializer(serializers.Serializer):
    market = serializers.SlugRelatedField(queryset=Market.objects.all(), slug_field="code")
    amount = serializers.DecimalField(max_digits=20, decimal_places=4)
    currency = serializers.CharField(max_length=3)
    value_date = serializers.DateField()
    bank_reference = serializers.CharField(max_length=100)
    reference = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    payer_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    seller_code = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")


class PayoutDeductionSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    seller_code = serializers.CharField(source="seller.code", read_only=True)

    class Meta:
        model = PayoutDeduction
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "market",
            "seller",
            "seller_code",
            "currency",
            "amount",
            "status",
            "payout_reference",
            "confirmed_at",
        ]


class DeductionConfirmSerializer(serializers.Serializer):
    payout_reference = serializers.CharField(max_length=100)


class StatementViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StatementSerializer
    filterset_fields = ["market", "seller", "period_start", "period_end"]
    required_permissions = {"read": "receivables.view_statement"}

    def get_queryset(self):
        # By seller id within a period, not the pages' seller code: the index serves this order.
        return (
            selectors.statements_for(self.request.user)
            .prefetch_related("invoices")
            .order_by("-period_end", "seller_id")
        )


class InvoiceViewSet(ValuesListMixin, viewsets.ReadOnlyModelViewSet):
    filterset_fields = ["market", "seller", "kind", "status", "collection"]
    required_permissions = {"read": "receivables.view_invoice"}

    def get_queryset(self):
        # The list reads its page as .values() rows (ValuesListMixin): the seller's code and the
        # credited invoice's number come with them.
        return selectors.invoices_for(self.request.user).order_by("-issue_date", "-id")

    def get_serializer_class(self):
        return InvoiceDetailSerializer if self.action == "retrieve" else InvoiceSerializer

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(description="The invoice as PDF")})
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        invoice = self.get_object()
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response


class ReceiptViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Receipts; POST records one receipt (bank line) and matches it automatically. Send an
    Idempotency-Key header: a retried POST replays the first answer."""

    serializer_class = ReceiptSerializer
    filterset_fields = ["market", "seller", "status", "source"]
    required_permissions = {"read": "receivables.view_receipt", "create": "receivables.add_receipt"}

    def get_queryset(self):
        return selectors.receipts_for(self.request.user).prefetch_related("applications__invoice")

    @extend_schema(request=ReceiptCreateSerializer, responses={201: ReceiptSerializer})
    def create(self, request, *args, **kwargs):
        data = ReceiptCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        seller = None
        if values.pop("seller_code"):
            seller = Seller.objects.filter(code=data.validated_data["seller_code"], market=values["market"]).first()
            if seller is None:
                raise DomainError(
                    f"No seller {data.validated_data['seller_code']!r} in {values['market'].code}.", field="seller_code"
                )
        receipt = receipt_record(actor=request.user, seller=seller, source=Receipt.Source.API, **values)
        receipt = self.get_queryset().get(pk=receipt.pk)
        return Response(ReceiptSerializer(receipt).data, status=status.HTTP_201_CREATED)


class PayoutDeductionViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    """Deductions the payout system collects from 'net from payout' sellers. Read the pending
    ones, deduct them from the payout, then POST confirm with the payout's reference."""

    serializer_class = PayoutDeductionSerializer
    filterset_fields = ["market", "seller", "status"]
    required_permissions = {
        "read": "receivables.view_payoutdeduction",
        "confirm": "receivables.confirm_payoutdeduction",
    }

    def get_queryset(self):
        return selectors.deductions_for(self.request.user).order_by("pk")

    @extend_schema(request=DeductionConfirmSerializer, responses={200: PayoutDeductionSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        deduction = self.get_object()  # a non-integer id is a 404, like a missing one
        data = DeductionConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deduction = payout_deduction_confirm(actor=request.user, deduction=deduction, **data.validated_data)
        return Response(PayoutDeductionSerializer(deduction).data)


# --- Staff endpoints: aging, collections, write-offs ------------------------------------------------------


class StaffOnly(BasePermission):
    """Staff endpoints answer a seller user 403 even where a permission the portal gives them (to
    read their own invoices) would match: aging, collections and write-offs are not for sellers."""

    def has_permission(self, request, view) -> bool:
        if is_seller_user(request.user):
            log_refusal(request._request if hasattr(request, "_request") else request, "api")
            return False
        return True


STAFF_PERMISSIONS = [HasRolePermission, StaffOnly]
BUCKET_HELP = "Open amount by days past due: current, 1-30, 31-60, 61-90, over 90, and their total"


def _money_field(**kwargs):
    return serializers.DecimalField(max_digits=20, decimal_places=4, **kwargs)


def _market(code: str | None) -> Market | None:
    if not code:
        return None
    market = Market.objects.filter(pk=code.upper()).first()
    if market is None:
        raise DomainError(f"No market {code!r}.", field="market")
    return market


def _seller(code: str | None, *, field: str = "seller") -> Seller | None:
    if not code:
        return None
    seller = Seller.objects.select_related("market").filter(code=code).first()
    if seller is None:
        raise DomainError(f"No seller {code!r}.", field=field)
    return seller


def _business_day(value):
    # Days far outside the ledger's life would only overflow the bucket arithmetic.
    if not date(2000, 1, 1) <= value <= date(2100, 12, 31):
        raise serializers.ValidationError("Give a day between 2000-01-01 and 2100-12-31.")
    return value


class AgingQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(
        required=False, validators=[_business_day], help_text="Age on this day (default: today)"
    )
    market = serializers.CharField(required=False, max_length=2, help_text="Market code, e.g. GB")
    seller = serializers.CharField(required=False, max_length=30, help_text="Seller code")


class AgingBucketsSerializer(serializers.Serializer):
    current = _money_field(allow_null=True)
    d1_30 = _money_field(allow_null=True)
    d31_60 = _money_field(allow_null=True)
    d61_90 = _money_field(allow_null=True)
    d90_plus = _money_field(allow_null=True)
    total = _money_field(allow_null=True)


class AgingRowSerializer(serializers.Serializer):
    market = serializers.CharField(source="market_id")
    seller_code = serializers.CharField(source="seller__code")
    seller_name = serializers.CharField(source="seller__name")
    currency = serializers.CharField()
    current = _money_field()
    d1_30 = _money_field()
    d31_60 = _money_field()
    d61_90 = _money_field()
    d90_plus = _money_field()
    total = _money_field()
    reporting = AgingBucketsSerializer(help_text="The buckets in the reporting currency; null without an FX rate")


class AgingTotalSerializer(AgingBucketsSerializer):
    currency = serializers.CharField()


class AgingSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    rows = AgingRowSerializer(many=True, help_text="Per market, seller and currency")
    totals = AgingTotalSerializer(many=True, help_text="Per currency")
    reporting_currency = serializers.CharField()
    reporting = AgingBucketsSerializer(help_text="Every row converted at the FX rate of `as_of`")
    fx_missing = serializers.ListField(child=serializers.CharField(), help_text="Currencies without a rate")


def aging_body(report: dict) -> dict:
    """What AgingSerializer(report) renders, built directly: ten thousand sellers' rows through
    DRF's fields (17 a row, decimals quantized by each) took most of a second. AgingSerializer
    stays the schema, and the test of this function compares the two on a real report."""
    context = decimal.getcontext().copy()
    context.prec = 20  # DecimalField(max_digits=20) quantizes in such a context
    places = decimal.Decimal("0.0001")
    keys = [*selectors.BUCKET_KEYS, "total"]

    def text(value) -> str | None:
        if value is None:
            return None
        if not isinstance(value, decimal.Decimal):
            value = decimal.Decimal(str(value).strip())
        return f"{value.quantize(places, context=context):f}"

    def buckets(values: dict | None) -> dict | None:
        if values is None:
            return None
        return {key: text(getattr(values[key], "amount", values[key])) for key in keys}

    return {
        "as_of": report["as_of"].isoformat(),
        "rows": [
            {
                "market": str(row["market_id"]),
                "seller_code": str(row["seller__code"]),
                "seller_name": str(row["seller__name"]),
                "currency": str(row["currency"]),
                **{key: text(row[key]) for key in keys},
                "reporting": buckets(row["reporting"]),
            }
            for row in report["rows"]
        ],
        "totals": [
            {**buckets(amounts), "currency": str(currency)} for currency, amounts in sorted(report["totals"].items())
        ],
        "reporting_currency": str(report["reporting_currency"]),
        "reporting": buckets(report["reporting"]),
        "fx_missing": [str(currency) for currency in report["fx_missing"]],
    }


AGING_EXAMPLE_BUCKETS = {
    "current": "0.0000",
    "d1_30": "7.6100",
    "d31_60": "0.0000",
    "d61_90": "0.0000",
    "d90_plus": "0.0000",
    "total": "7.6100",
}


class OneReportSchema(AutoSchema):
    """A report at a collection URL is one object, not a list of them."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class AgingViewSet(viewsets.GenericViewSet):
    """Accounts-receivable aging: open invoice amounts per seller in five buckets by days past due, per
    currency totals, and the whole converted to the reporting currency (the staff aging page's
    figures). Filter by market code and seller code."""

    serializer_class = AgingSerializer
    schema = OneReportSchema()
    permission_classes = STAFF_PERMISSIONS
    pagination_class = None
    filter_backends = []
    required_permissions = {"read": "receivables.view_invoice"}

    @extend_schema(
        parameters=[AgingQuerySerializer],
        examples=[
            OpenApiExample(
                "One seller a week overdue",
                response_only=True,
                value={
                    "as_of": "2026-12-07",
                    "rows": [
                        {
                            "market": "GB",
                            "seller_code": "S-GB-001",
                            "seller_name": "Acme Gadgets",
                            "currency": "GBP",
                            **AGING_EXAMPLE_BUCKETS,
                            "reporting": {**AGING_EXAMPLE_BUCKETS, "d1_30": "8.7500", "total": "8.7500"},
                        }
                    ],
                    "totals": [{"currency": "GBP", **AGING_EXAMPLE_BUCKETS}],
                    "reporting_currency": "EUR",
                    "reporting": {**AGING_EXAMPLE_BUCKETS, "d1_30": "8.7500", "total": "8.7500"},
                    "fx_missing": [],
                },
            )
        ],
    )
    def list(self, request):
        query = AgingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        report = selectors.aging(
            as_of=data.get("as_of") or timezone.localdate(),
            market=_market(data.get("market")),
            seller=_seller(data.get("seller")),
            user=request.user,
        )
        return Response(aging_body(report))


class DunningNoticeSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    market = serializers.CharField(source="invoice.market_id", read_only=True)
    seller_code = serializers.CharField(source="invoice.seller.code", read_only=True)
    currency = serializers.CharField(source="invoice.currency", read_only=True)

    class Meta:
        model = DunningNotice
        fields = [
            "id",
            "invoice_number",
            "market",
            "seller_code",
            "level",
            "sent_on",
            "language",
            "email_to",
            "subject",
            "body",
            "currency",
            "amount_open",
            "created_at",
        ]


class DunningDueQuerySerializer(serializers.Serializer):
    on = serializers.DateField(
        required=False,
        validators=[_business_day],
        help_text="The run's day (default: each market's business date)",
    )
    market = serializers.CharField(required=False, max_length=2, help_text="Market code")
    seller = serializers.CharField(required=False, max_length=30, help_text="Seller code")


class DunningDueSerializer(serializers.Serializer):
    invoice_number = serializers.CharField(source="invoice.number")
    market = serializers.CharField(source="invoice.market_id")
    seller_code = serializers.CharField(source="invoice.seller.code")
    seller_name = serializers.CharField(source="invoice.seller.name")
    email_to = serializers.CharField(source="invoice.seller.email")
    currency = serializers.CharField(source="invoice.currency")
    amount_open = _money_field(source="invoice.amount_open")
    due_date = serializers.DateField(source="invoice.due_date")
    days_overdue = serializers.IntegerField()
    current_level = serializers.IntegerField(source="invoice.dunning_level", help_text="0: no letter yet")
    level = serializers.IntegerField(help_text="The level of the letter due")
    level_name = serializers.CharField()
    on = serializers.DateField()


class DunningNoticeFilter(django_filters.FilterSet):
    market = django_filters.CharFilter(field_name="invoice__market_id", help_text="Market code")
    seller = django_filters.CharFilter(field_name="invoice__seller__code", help_text="Seller code")
    invoice = django_filters.CharFilter(field_name="invoice__number", help_text="Invoice number")
    sent_from = django_filters.DateFilter(field_name="sent_on", lookup_expr="gte")
    sent_to = django_filters.DateFilter(field_name="sent_on", lookup_expr="lte")

    class Meta:
        model = DunningNotice
        fields = ["market", "seller", "invoice", "level", "sent_from", "sent_to"]


class DunningNoticeViewSet(viewsets.ReadOnlyModelViewSet):
    """Dunning letters as sent (one per invoice and level, in the seller's language), and under `due/`
    the letters the next nightly dunning run would send."""

    serializer_class = DunningNoticeSerializer
    permission_classes = STAFF_PERMISSIONS
    filterset_class = DunningNoticeFilter
    required_permissions = {"read": "receivables.view_dunningnotice"}

    def get_queryset(self):
        return DunningNotice.objects.select_related("invoice__seller").order_by("-sent_on", "-id")

    @extend_schema(
        parameters=[DunningDueQuerySerializer],
        responses=DunningDueSerializer(many=True),
        examples=[
            OpenApiExample(
                "First reminder due",
                response_only=True,
                value={
                    "invoice_number": "GB-INV-2026-000123",
                    "market": "GB",
                    "seller_code": "S-GB-001",
                    "seller_name": "Acme Gadgets",
                    "email_to": "accounts@acme.example",
                    "currency": "GBP",
                    "amount_open": "5.9900",
                    "due_date": "2026-11-30",
                    "days_overdue": 3,
                    "current_level": 0,
                    "level": 1,
                    "level_name": "Friendly reminder",
                    "on": "2026-12-03",
                },
            )
        ],
        description="Open bank-collected invoices that the next dunning run moves up a level: past due, waited "
        "the level's days, not held by a promise to pay. Filter by market and seller code.",
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def due(self, request):
        query = DunningDueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        rows = selectors.dunning_due(
            on=data.get("on"), market=_market(data.get("market")), seller=_seller(data.get("seller"))
        )
        return Response(DunningDueSerializer(rows, many=True).data)


class PromiseSerializer(serializers.ModelSerializer):
    seller_code = serializers.CharField(source="seller.code", read_only=True)
    market = serializers.CharField(source="seller.market_id", read_only=True)
    currency = serializers.CharField(source="seller.market.currency", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", default=None, allow_null=True, read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = CollectionNote
        fields = [
            "id",
            "seller_code",
            "market",
            "invoice_number",
            "currency",
            "promised_amount",
            "promised_date",
            "text",
            "author",
            "created_at",
        ]


class PromiseCreateSerializer(serializers.Serializer):
    seller = serializers.CharField(max_length=30, help_text="Seller code")
    invoice = serializers.CharField(
        max_length=40, required=False, allow_blank=True, default="", help_text="Invoice number (empty: all invoices)"
    )
    promised_amount = _money_field(help_text="In the seller market's currency and its minor units")
    promised_date = serializers.DateField(help_text="Today or later; dunning waits until then")
    text = serializers.CharField(max_length=2000, help_text="What was agreed, with whom")


class PromiseFilter(django_filters.FilterSet):
    market = django_filters.CharFilter(field_name="seller__market_id", help_text="Market code")
    seller = django_filters.CharFilter(field_name="seller__code", help_text="Seller code")
    invoice = django_filters.CharFilter(field_name="invoice__number", help_text="Invoice number")
    active = django_filters.BooleanFilter(method="filter_active", help_text="Promised date today or later")

    class Meta:
        model = CollectionNote
        fields = ["market", "seller", "invoice", "active"]

    def filter_active(self, queryset, name, value):
        today = timezone.localdate()
        return queryset.filter(promised_date__gte=today) if value else queryset.filter(promised_date__lt=today)


class PromiseToPayViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Promises to pay taken by collectors: an amount by a date, for one invoice or the seller as a whole.
    An active promise holds dunning until its date. POST records one (send an Idempotency-Key)."""

    serializer_class = PromiseSerializer
    permission_classes = STAFF_PERMISSIONS
    filterset_class = PromiseFilter
    required_permissions = {"read": "receivables.view_collectionnote", "create": "receivables.manage_collections"}

    def get_queryset(self):
        return (
            CollectionNote.objects.filter(kind=CollectionNote.Kind.PROMISE)
            .select_related("seller__market", "invoice", "author")
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        request=PromiseCreateSerializer,
        responses={201: PromiseSerializer},
        examples=[
            OpenApiExample(
                "Pays the October invoice by the 20th",
                request_only=True,
                value={
                    "seller": "S-GB-001",
                    "invoice": "GB-2026-000123",
                    "promised_amount": "7.61",
                    "promised_date": "2026-12-20",
                    "text": "Spoke to the finance lead; payment run on the 19th.",
                },
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        body = PromiseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        seller = _seller(data["seller"])
        invoice = None
        if data["invoice"]:
            invoice = Invoice.objects.filter(number=data["invoice"], seller=seller).first()
            if invoice is None:
                raise DomainError(f"{data['invoice']} is not an invoice of {seller.code}.", field="invoice")
        note = collection_note_add(
            actor=request.user,
            seller=seller,
            kind=CollectionNote.Kind.PROMISE,
            invoice=invoice,
            promised_amount=data["promised_amount"],
            promised_date=data["promised_date"],
            text=data["text"],
        )
        return Response(PromiseSerializer(self.get_queryset().get(pk=note.pk)).data, status=status.HTTP_201_CREATED)


class WriteOffSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    market = serializers.CharField(source="invoice.market_id", read_only=True)
    seller_code = serializers.CharField(source="invoice.seller.code", read_only=True)
    proposed_by = serializers.CharField(source="proposed_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True, read_only=True)
    entry = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True, help_text="Journal entry when posted")

    class Meta:
        model = WriteOff
        fields = [
            "id",
            "invoice_number",
            "market",
            "seller_code",
            "currency",
            "amount",
            "reason",
            "status",
            "proposed_by",
            "proposed_at",
            "decided_by",
            "decided_at",
            "decision_note",
            "entry",
        ]


class WriteOffProposeSerializer(serializers.Serializer):
    invoice = serializers.CharField(max_length=40, help_text="Invoice number")
    amount = _money_field(required=False, allow_null=True, help_text="Default: the invoice's whole open amount")
    reason = serializers.CharField(max_length=255, help_text="Why the balance is uncollectable")


class WriteOffDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class WriteOffFilter(django_filters.FilterSet):
    market = django_filters.CharFilter(field_name="invoice__market_id", help_text="Market code")
    seller = django_filters.CharFilter(field_name="invoice__seller__code", help_text="Seller code")
    invoice = django_filters.CharFilter(field_name="invoice__number", help_text="Invoice number")
    status = django_filters.ChoiceFilter(choices=WriteOff.Status.choices)

    class Meta:
        model = WriteOff
        fields = ["market", "seller", "invoice", "status"]


FOUR_EYES = {
    403: OpenApiResponse(
        ERROR_BODY,
        description="Four eyes: the proposer cannot approve or reject their own write-off "
        "(`error.code` four_eyes), or the amount is above the approver's limit (over_limit, no_limit).",
    ),
    409: OpenApiResponse(
        ERROR_BODY,
        description="The write-off was already approved or rejected, or the Idempotency-Key is still running.",
    ),
}


class WriteOffViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Write-offs of uncollectable invoice balances with four eyes: POST proposes one (nothing is
    posted), a different user approves it within their approval limit (posting bad-debt expense
    against the seller's receivable) or rejects it. Every POST takes an Idempotency-Key."""

    serializer_class = WriteOffSerializer
    permission_classes = STAFF_PERMISSIONS
    filterset_class = WriteOffFilter
    required_permissions = {
        "read": "receivables.view_writeoff",
        "create": "receivables.add_writeoff",
        "approve": "receivables.approve_writeoff",
        "reject": "receivables.approve_writeoff",
    }

    def get_queryset(self):
        return WriteOff.objects.select_related("invoice__seller", "proposed_by", "decided_by").order_by(
            "-proposed_at", "-id"
        )

    def _fresh(self, write_off: WriteOff) -> dict:
        return WriteOffSerializer(self.get_queryset().get(pk=write_off.pk)).data

    @extend_schema(
        request=WriteOffProposeSerializer,
        responses={201: WriteOffSerializer},
        examples=[
            OpenApiExample(
                "Seller insolvent",
                request_only=True,
                value={"invoice": "GB-2026-000123", "amount": "7.61", "reason": "Seller insolvent, no dividend"},
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        body = WriteOffProposeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        invoice = Invoice.objects.filter(number=data["invoice"], kind=Invoice.Kind.INVOICE).first()
        if invoice is None:
            raise DomainError(f"No invoice {data['invoice']!r}.", field="invoice")
        write_off = write_off_propose(
            actor=request.user, invoice=invoice, reason=data["reason"], amount=data.get("amount")
        )
        return Response(self._fresh(write_off), status=status.HTTP_201_CREATED)

    @extend_schema(request=WriteOffDecisionSerializer, responses={200: WriteOffSerializer, **FOUR_EYES})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        body = WriteOffDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        write_off = write_off_approve(actor=request.user, write_off=self.get_object(), **body.validated_data)
        return Response(self._fresh(write_off))

    @extend_schema(request=WriteOffDecisionSerializer, responses={200: WriteOffSerializer, **FOUR_EYES})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        body = WriteOffDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        write_off = write_off_reject(actor=request.user, write_off=self.get_object(), **body.validated_data)
        return Response(self._fresh(write_off))


def register_routes(router) -> None:
    router.register("receivables/statements", StatementViewSet, basename="ar-statement")
    router.register("receivables/invoices", InvoiceViewSet, basename="ar-invoice")
    router.register("receivables/receipts", ReceiptViewSet, basename="ar-receipt")
    router.register("receivables/payout-deductions", PayoutDeductionViewSet, basename="ar-payout-deduction")
    router.register("receivables/aging", AgingViewSet, basename="ar-aging")
    router.register("receivables/dunning-notices", DunningNoticeViewSet, basename="ar-dunning-notice")
    router.register("receivables/promises-to-pay", PromiseToPayViewSet, basename="ar-promise")
    router.register("receivables/write-offs", WriteOffViewSet, basename="ar-write-off")
