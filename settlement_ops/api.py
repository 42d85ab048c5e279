"""API plumbing shared by every app: JSON error bodies, idempotency keys, route registration."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import django_filters
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, models, transaction
from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from . import periods
from .errors import DomainError
from .import_jobs import error_report_response, import_job_start, import_kinds, job_errors
from .models import (
    AccountingPeriod,
    FxRate,
    IdempotencyRecord,
    ImportJob,
    JournalEntry,
    Market,
    PeriodWorkbook,
    Posting,
)
from .parties import party_labels
from .period_workbook import period_workbook_response, period_workbook_start
from .permissions import log_refusal
from .selectors import journal_entries, trial_balance_rows
from .services import fx_rate_store
from .source_documents import source_documents

IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"
# A request still "in progress" after this long is taken to have died; its key can be reused.
IDEMPOTENCY_STALE_AFTER = timedelta(minutes=10)


def _error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def exception_handler(exc, context):
    """Every API error is {"error": {"code", "message", ["fields" | "errors"]}}."""
    if isinstance(exc, DomainError):
        return Response({"error": exc.as_dict()}, status=exc.status)
    if isinstance(exc, _IdempotentReplay):
        return exc.response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _error_body("validation_error", "The request has invalid fields.", fields=exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = _error_body(str(code), str(detail))
    return response


class _IdempotentReplay(Exception):
    def __init__(self, response):
        self.response = response


def _request_fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    if request.content_type and request.content_type.startswith("multipart/"):
        for key in sorted(request.POST.keys()):
            digest.update(f"{key}={request.POST.getlist(key)}".encode())
        for key in sorted(request.FILES.keys()):
            upload = request.FILES[key]
            digest.update(key.encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    else:
        digest.update(request_body(request))
    return digest.hexdigest()


def request_body(request) -> bytes:
    """The raw body of a Django request, held to DATA_UPLOAD_MAX_MEMORY_SIZE: a larger one is
    refused with 413 and a sentence, not Django's bare 400 page."""
    try:
        return request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        size = f"{limit / 1024 / 1024:g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KB"
        raise DomainError(
            f"The request body is larger than {size}; split the batch.",
            code="too_large",
            field="body",
            status=413,
        ) from None


class ValuesListMixin:
    """A list endpoint that renders its page from `.values()` rows, not model instances: for
    hundred-row pages of wide rows (a charge line joins five tables) building the instances and
    walking DRF's attribute lookups cost most of the request. Each row is exactly what the
    serializer renders: its readable fields are model columns, `a.b` paths through foreign keys,
    primary-key relations, or names computed by `values_annotations` (name -> expression, e.g. a
    model property in SQL); anything else is refused when the view is first used."""

    values_annotations: dict = {}

    def _values_plan(self, serializer, model) -> list[tuple[str, str, object]]:
        """(name, .values() path, how to render a value) per readable field."""
        plan = []
        for field in serializer.fields.values():
            if field.write_only:
                continue
            if field.field_name in self.values_annotations:
                plan.append((field.field_name, field.field_name, field.to_representation))
            elif isinstance(field, serializers.PrimaryKeyRelatedField) and "." not in field.source:
                # The key itself, as the serializer renders a primary-key relation.
                plan.append((field.field_name, field.source, None))
            elif field.source == "*" or isinstance(
                field, serializers.BaseSerializer | serializers.RelatedField | serializers.SerializerMethodField
            ):
                raise TypeError(f"{type(self).__name__}: {field.field_name} cannot be read from .values() rows")
            else:
                path = field.source.replace(".", "__")
                plan.append((field.field_name, path, _column_render(field, model, path)))
        return plan

    def _cached_plan(self, model) -> list[tuple[str, str, object]]:
        """`_values_plan` of this view's serializer, built once per process: building it means
        building the serializer's fields (deep copies of its declared fields), a millisecond of
        every page otherwise."""
        key = (type(self), self.get_serializer_class(), model)
        plan = _VALUES_PLANS.get(key)
        if plan is None:
            plan = _VALUES_PLANS[key] = self._values_plan(self.get_serializer(), model)
        return plan

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset()).select_related(None)
        plan = self._cached_plan(queryset.model)
        # The page is counted and cut on the keys alone (the bounded count plans no joins), then
        # its rows are read by key with the joins their columns need.
        keys = queryset.only("pk")
        page = self.paginate_queryset(keys)
        keys = [row.pk for row in (page if page is not None else keys)]
        found = queryset.model._base_manager.filter(pk__in=keys).annotate(**self.values_annotations)
        rows = {row[0]: row[1:] for row in found.values_list("pk", *[path for _, path, _ in plan])}
        names = [name for name, _, _ in plan]
        rendered = [(index, render) for index, (_, _, render) in enumerate(plan) if render is not None]
        data = []
        for key in keys:
            row = rows.get(key)
            if row is None:  # deleted between the two reads: left out, not a 500
                continue
            row = list(row)
            for index, render in rendered:
                if row[index] is not None:
                    row[index] = render(row[index])
            data.append(dict(zip(names, row, strict=True)))
        return self.get_paginated_response(data) if page is not None else Response(data)


