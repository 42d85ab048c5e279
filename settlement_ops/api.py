"""API plumbing shared by every app: JSON error bodies, idempotency keys, route registration."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from . import periods
from .errors import DomainError
from .models import AccountingPeriod, FxRate, IdempotencyRecord, JournalEntry, Market, PeriodWorkbook, Posting
from .period_workbook import period_workbook_response, period_workbook_start
from .selectors import journal_entries
from .services import fx_rate_store

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
        digest.update(request.body)
    return digest.hexdigest()


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

    class Meta:
        model = Posting
        fields = ["account_code", "account_name", "currency", "amount", "party_type", "party_id", "memo"]


class JournalEntrySerializer(serializers.ModelSerializer):
    postings = PostingSerializer(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields = [
            "id",
            "market",
            "entry_date",
            "description",
            "source_type",
            "source_id",
            "idempotency_key",
            "reverses",
            "created_at",
            "postings",
        ]


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


class JournalEntryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JournalEntrySerializer
    filterset_fields = ["market", "source_type", "source_id", "entry_date"]
    required_permissions = {"read": "settlement_ops.view_journalentry"}

    def get_queryset(self):
        return journal_entries().prefetch_related("postings__account")


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


def register_routes(router) -> None:
    router.register("periods", AccountingPeriodViewSet, basename="accountingperiod")
    router.register("period-workbooks", PeriodWorkbookViewSet, basename="periodworkbook")
    router.register("markets", MarketViewSet, basename="market")
    router.register("fx-rates", FxRateViewSet, basename="fxrate")
    router.register("journal-entries", JournalEntryViewSet, basename="journalentry")
