"""API plumbing shared by every app: JSON error bodies, idempotency keys, route registration."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError
from .models import FxRate, IdempotencyRecord, JournalEntry, Market, Posting
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
                response = Response(record.response_body, status=record.response_status)
                response["Idempotent-Replayed"] = "true"
                raise _IdempotentReplay(response) from None
        self._idempotency_record = record

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            if response.status_code >= 500:
                record.delete()
            else:
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    status=IdempotencyRecord.Status.DONE,
                    response_status=response.status_code,
                    response_body=getattr(response, "data", None),
                )
            self._idempotency_record = None
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


def register_routes(router) -> None:
    router.register("markets", MarketViewSet, basename="market")
    router.register("fx-rates", FxRateViewSet, basename="fxrate")
    router.register("journal-entries", JournalEntryViewSet, basename="journalentry")