_VALUES_PLANS: dict = {}


def _model_field(model, path: str):
    """The model field at the end of a `.values()` path ("shipment__cod_amount"), or None."""
    field = None
    for name in path.split("__"):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        model = field.related_model
    return field


def _plain_decimal(value) -> str:
    return f"{value:f}"


def _column_render(field, model, path: str):
    """How a `.values()` row's column is rendered: the serializer field's own to_representation,
    except for a decimal column the field renders at the column's own scale, as a string. A
    NUMERIC(p, s) column always comes back with s places, so DRF's quantize (a context copy and a
    rounding per value) changes nothing there, and it was most of a charge-line page (1,900
    amounts a page)."""
    column = _model_field(model, path)
    if (
        isinstance(field, serializers.DecimalField)
        and isinstance(column, models.DecimalField)
        and field.decimal_places == column.decimal_places
        and getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
        and not field.localize
        and not field.normalize_output
    ):
        return _plain_decimal
    return field.to_representation


class IdempotentMixin:
    """Stripe semantics for POST with an `Idempotency-Key` header.

    The first response (status and body) is stored and replayed on retry; the same key with a
    different request is 422; a retry while the first is still running is 409. Server errors
    release the key so the client can retry.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        key = request.META.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or not key:
            return
        fingerprint = _request_fingerprint(request._request)
        try:
            # Committed before the work starts (autocommit), so a concurrent retry sees it.
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user, key=key[:255], method=request.method, path=request.path, request_hash=fingerprint
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.get(user=request.user, key=key[:255])
            if record.request_hash != fingerprint:
                raise DomainError(
                    "This Idempotency-Key was used with a different request.", code="idempotency_key_reused", status=422
                ) from None
            if record.status == IdempotencyRecord.Status.IN_PROGRESS:
                if timezone.now() - record.created_at < IDEMPOTENCY_STALE_AFTER:
                    raise DomainError(
                        "A request with this Idempotency-Key is still being processed.",
                        code="idempotency_in_progress",
                        status=409,
                    ) from None
                IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now())
            else:
                raise _IdempotentReplay(_replay_response(record)) from None
        self._idempotency_record = record

    def handle_exception(self, exc):
        try:
            return super().handle_exception(exc)
        except Exception:
            # An unhandled error (a 500) never reaches finalize_response: release the key here,
            # or the client's retry would be answered 409 until the record goes stale.
            self._idempotency_release()
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            if response.status_code >= 500:
                self._idempotency_release()
                return response
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
            content = b"" if response.streaming else response.content
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status=IdempotencyRecord.Status.DONE,
                response_status=response.status_code,
                response_body=getattr(response, "data", None),
                response_content=content,
                response_content_type=response.get("Content-Type", ""),
            )
            self._idempotency_record = None
        return response

    def _idempotency_release(self) -> None:
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            self._idempotency_record = None


def _replay_response(record: IdempotencyRecord) -> HttpResponse:
    """The first response again, byte for byte, with its content type."""
    if record.response_content is None:
        # Stored before responses kept their bytes: render the stored data as JSON.
        response = Response(record.response_body, status=record.response_status)
    else:
        response = HttpResponse(
            bytes(record.response_content),
            status=record.response_status,
            content_type=record.response_content_type or None,
        )
    response["Idempotent-Replayed"] = "true"
    return response


# --- Kernel endpoints ------------------------------------------------------------------------------


class MarketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Market
        fields = [
            "code",
            "name",
            "currency",
            "vat_standard_rate",
            "vat_reduced_rate",
            "timezone",
            "language",
            "payment_terms_days",
            "invoice_prefix",
            "gapless_invoice_numbers",
            "statement_cycle",
        ]


class FxRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = FxRate
        fields = ["rate_date", "currency", "rate", "source"]
        read_only_fields = ["source"]
        validators = []  # one rate per day and currency: a second POST replaces it

    def validate_rate(self, value):
        if value <= 0:
            raise serializers.ValidationError("must be greater than zero")
        return value


class PostingSerializer(serializers.ModelSerializer):
    account_code = serializers.CharField(source="account.code")
    account_name = serializers.CharField(source="account.name")
    party = serializers.SerializerMethodField(help_text="The party by code and name (empty without a party)")

    class Meta:
        model = Posting
        fields = ["account_code", "account_name", "currency", "amount", "party_type", "party_id", "party", "memo"]
        extra_kwargs = {"amount": {"help_text": "Debit positive, credit negative, in `currency`"}}

    def get_party(self, posting) -> str:
        return self.context.get("party_labels", {}).get((posting.party_type, posting.party_id), "")


class JournalEntrySerializer(serializers.ModelSerializer):
    postings = PostingSerializer(many=True, read_only=True)
    source = serializers.SerializerMethodField(
        help_text='The source document by its number, e.g. "Seller invoice GB-INV-2026-000123"'
    )

    class Meta:
        model = JournalEntry
        fields = [
            "id",
            "market",
            "entry_date",
            "description",
            "source",
            "source_type",
            "source_id",
            "idempotency_key",
            "reverses",
            "created_at",
            "postings",
        ]

    def get_source(self, entry) -> str:
        documents = self.context.get("source_documents") or source_documents([entry])
        return documents[(entry.source_type, entry.source_id)].label


class JournalEntryFilter(django_filters.FilterSet):
    """Filters by codes, as responses give them."""

    market = django_filters.CharFilter(field_name="market_id", help_text="Market code, e.g. GB")
    source_type = django_filters.CharFilter(help_text="e.g. vendor_invoice, receivables.receipt")
    source_id = django_filters.CharFilter(help_text="The source's id or number as stored on the entry")
    entry_date = django_filters.DateFilter()
    date_from = django_filters.DateFilter(field_name="entry_date", lookup_expr="gte", help_text="Entry date from")
    date_to = django_filters.DateFilter(field_name="entry_date", lookup_expr="lte", help_text="Entry date to")
    account = django_filters.CharFilter(
        method="filter_account", help_text="Account code: entries with a posting on it, e.g. 2100-V12"
    )
    currency = django_filters.CharFilter(method="filter_currency", help_text="Entries with a posting in it")

    class Meta:
        model = JournalEntry
        fields = ["market", "source_type", "source_id", "entry_date"]

    def filter_account(self, queryset, name, value):
        return queryset.filter(pk__in=Posting.objects.filter(account__code=value).values("entry_id"))

    def filter_currency(self, queryset, name, value):
        return queryset.filter(pk__in=Posting.objects.filter(currency=value.upper()).values("entry_id"))


class TrialBalanceQuerySerializer(serializers.Serializer):
    market = serializers.SlugRelatedField(
        slug_field="code", queryset=Market.objects.all(), help_text="Market code, e.g. GB"
    )
    currency = serializers.CharField(required=False, max_length=3, help_text="Only this currency's accounts")
    as_of = serializers.DateField(required=False, help_text="Postings dated on or before this day (default: all)")


class TrialBalanceRowSerializer(serializers.Serializer):
    account_code = serializers.CharField(source="code")
    account_name = serializers.CharField(source="kind_label")
    account_kind = serializers.CharField(source="kind")
    party_type = serializers.CharField(help_text="vendor, seller or empty")
    party_code = serializers.CharField()
    party_name = serializers.CharField()
    currency = serializers.CharField()
    debit = serializers.DecimalField(max_digits=20, decimal_places=4, source="debits")
    credit = serializers.DecimalField(max_digits=20, decimal_places=4, source="credits", help_text="Positive")
    balance = serializers.DecimalField(max_digits=20, decimal_places=4, help_text="Positive, on `side`")
    side = serializers.CharField(help_text='"Dr", "Cr" or empty when the account is settled')


class TrialBalanceTotalSerializer(serializers.Serializer):
    currency = serializers.CharField()
    debit = serializers.DecimalField(max_digits=20, decimal_places=4)
    credit = serializers.DecimalField(max_digits=20, decimal_places=4)


class TrialBalanceSerializer(serializers.Serializer):
    market = serializers.CharField()
    as_of = serializers.DateField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    accounts = TrialBalanceRowSerializer(many=True)
    totals = TrialBalanceTotalSerializer(many=True, help_text="Per currency; debits equal credits")


class MarketViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Market.objects.all()
    serializer_class = MarketSerializer
    required_permissions = {"read": "settlement_ops.view_market"}


class FxRateViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Daily FX rates; POST stores one day's rate (replacing that day's rate if present)."""

    queryset = FxRate.objects.all()
    serializer_class = FxRateSerializer
    filterset_fields = ["currency", "rate_date"]
    required_permissions = {"read": "settlement_ops.view_fxrate", "create": "settlement_ops.add_fxrate"}

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rate = fx_rate_store(actor=request.user, source="api", **serializer.validated_data)
        return Response(FxRateSerializer(rate).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        summary="Journal entries",
        description="Posted entries, newest first, with their postings (debit positive, credit negative), each "
        "party by code and name and the source by its document number. Entries are immutable; a correction "
        "is a reversal entry (`reverses`).",
    ),
    retrieve=extend_schema(summary="One journal entry with its postings"),
)
class JournalEntryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JournalEntrySerializer
    filterset_class = JournalEntryFilter
    required_permissions = {"read": ("settlement_ops.view_journalentry", "settlement_ops.view_posting")}

    def get_queryset(self):
        return journal_entries().prefetch_related("postings__account")

    def get_serializer(self, *args, **kwargs):
        # Parties and sources of the whole page in a few queries, not per row.
        instance = args[0] if args else kwargs.get("instance")
        if instance is not None:
            entries = list(instance) if isinstance(instance, list | tuple) else [instance]
            postings = [p for entry in entries for p in entry.postings.all()]
            kwargs.setdefault("context", self.get_serializer_context()).update(
                party_labels=party_labels((p.party_type, p.party_id) for p in postings),
                source_documents=source_documents(entries),
            )
        return super().get_serializer(*args, **kwargs)


