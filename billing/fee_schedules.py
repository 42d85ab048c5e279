"""Seller fee schedule use cases, four eyes like contract versions: draft a schedule with its
weight brackets, then another person approves it (rating uses it from then on) or rejects it.

An approved schedule is in force from `valid_from` until its `valid_to` or until the next
approved schedule of the market and service starts, whichever is first: `billing.pricing` rule 1
and the rating SQL pick it that way. Locks: the schedules of one market and service, in id order,
so two approvals of the same market and service run one after the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import ApprovalLimit, AuditEvent, Market
from settlement_ops.services import approval_check, audit_record

from .models import SellerFeeLine, SellerFeeSchedule

# The columns of one weight bracket, in the order a tuple line gives them.
FEE_LINE_FIELDS = (
    "weight_from_kg",
    "weight_to_kg",
    "base_fee",
    "fee_per_additional_step",
    "additional_step_kg",
    "minimum_fee",
)
_LINE_DEFAULTS = {
    "fee_per_additional_step": Decimal("0"),
    "additional_step_kg": Decimal("1"),
    "minimum_fee": Decimal("0"),
}
MAX_FEE_LINES = 200


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, (bool, float)):
        raise ValueError('is not a decimal number (send it as a string, e.g. "4.99")')
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return result


def fee_lines_clean(lines) -> list[dict]:
    """The brackets as dicts of Decimals, or DomainError(code="bad_rows") whose `errors` name each
    problem as {"row" (1-based), "field", "message"}. A line is a mapping of FEE_LINE_FIELDS or a
    tuple in that order; brackets are (from, to] and must not overlap."""
    errors, clean = [], []
    lines = list(lines or [])
    if not lines:
        raise DomainError("Add at least one weight bracket.", code="no_lines", field="lines")
    if len(lines) > MAX_FEE_LINES:
        raise DomainError(f"A schedule has at most {MAX_FEE_LINES} weight brackets.", code="too_many", field="lines")
    for row, line in enumerate(lines, start=1):
        raw = dict(line) if isinstance(line, Mapping) else dict(zip(FEE_LINE_FIELDS, line, strict=False))
        values = {}
        for field in FEE_LINE_FIELDS:
            try:
                value = _decimal(raw.get(field))
            except ValueError as exc:
                errors.append({"row": row, "field": field, "message": str(exc)})
                continue
            if value is None:
                value = _LINE_DEFAULTS.get(field)
            if value is None:
                errors.append({"row": row, "field": field, "message": "is required"})
            elif value < 0:
                errors.append({"row": row, "field": field, "message": "cannot be negative"})
            elif value.as_tuple().exponent < -4 or abs(value) >= Decimal("1e12"):
                errors.append({"row": row, "field": field, "message": "has more than 4 decimals or is too large"})
            else:
                values[field] = value
        if len(values) == len(FEE_LINE_FIELDS):
            if values["weight_to_kg"] <= values["weight_from_kg"]:
                errors.append({"row": row, "field": "weight_to_kg", "message": "must be greater than weight_from_kg"})
            elif values["additional_step_kg"] <= 0:
                errors.append({"row": row, "field": "additional_step_kg", "message": "must be greater than zero"})
            else:
                clean.append({**values, "_row": row})
    ordered = sorted(clean, key=lambda line: line["weight_from_kg"])
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after["weight_from_kg"] < before["weight_to_kg"]:
            errors.append(
                {
                    "row": after["_row"],
                    "field": "weight_from_kg",
                    "message": f"bracket ({after['weight_from_kg']}, {after['weight_to_kg']}] overlaps row "
                    f"{before['_row']} ({before['weight_from_kg']}, {before['weight_to_kg']}]",
                }
            )
    if errors:
        errors.sort(key=lambda error: error["row"])
        raise DomainError(
            f"{len(errors)} problem(s) in the weight brackets; nothing was saved.", code="bad_rows", errors=errors
        )
    return [{field: line[field] for field in FEE_LINE_FIELDS} for line in ordered]


def _check_terms(*, valid_from, valid_to, volumetric_divisor, cod_fee_percent, cod_fee_minimum, returns_fee) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise DomainError("Valid to must be on or after valid from.", code="invalid_dates", field="valid_to")
    if not volumetric_divisor or volumetric_divisor <= 0:
        raise DomainError(
            "Volumetric divisor must be a positive whole number.", code="invalid", field="volumetric_divisor"
        )
    for field, value in (
        ("cod_fee_percent", cod_fee_percent),
        ("cod_fee_minimum", cod_fee_minimum),
        ("returns_fee", returns_fee),
    ):
        if value < 0:
            raise DomainError(f"{field.replace('_', ' ').capitalize()} cannot be negative.", field=field)
    if cod_fee_percent > 100:
        raise DomainError("The COD fee is a percentage of at most 100.", field="cod_fee_percent")


def _approved_same_start(*, market_id: str, service_level: str, valid_from: date, exclude_pk=None):
    return (
        SellerFeeSchedule.objects.filter(
            market_id=market_id,
            service_level=service_level,
            valid_from=valid_from,
            status=SellerFeeSchedule.Status.APPROVED,
        )
        .exclude(pk=exclude_pk)
        .first()
    )


@transaction.atomic(durable=True)
def seller_fee_schedule_create(
    *,
    actor,
    market: Market,
    service_level: str,
    name: str,
    valid_from: date,
    lines,
    valid_to: date | None = None,
    volumetric_divisor: int = 5000,
    cod_fee_percent: Decimal = Decimal("0"),
    cod_fee_minimum: Decimal = Decimal("0"),
    returns_fee: Decimal = Decimal("0"),
) -> SellerFeeSchedule:
    """Draft a seller fee schedule for a market and service with its weight brackets. It rates
    nothing until another user approves it (`seller_fee_schedule_approve`).

    `lines`: brackets (from, to] as mappings of FEE_LINE_FIELDS or tuples in that order; they must
    not overlap. Currency and VAT rate are the market's. Raises DomainError naming the field, or
    code "bad_rows" with an `errors` entry (row, field, message) per bad bracket.
    """
    service_level = (service_level or "").strip()
    name = (name or "").strip()
    if not service_level:
        raise DomainError("Service level is required.", code="required", field="service_level")
    if not name:
        raise DomainError("Name is required.", code="required", field="name")
    if not market.is_active:
        raise DomainError(f"Market {market.code} is not active.", field="market")
    _check_terms(
        valid_from=valid_from,
        valid_to=valid_to,
        volumetric_divisor=volumetric_divisor,
        cod_fee_percent=cod_fee_percent,
        cod_fee_minimum=cod_fee_minimum,
        returns_fee=returns_fee,
    )
    brackets = fee_lines_clean(lines)
    clash = _approved_same_start(market_id=market.code, service_level=service_level, valid_from=valid_from)
    if clash is not None:
        raise DomainError(
            f"Approved schedule {clash.pk} of {market.code} {service_level} already starts on {valid_from}; "
            "start the new one on another day.",
            code="overlap",
            field="valid_from",
        )
    schedule = SellerFeeSchedule.objects.create(
        market=market,
        service_level=service_level,
        name=name,
        currency=market.currency,
        valid_from=valid_from,
        valid_to=valid_to,
        volumetric_divisor=volumetric_divisor,
        vat_rate=market.vat_standard_rate,
        cod_fee_percent=cod_fee_percent,
        cod_fee_minimum=cod_fee_minimum,
        returns_fee=returns_fee,
        status=SellerFeeSchedule.Status.DRAFT,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    SellerFeeLine.objects.bulk_create(SellerFeeLine(schedule=schedule, **line) for line in brackets)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="seller_fee_schedule_create",
        obj=schedule,
        detail={"market": market.code, "service_level": service_level, "lines": len(brackets)},
    )
    return schedule


def _lock_schedule(schedule_id: int) -> SellerFeeSchedule:
    """Lock every schedule of the market and service (id order), then return this one locked."""
    market_id, service_level = SellerFeeSchedule.objects.values_list("market_id", "service_level").get(pk=schedule_id)
    list(
        SellerFeeSchedule.objects.filter(market_id=market_id, service_level=service_level)
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True)
    )
    return SellerFeeSchedule.objects.select_related("market", "created_by").get(pk=schedule_id)


def _draft_only(schedule: SellerFeeSchedule, verb: str) -> None:
    if not schedule.is_editable:
        raise ConflictError(
            f"Only a draft schedule can be {verb}; this one is {schedule.get_status_display().lower()}.",
            code="bad_status",
        )


@transaction.atomic(durable=True)
def seller_fee_schedule_approve(*, actor, schedule: SellerFeeSchedule) -> SellerFeeSchedule:
    """Approve a draft: from then on rating uses it for ship dates it is in force on. Four eyes:
    the person who drafted it cannot approve it. Refused when another approved schedule of the
    market and service starts the same day, or when the market's currency changed."""
    schedule = _lock_schedule(schedule.pk)
    _draft_only(schedule, "approved")
    approval_check(actor=actor, action=ApprovalLimit.Action.CONTRACT, prepared_by=schedule.created_by)
    if schedule.currency != schedule.market.currency:
        raise ConflictError(
            f"The schedule is in {schedule.currency} but {schedule.market_id} bills in {schedule.market.currency}.",
            code="currency_mismatch",
        )
    if not schedule.lines.exists():
        raise DomainError("The schedule has no weight brackets.", code="no_lines")
    clash = _approved_same_start(
        market_id=schedule.market_id,
        service_level=schedule.service_level,
        valid_from=schedule.valid_from,
        exclude_pk=schedule.pk,
    )
    if clash is not None:
        raise ConflictError(
            f"Approved schedule {clash.pk} already starts on {schedule.valid_from}.", code="schedule_clash"
        )
    superseded = list(
        SellerFeeSchedule.objects.filter(
            market_id=schedule.market_id,
            service_level=schedule.service_level,
            status=SellerFeeSchedule.Status.APPROVED,
            valid_from__lt=schedule.valid_from,
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=schedule.valid_from))
        .values_list("pk", flat=True)
    )
    schedule.status, schedule.approved_by, schedule.approved_at = (
        SellerFeeSchedule.Status.APPROVED,
        actor,
        timezone.now(),
    )
    try:
        with transaction.atomic():
            schedule.save(update_fields=["status", "approved_by", "approved_at"])
    except IntegrityError:
        raise ConflictError(
            f"Another approved schedule already starts on {schedule.valid_from}.", code="schedule_clash"
        ) from None
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="seller_fee_schedule_approve",
        obj=schedule,
        detail={
            "market": schedule.market_id,
            "service_level": schedule.service_level,
            "valid_from": schedule.valid_from.isoformat(),
            "created_by": getattr(schedule.created_by, "username", ""),
            # Earlier schedules this one takes over from on its valid_from.
            "supersedes": superseded,
        },
    )
    return schedule


@transaction.atomic(durable=True)
def seller_fee_schedule_reject(*, actor, schedule: SellerFeeSchedule, reason: str) -> SellerFeeSchedule:
    """Reject a draft with a reason (not by the person who drafted it); it never rates."""
    schedule = _lock_schedule(schedule.pk)
    _draft_only(schedule, "rejected")
    approval_check(actor=actor, action=ApprovalLimit.Action.CONTRACT, prepared_by=schedule.created_by)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Give a reason for the rejection.", code="required", field="reason")
    schedule.status, schedule.rejected_by, schedule.rejected_at, schedule.rejection_reason = (
        SellerFeeSchedule.Status.REJECTED,
        actor,
        timezone.now(),
        reason[:255],
    )
    schedule.save(update_fields=["status", "rejected_by", "rejected_at", "rejection_reason"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="seller_fee_schedule_reject",
        obj=schedule,
        detail={"reason": reason},
    )
    return schedule