class TrialBalanceViewSet(viewsets.ViewSet):
    required_permissions = {"read": "settlement_ops.view_account"}

    @extend_schema(
        summary="Trial balance of a market",
        description="The figures of the trial balance page: per account (and party), the debits and credits "
        "posted up to `as_of`, and the balance on its side. Derived from postings; each currency's debits "
        "equal its credits.",
        parameters=[TrialBalanceQuerySerializer],
        responses={200: TrialBalanceSerializer},
        examples=[
            OpenApiExample(
                "GB on 2026-10-31",
                response_only=True,
                value={
                    "market": "GB",
                    "as_of": "2026-10-31",
                    "currency": None,
                    "accounts": [
                        {
                            "account_code": "2100-V3",
                            "account_name": "Vendor payable",
                            "account_kind": "vendor_payable",
                            "party_type": "vendor",
                            "party_code": "V-GB-001",
                            "party_name": "Royal Parcel Ltd",
                            "currency": "GBP",
                            "debit": "0.0000",
                            "credit": "1250.0000",
                            "balance": "1250.0000",
                            "side": "Cr",
                        }
                    ],
                    "totals": [{"currency": "GBP", "debit": "1250.0000", "credit": "1250.0000"}],
                },
            )
        ],
    )
    def list(self, request):
        query = TrialBalanceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        market = query.validated_data["market"]
        currency = (query.validated_data.get("currency") or "").upper() or None
        as_of = query.validated_data.get("as_of")
        rows = trial_balance_rows(market=market, as_of=as_of)
        if currency:
            rows = [row for row in rows if row.currency == currency]
        totals = {}
        for row in rows:
            code, _, name = row.party_label.partition(" ")
            row.party_code, row.party_name = code, name
            total = totals.setdefault(row.currency, {"currency": row.currency, "debit": 0, "credit": 0})
            total["debit"] += row.debits
            total["credit"] += row.credits
        body = {"market": market.code, "as_of": as_of, "currency": currency, "accounts": rows}
        body["totals"] = list(totals.values())
        return Response(TrialBalanceSerializer(body).data)


# --- Accounting periods and period workbooks ----------------------------------------------------------


class PeriodWorkbookSerializer(serializers.ModelSerializer):
    period = serializers.CharField(source="period.label", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = PeriodWorkbook
        fields = [
            "id",
            "market",
            "period",
            "status",
            "progress",
            "rows_written",
            "requested_by",
            "requested_at",
            "generated_at",
            "ledger_last_entry_id",
            "previous_sha256",
            "sha256",
            "size",
            "sheets",
            "error",
            "download_url",
        ]

    def get_download_url(self, workbook) -> str | None:
        if workbook.status != PeriodWorkbook.Status.DONE:
            return None
        return f"/api/period-workbooks/{workbook.pk}/download/"


class PeriodWorkbookStartSerializer(serializers.Serializer):
    market = serializers.PrimaryKeyRelatedField(queryset=Market.objects.all())
    month = serializers.DateField(help_text="Any day of the month (YYYY-MM-DD)")


class TieOutSerializer(serializers.Serializer):
    control = serializers.CharField()
    account_kind = serializers.CharField()
    currency = serializers.CharField()
    subledger_label = serializers.CharField()
    subledger = serializers.DecimalField(max_digits=20, decimal_places=4)
    ledger_label = serializers.CharField()
    ledger = serializers.DecimalField(max_digits=20, decimal_places=4)
    passed = serializers.BooleanField()


class AccountingPeriodSerializer(serializers.ModelSerializer):
    period = serializers.CharField(source="label", read_only=True)
    soft_closed_by = serializers.CharField(
        source="soft_closed_by.username", default=None, read_only=True, allow_null=True
    )
    closed_by = serializers.CharField(source="closed_by.username", default=None, read_only=True, allow_null=True)
    reopen_requested_by = serializers.CharField(
        source="reopen_requested_by.username", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = AccountingPeriod
        fields = [
            "id",
            "market",
            "period",
            "month",
            "status",
            "soft_closed_by",
            "soft_closed_at",
            "closed_by",
            "closed_at",
            "reopen_requested_by",
            "reopen_requested_at",
            "reopen_reason",
            "close_checks",
        ]


class PeriodSoftCloseSerializer(serializers.Serializer):
    market = serializers.PrimaryKeyRelatedField(queryset=Market.objects.all())
    month = serializers.DateField(help_text="Any day of the month (YYYY-MM-DD)")


class PeriodReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class AccountingPeriodViewSet(IdempotentMixin, viewsets.ReadOnlyModelViewSet):
    """Accounting periods per market and month: soft-close (preparer), close (a second person,
    after every tie-out passes), reopen (asked with a reason, approved by a second person)."""

    serializer_class = AccountingPeriodSerializer
    filterset_fields = ["market", "status", "month"]
    required_permissions = {
        "read": "settlement_ops.view_accountingperiod",
        "soft_close": "settlement_ops.change_accountingperiod",
        "reopen_request": "settlement_ops.change_accountingperiod",
        "close": "settlement_ops.close_accountingperiod",
        "reopen": "settlement_ops.close_accountingperiod",
    }

    def get_queryset(self):
        return AccountingPeriod.objects.select_related("soft_closed_by", "closed_by", "reopen_requested_by")

    @extend_schema(request=PeriodSoftCloseSerializer, responses=AccountingPeriodSerializer)
    @action(detail=False, methods=["post"], url_path="soft-close")
    def soft_close(self, request):
        data = PeriodSoftCloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        period = periods.period_soft_close(actor=request.user, **data.validated_data)
        return Response(AccountingPeriodSerializer(period).data)

    @extend_schema(request=None, responses=AccountingPeriodSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        period = periods.period_close(actor=request.user, period=self.get_object())
        return Response(AccountingPeriodSerializer(period).data)

    @extend_schema(request=PeriodReasonSerializer, responses=AccountingPeriodSerializer)
    @action(detail=True, methods=["post"], url_path="reopen-request")
    def reopen_request(self, request, pk=None):
        data = PeriodReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        period = periods.period_reopen_request(actor=request.user, period=self.get_object(), **data.validated_data)
        return Response(AccountingPeriodSerializer(period).data)

    @extend_schema(request=None, responses=AccountingPeriodSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        period = periods.period_reopen_approve(actor=request.user, period=self.get_object())
        return Response(AccountingPeriodSerializer(period).data)

    @extend_schema(responses=TieOutSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="tie-out")
    def tie_out(self, request, pk=None):
        period = self.get_object()
        checks = periods.tie_outs(market=period.market, end=period.end)
        return Response(TieOutSerializer([c.as_dict() for c in checks], many=True).data)


class PeriodWorkbookViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Period workbooks: POST starts the job (202), GET polls its status and progress, and
    download/ returns the stored file, byte for byte what was hashed."""

    serializer_class = PeriodWorkbookSerializer
    filterset_fields = ["market", "status"]
    required_permissions = {
        "read": "settlement_ops.view_periodworkbook",
        "create": "settlement_ops.download_periodworkbook",
        "download": "settlement_ops.download_periodworkbook",
    }

    def get_queryset(self):
        return PeriodWorkbook.objects.select_related("period", "requested_by")

    @extend_schema(request=PeriodWorkbookStartSerializer, responses={202: PeriodWorkbookSerializer})
    def create(self, request, *args, **kwargs):
        data = PeriodWorkbookStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workbook = period_workbook_start(actor=request.user, **data.validated_data)
        workbook.refresh_from_db()
        return Response(PeriodWorkbookSerializer(workbook).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiResponse(
                OpenApiTypes.BINARY
            )
        }
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        # get_object answers a non-integer id with 404 (get_object_or_404 would raise a 500).
        return period_workbook_response(workbook=self.get_object())


# --- Background imports ---------------------------------------------------------------------------


class ImportJobSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    progress_percent = serializers.IntegerField(read_only=True, help_text="100 once imported")
    errors = serializers.ListField(
        child=serializers.DictField(), read_only=True, help_text="The first 100 problems: {sheet?, row, field, message}"
    )
    problems_url = serializers.SerializerMethodField(help_text="Every problem as CSV, when the file was refused")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "target",
            "title",
            "filename",
            "sha256",
            "size",
            "status",
            "total_rows",
            "processed_rows",
            "progress_percent",
            "message",
            "error_count",
            "errors",
            "problems_url",
            "result",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_problems_url(self, job) -> str | None:
        if job.status != ImportJob.Status.REFUSED:
            return None
        return f"/api/import-jobs/{job.pk}/problems/"


class ImportJobStartSerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=40, help_text="vendors.rate_card or receivables.bank_statement")
    target = serializers.CharField(
        max_length=64,
        help_text="What the file goes into: a draft contract version's id (rate card), a market code (bank statement)",
    )
    file = serializers.FileField(
        help_text="vendors.rate_card: an .xlsx with the sheets of the rate-card export; receivables.bank_statement: "
        "a CSV value_date,amount,currency,reference,payer_name,bank_reference[,seller_code]"
    )


@extend_schema_view(
    list=extend_schema(
        summary="Background imports",
        description="Uploaded files imported by a background job (rate cards, bank statements): status "
        "(queued, running, done, refused, failed), progress, and for a refused file the first 100 problems "
        "with the total count. Lists only the imports of doors the caller may use.",
    ),
    retrieve=extend_schema(summary="One background import, to poll until it is finished"),
)
class ImportJobViewSet(IdempotentMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ImportJobSerializer
    filterset_fields = ["kind", "target", "status"]
    # Each door has its own permission, checked per kind: get_queryset keeps the jobs of doors the
    # caller may use (another door's job answers 404 like a missing one), create checks the kind's.
    required_permissions = {"read": (), "create": ()}

    @extend_schema(
        summary="Upload a file to import in the background",
        description="Checks the file's size and type at once (400), stores it and queues its import; poll the "
        "job (202) until `status` is done, refused (see `errors` and `problems_url`) or failed. All or nothing.",
        request={"multipart/form-data": ImportJobStartSerializer},
        responses={202: ImportJobSerializer},
    )
    def create(self, request, *args, **kwargs):
        data = ImportJobStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind = data.validated_data["kind"]
        spec = import_kinds().get(kind)
        if spec is None:
            raise DomainError(f"No import of kind {kind!r}.", code="unknown_import", field="kind")
        if not request.user.has_perm(spec.permission):
            log_refusal(request._request, "api")
            raise exceptions.PermissionDenied()
        upload = data.validated_data["file"]
        job = import_job_start(
            actor=request.user,
            kind=kind,
            target=data.validated_data["target"],
            filename=upload.name,
            content=upload.read(),
        )
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    def get_queryset(self):
        user = self.request.user
        kinds = [spec.kind for spec in import_kinds().values() if user.has_perm(spec.permission)]
        return ImportJob.objects.filter(kind__in=kinds).defer("content", "error_report").select_related("requested_by")

    @extend_schema(
        summary="Every problem of a refused file",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="Sheet, Row, Field, Problem")},
    )
    @action(detail=True, methods=["get"])
    def problems(self, request, pk=None):
        job = self.get_object()
        if job.status != ImportJob.Status.REFUSED:
            raise exceptions.NotFound("This import was not refused; it has no problems to list.")
        job = ImportJob.objects.get(pk=job.pk)  # with the report's bytes
        return error_report_response(errors=job_errors(job), name=f"import-{job.pk}-problems", fmt="csv")


def register_routes(router) -> None:
    router.register("periods", AccountingPeriodViewSet, basename="accountingperiod")
    router.register("period-workbooks", PeriodWorkbookViewSet, basename="periodworkbook")
    router.register("markets", MarketViewSet, basename="market")
    router.register("fx-rates", FxRateViewSet, basename="fxrate")
    router.register("journal-entries", JournalEntryViewSet, basename="journalentry")
    router.register("trial-balance", TrialBalanceViewSet, basename="trialbalance")
    router.register("import-jobs", ImportJobViewSet, basename="importjob")
