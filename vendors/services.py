"""Vendor use cases: master data, bank-detail changes (maker-checker), the contract lifecycle,
contract versions (amendments), rate-card import and the nightly expiry.

Every entry point is one durable transaction. Locks: the vendor row first (it serialises
everything that must not overlap for that vendor), then the contract, then the version.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import tablib
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import ngettext

from settlement_ops import uploads
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import ApprovalLimit, AuditEvent, Market
from settlement_ops.services import approval_check, audit_record

from .models import Contract, ContractVersion, RateLine, Surcharge, Vendor, VendorBankAccount, VendorBankChangeRequest
from .resources import (
    RATE_CARD_LIMITS,
    RATE_LINES_SHEET,
    SHEETS,
    SURCHARGES_SHEET,
    import_rate_card,
    read_rate_card_workbook,
)
from .validators import validate_account_holder, validate_bank_details, validate_vat_number

VENDOR_FIELDS = (
    "legal_name",
    "vendor_type",
    "vat_number",
    "contact_name",
    "contact_email",
    "contact_phone",
    "payment_terms_days",
    "status",
)


# --- Locks (fixed order: vendor, contract, version) -----------------------------------------------


def _lock_vendor(vendor_id: int) -> Vendor:
    return Vendor.objects.select_for_update().get(pk=vendor_id)


def _lock_contract(contract_id: int) -> Contract:
    contract = Contract.objects.select_related("vendor", "market").get(pk=contract_id)
    _lock_vendor(contract.vendor_id)
    return Contract.objects.select_for_update(of=("self",)).select_related("vendor", "market").get(pk=contract_id)


def _lock_version(version_id: int) -> ContractVersion:
    version = ContractVersion.objects.get(pk=version_id)
    contract = _lock_contract(version.contract_id)
    version = ContractVersion.objects.select_for_update().get(pk=version_id)
    version.contract = contract
    return version


# --- Vendors --------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def vendor_create(
    *,
    actor,
    market: Market,
    code: str,
    legal_name: str,
    vendor_type: str,
    vat_number: str = "",
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
    payment_terms_days: int | None = None,
) -> Vendor:
    """Create a vendor; the tax number is checked for the market. Raises DomainError."""
    if Vendor.objects.filter(code=code).exists():
        raise DomainError(f"Vendor code {code} is already used.", code="duplicate_code", field="code")
    if vendor_type not in Vendor.Type.values:
        raise DomainError(f"Unknown vendor type {vendor_type!r}.", code="invalid", field="vendor_type")
    vendor = Vendor.objects.create(
        market=market,
        code=code,
        legal_name=legal_name,
        vendor_type=vendor_type,
        vat_number=validate_vat_number(market_code=market.code, value=vat_number),
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
        payment_terms_days=market.payment_terms_days if payment_terms_days is None else payment_terms_days,
    )
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="vendor_create", obj=vendor)
    return vendor


@transaction.atomic(durable=True)
def vendor_update(*, actor, vendor: Vendor, **fields) -> Vendor:
    """Change master data (not bank details: those go through a change request)."""
    unknown = set(fields) - set(VENDOR_FIELDS)
    if unknown:
        raise DomainError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.", code="invalid")
    vendor = _lock_vendor(vendor.pk)
    if "vat_number" in fields:
        fields["vat_number"] = validate_vat_number(market_code=vendor.market_id, value=fields["vat_number"])
    if "status" in fields and fields["status"] not in Vendor.Status.values:
        raise DomainError(f"Unknown status {fields['status']!r}.", code="invalid", field="status")
    for name, value in fields.items():
        setattr(vendor, name, value)
    vendor.save()
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="vendor_update", obj=vendor, detail={"fields": sorted(fields)}
    )
    return vendor


# --- Bank details (maker-checker) -----------------------------------------------------------------


@transaction.atomic(durable=True)
def vendor_bank_change_request(
    *,
    actor,
    vendor: Vendor,
    account_holder: str,
    currency: str,
    iban: str = "",
    bic: str = "",
    account_number: str = "",
    bank_code: str = "",
    bank_name: str = "",
    reason: str = "",
) -> VendorBankChangeRequest:
    """Ask for new bank details; they take effect only when another user approves.

    Raises DomainError for invalid details, a currency other than the market's, or when a
    request for the vendor is already pending.
    """
    vendor = _lock_vendor(vendor.pk)
    account_holder = validate_account_holder(market_code=vendor.market_id, value=account_holder)
    if currency != vendor.market.currency:
        raise DomainError(
            f"Vendors in {vendor.market_id} are paid in {vendor.market.currency}, not {currency}.",
            code="wrong_currency",
            field="currency",
        )
    details = validate_bank_details(
        market_code=vendor.market_id, iban=iban, bic=bic, account_number=account_number, bank_code=bank_code
    )
    if vendor.bank_change_requests.filter(status=VendorBankChangeRequest.Status.PENDING).exists():
        raise ConflictError(
            "A bank detail change for this vendor is already waiting for approval.", code="pending_exists"
        )
    request = VendorBankChangeRequest.objects.create(
        vendor=vendor,
        account_holder=account_holder,
        currency=currency,
        bank_name=bank_name,
        reason=reason,
        requested_by=actor,
        **details,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="vendor_bank_change_request",
        obj=request,
        detail={"vendor": vendor.code, "account": request.display_number},
    )
    return request


def _lock_change_request(request_id: int) -> VendorBankChangeRequest:
    request = VendorBankChangeRequest.objects.get(pk=request_id)
    _lock_vendor(request.vendor_id)
    request = (
        VendorBankChangeRequest.objects.select_for_update(of=("self",)).select_related("vendor").get(pk=request_id)
    )
    if not request.is_pending:
        raise ConflictError(
            f"This change request is already {request.get_status_display().lower()}.", code="not_pending"
        )
    return request


@transaction.atomic(durable=True)
def vendor_bank_change_approve(*, actor, change_request: VendorBankChangeRequest) -> VendorBankAccount:
    """Approve new bank details: the old account is retired, the new one becomes active, and the
    vendor's bank_details_changed_at is set. Four eyes: the requester cannot approve."""
    request = _lock_change_request(change_request.pk)
    approval_check(actor=actor, action=ApprovalLimit.Action.BANK_ACCOUNT, prepared_by=request.requested_by)
    now = timezone.now()
    previous = list(request.vendor.bank_accounts.filter(status=VendorBankAccount.Status.ACTIVE))
    for account in previous:
        account.status, account.retired_at = VendorBankAccount.Status.RETIRED, now
        account.save(update_fields=["status", "retired_at"])
    account = VendorBankAccount.objects.create(
        vendor=request.vendor,
        account_holder=request.account_holder,
        iban=request.iban,
        bic=request.bic,
        account_number=request.account_number,
        bank_code=request.bank_code,
        bank_name=request.bank_name,
        currency=request.currency,
    )
    request.status, request.decided_by, request.decided_at, request.resulting_account = (
        VendorBankChangeRequest.Status.APPROVED,
        actor,
        now,
        account,
    )
    request.save(update_fields=["status", "decided_by", "decided_at", "resulting_account"])
    vendor = request.vendor
    vendor.bank_details_changed_at = now
    vendor.save(update_fields=["bank_details_changed_at"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="vendor_bank_change_approve",
        obj=request,
        detail={
            "vendor": vendor.code,
            "new": account.display_number,
            "old": [a.display_number for a in previous],
            "requested_by": request.requested_by.username,
        },
    )
    return account


@transaction.atomic(durable=True)
def vendor_bank_change_reject(*, actor, change_request: VendorBankChangeRequest, note: str) -> VendorBankChangeRequest:
    """Reject a pending change (by someone other than the requester); a reason is required."""
    request = _lock_change_request(change_request.pk)
    approval_check(actor=actor, action=ApprovalLimit.Action.BANK_ACCOUNT, prepared_by=request.requested_by)
    if not note.strip():
        raise DomainError("Give a reason for the rejection.", code="required", field="note")
    request.status, request.decided_by, request.decided_at, request.decision_note = (
        VendorBankChangeRequest.Status.REJECTED,
        actor,
        timezone.now(),
        note.strip(),
    )
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="vendor_bank_change_reject",
        obj=request,
        detail={"note": note},
    )
    return request


# --- Contracts ------------------------------------------------------------------------------------


def _check_validity(valid_from: date, valid_to: date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise DomainError("Valid to must be on or after valid from.", code="invalid_dates", field="valid_to")


def _overlapping(contract: Contract, valid_from: date, valid_to: date | None):
    """Effective contracts of the same vendor, market and service overlapping [valid_from, valid_to]."""
    qs = (
        Contract.objects.filter(
            vendor_id=contract.vendor_id,
            market_id=contract.market_id,
            service_level=contract.service_level,
            status__in=Contract.EFFECTIVE_STATUSES,
        )
        .exclude(pk=contract.pk)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=valid_from))
    )
    if valid_to is not None:
        qs = qs.filter(valid_from__lte=valid_to)
    return qs


def _next_reference(vendor: Vendor, service_level: str) -> str:
    count = Contract.objects.filter(vendor=vendor).count() + 1
    reference = f"C-{vendor.code}-{service_level.upper()[:10]}-{count:03d}"
    while Contract.objects.filter(reference=reference).exists():
        count += 1
        reference = f"C-{vendor.code}-{service_level.upper()[:10]}-{count:03d}"
    return reference


@transaction.atomic(durable=True)
def contract_create(
    *,
    actor,
    vendor: Vendor,
    service_level: str,
    valid_from: date,
    valid_to: date | None = None,
    currency: str | None = None,
    payment_terms_days: int | None = None,
    volumetric_divisor: int = 5000,
    reference: str = "",
    notes: str = "",
    on_time_days: int | None = None,
    late_refund_percent: Decimal | None = None,
) -> Contract:
    """Create a draft contract with its version 1 (effective from valid_from), for rate lines to
    be added or imported, with the carrier's on-time promise (days) and late-delivery refund (%
    of the freight) when it gives them. Raises DomainError on a wrong currency, bad dates,
    divisor or guarantee."""
    vendor = _lock_vendor(vendor.pk)
    market = vendor.market
    currency = currency or market.currency
    if currency != market.currency:
        raise DomainError(
            f"Contracts in {market.code} are in {market.currency}, not {currency}.",
            code="wrong_currency",
            field="currency",
        )
    service_level = (service_level or "").strip().lower()
    if not service_level:
        raise DomainError("Service level is required.", code="required", field="service_level")
    _check_validity(valid_from, valid_to)
    if not volumetric_divisor or volumetric_divisor <= 0:
        raise DomainError(
            "Volumetric divisor must be a positive whole number.", code="invalid", field="volumetric_divisor"
        )
    if on_time_days is not None and on_time_days <= 0:
        raise DomainError("The on-time promise is a number of days above zero.", field="on_time_days")
    if late_refund_percent is not None and not (0 < late_refund_percent <= 100):
        raise DomainError(
            "The late-delivery refund is a percentage above 0 and at most 100.", field="late_refund_percent"
        )
    reference = reference.strip() or _next_reference(vendor, service_level)
    if Contract.objects.filter(reference=reference).exists():
        raise DomainError(
            f"Contract reference {reference} is already used.", code="duplicate_reference", field="reference"
        )
    contract = Contract.objects.create(
        reference=reference,
        vendor=vendor,
        market=market,
        service_level=service_level,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        payment_terms_days=vendor.payment_terms_days if payment_terms_days is None else payment_terms_days,
        volumetric_divisor=volumetric_divisor,
        on_time_days=on_time_days,
        late_refund_percent=late_refund_percent,
        author=actor,
        notes=notes,
    )
    ContractVersion.objects.create(contract=contract, number=1, effective_from=valid_from, created_by=actor)
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="contract_create", obj=contract)
    return contract


@transaction.atomic(durable=True)
def contract_submit(*, actor, contract: Contract) -> Contract:
    """Send a draft contract (and its version 1) for review. It needs at least one rate line."""
    contract = _lock_contract(contract.pk)
    if contract.status != Contract.Status.DRAFT:
        raise ConflictError(
            f"Only a draft contract can be submitted; this one is {contract.get_status_display().lower()}.",
            code="bad_status",
        )
    version = contract.versions.select_for_update().get(number=1)
    if not version.rate_lines.exists():
        raise DomainError("Add or import rate lines before submitting the contract.", code="no_rate_lines")
    now = timezone.now()
    contract.status, contract.submitted_by, contract.submitted_at = Contract.Status.IN_REVIEW, actor, now
    contract.save(update_fields=["status", "submitted_by", "submitted_at"])
    version.status, version.submitted_by, version.submitted_at = ContractVersion.Status.IN_REVIEW, actor, now
    version.save(update_fields=["status", "submitted_by", "submitted_at"])
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="contract_submit", obj=contract)
    return contract


def _four_eyes(*, actor, preparers) -> None:
    for person in preparers:
        if person is not None:
            approval_check(actor=actor, action=ApprovalLimit.Action.CONTRACT, prepared_by=person)


@transaction.atomic(durable=True)
def contract_approve(*, actor, contract: Contract) -> Contract:
    """Activate a contract in review. Four eyes: neither its author nor its submitter may approve.
    Refused when it would overlap another effective contract of the vendor, market and service
    (checked under the vendor lock; PostgreSQL also enforces it with an exclusion constraint)."""
    contract = _lock_contract(contract.pk)
    if contract.status != Contract.Status.IN_REVIEW:
        raise ConflictError(
            f"Only a contract in review can be approved; this one is {contract.get_status_display().lower()}.",
            code="bad_status",
        )
    _four_eyes(actor=actor, preparers=[contract.author, contract.submitted_by])
    clash = _overlapping(contract, contract.valid_from, contract.valid_to).first()
    if clash is not None:
        raise ConflictError(
            f"Overlaps contract {clash.reference} ({clash.valid_from} to {clash.valid_to or 'open'}) for the same vendor, "
            f"market and service level.",
            code="contract_overlap",
        )
    now = timezone.now()
    contract.status, contract.approved_by, contract.approved_at = Contract.Status.ACTIVE, actor, now
    version = contract.versions.select_for_update().get(number=1)
    _four_eyes(actor=actor, preparers=[version.created_by, version.submitted_by])
    try:
        with transaction.atomic():
            contract.save(update_fields=["status", "approved_by", "approved_at"])
    except IntegrityError:
        raise ConflictError(
            "Overlaps another active contract for the same vendor, market and service level.", code="contract_overlap"
        ) from None
    version.status, version.approved_by, version.approved_at, version.activated_at = (
        ContractVersion.Status.ACTIVE,
        actor,
        now,
        now,
    )
    version.save(update_fields=["status", "approved_by", "approved_at", "activated_at"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="contract_approve",
        obj=contract,
        detail={"reference": contract.reference, "author": contract.author.username},
    )
    return contract


@transaction.atomic(durable=True)
def contract_reject(*, actor, contract: Contract, reason: str) -> Contract:
    """Send a contract in review back to draft with a reason (not by its submitter)."""
    contract = _lock_contract(contract.pk)
    if contract.status != Contract.Status.IN_REVIEW:
        raise ConflictError("Only a contract in review can be rejected.", code="bad_status")
    _four_eyes(actor=actor, preparers=[contract.submitted_by])
    if not reason.strip():
        raise DomainError("Give a reason for the rejection.", code="required", field="reason")
    contract.status, contract.submitted_by, contract.submitted_at = Contract.Status.DRAFT, None, None
    contract.save(update_fields=["status", "submitted_by", "submitted_at"])
    contract.versions.filter(number=1).update(status=ContractVersion.Status.DRAFT, submitted_by=None, submitted_at=None)
    audit_record(
        kind=AuditEvent.Kind.APPROVAL, actor=actor, action="contract_reject", obj=contract, detail={"reason": reason}
    )
    return contract


@transaction.atomic(durable=True)
def contract_terminate(*, actor, contract: Contract, end_date: date, reason: str) -> Contract:
    """End an active contract early: valid_to becomes end_date (shipments after it find no
    contract). end_date may not be before valid_from nor after the current valid_to."""
    contract = _lock_contract(contract.pk)
    if contract.status != Contract.Status.ACTIVE:
        raise ConflictError("Only an active contract can be terminated.", code="bad_status")
    if not reason.strip():
        raise DomainError("Give a reason for the termination.", code="required", field="reason")
    if end_date < contract.valid_from:
        raise DomainError(
            f"End date cannot be before the contract start {contract.valid_from}.",
            code="invalid_dates",
            field="end_date",
        )
    if contract.valid_to is not None and end_date > contract.valid_to:
        raise DomainError(
            f"End date cannot be after the contract end {contract.valid_to}.", code="invalid_dates", field="end_date"
        )
    contract.status, contract.valid_to = Contract.Status.TERMINATED, end_date
    contract.terminated_by, contract.terminated_at, contract.termination_reason = actor, timezone.now(), reason.strip()
    contract.save(update_fields=["status", "valid_to", "terminated_by", "terminated_at", "termination_reason"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="contract_terminate",
        obj=contract,
        detail={"end_date": end_date.isoformat(), "reason": reason},
    )
    return contract


@transaction.atomic(durable=True)
def contracts_expire(*, today: date) -> int:
    """Nightly: active contracts whose valid_to is before today become expired."""
    ids = list(Contract.objects.filter(status=Contract.Status.ACTIVE, valid_to__lt=today).values_list("pk", flat=True))
    if ids:
        Contract.objects.filter(pk__in=ids).update(status=Contract.Status.EXPIRED)
        audit_record(
            kind=AuditEvent.Kind.ACTION, action="contracts_expire", detail={"ids": ids, "today": today.isoformat()}
        )
    return len(ids)


# --- Versions (amendments) ------------------------------------------------------------------------


@transaction.atomic(durable=True)
def contract_version_create(*, actor, contract: Contract, effective_from: date, notes: str = "") -> ContractVersion:
    """Start an amendment of an active contract: a draft version copying the rate lines and
    surcharges of the latest active version. An effective_from in the past makes it retroactive."""
    contract = _lock_contract(contract.pk)
    if contract.status != Contract.Status.ACTIVE:
        raise ConflictError("Only an active contract can be amended.", code="bad_status")
    if not contract.covers(effective_from):
        raise DomainError(
            "The version must start within the contract's validity.", code="invalid_dates", field="effective_from"
        )
    if contract.versions.filter(status__in=[ContractVersion.Status.DRAFT, ContractVersion.Status.IN_REVIEW]).exists():
        raise ConflictError("This contract already has a version being prepared.", code="open_version")
    source = contract.versions.filter(status=ContractVersion.Status.ACTIVE).order_by("-effective_from").first()
    number = (contract.versions.aggregate(m=Max("number"))["m"] or 0) + 1
    version = ContractVersion.objects.create(
        contract=contract, number=number, effective_from=effective_from, created_by=actor, notes=notes
    )
    if source is not None:
        RateLine.objects.bulk_create(
            RateLine(version=version, **{f: getattr(r, f) for f in RATE_LINE_FIELDS}) for r in source.rate_lines.all()
        )
        Surcharge.objects.bulk_create(
            Surcharge(version=version, **{f: getattr(s, f) for f in SURCHARGE_FIELDS}) for s in source.surcharges.all()
        )
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="contract_version_create", obj=version)
    return version


@transaction.atomic(durable=True)
def contract_version_submit(*, actor, version: ContractVersion) -> ContractVersion:
    version = _lock_version(version.pk)
    if version.number == 1:
        raise DomainError("Version 1 is submitted with its contract.", code="bad_status")
    if version.status != ContractVersion.Status.DRAFT:
        raise ConflictError("Only a draft version can be submitted.", code="bad_status")
    if not version.rate_lines.exists():
        raise DomainError("A version needs at least one rate line.", code="no_rate_lines")
    version.status, version.submitted_by, version.submitted_at = ContractVersion.Status.IN_REVIEW, actor, timezone.now()
    version.save(update_fields=["status", "submitted_by", "submitted_at"])
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="contract_version_submit", obj=version)
    return version


@transaction.atomic(durable=True)
def contract_version_approve(*, actor, version: ContractVersion) -> ContractVersion:
    """Activate an amendment (four eyes). From its effective_from on, rating uses it."""
    version = _lock_version(version.pk)
    if version.status != ContractVersion.Status.IN_REVIEW or version.number == 1:
        raise ConflictError("Only an amendment in review can be approved.", code="bad_status")
    if version.contract.status != Contract.Status.ACTIVE:
        raise ConflictError("The contract is no longer active.", code="bad_status")
    _four_eyes(actor=actor, preparers=[version.created_by, version.submitted_by])
    if version.contract.versions.filter(
        status=ContractVersion.Status.ACTIVE, effective_from=version.effective_from
    ).exists():
        raise ConflictError(f"Another active version already starts on {version.effective_from}.", code="version_clash")
    now = timezone.now()
    version.status, version.approved_by, version.approved_at, version.activated_at = (
        ContractVersion.Status.ACTIVE,
        actor,
        now,
        now,
    )
    version.save(update_fields=["status", "approved_by", "approved_at", "activated_at"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="contract_version_approve",
        obj=version,
        detail={"retroactive": version.is_retroactive, "effective_from": version.effective_from.isoformat()},
    )
    return version


@transaction.atomic(durable=True)
def contract_version_reject(*, actor, version: ContractVersion, reason: str) -> ContractVersion:
    version = _lock_version(version.pk)
    if version.status != ContractVersion.Status.IN_REVIEW or version.number == 1:
        raise ConflictError("Only an amendment in review can be rejected.", code="bad_status")
    _four_eyes(actor=actor, preparers=[version.submitted_by])
    if not reason.strip():
        raise DomainError("Give a reason for the rejection.", code="required", field="reason")
    version.status = ContractVersion.Status.REJECTED
    version.notes = f"Rejected: {reason.strip()}"[:255]
    version.save(update_fields=["status", "notes"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="contract_version_reject",
        obj=version,
        detail={"reason": reason},
    )
    return version


# --- Rate cards -----------------------------------------------------------------------------------

RATE_LINE_FIELDS = (
    "service_level",
    "origin_zone",
    "destination_zone",
    "weight_from_kg",
    "weight_to_kg",
    "base_price",
    "price_per_additional_kg",
    "additional_step_kg",
    "minimum_charge",
)
SURCHARGE_FIELDS = (
    "kind",
    "percent",
    "flat_amount",
    "valid_from",
    "valid_to",
    "zone",
    "dimension_threshold_cm",
    "minimum_amount",
)
MAX_RATE_CARD_BYTES = RATE_CARD_LIMITS.max_bytes


@transaction.atomic(durable=True)
def rate_card_import(*, actor, version: ContractVersion, content: bytes, filename: str = "rate-card.xlsx") -> dict:
    """Replace a draft version's rate lines and surcharges with an Excel workbook (sheets
    "Rate lines" and "Surcharges", as the export writes them).

    All or nothing: any bad row raises DomainError(code="bad_rows") whose `errors` list every
    problem as {"sheet", "row" (Excel row number), "field", "message"}; nothing is written.
    Returns {"rate_lines": n, "surcharges": m}.
    """
    version = _lock_version(version.pk)
    if not version.is_editable:
        raise ConflictError(
            f"Version {version.number} is {version.get_status_display().lower()}; only a draft can be changed.",
            code="bad_status",
        )
    datasets = read_rate_card_workbook(content, filename)
    version.rate_lines.all().delete()
    version.surcharges.all().delete()
    counts, errors = import_rate_card(version=version, datasets=datasets)
    if errors:
        # The refusal keeps every problem in its downloadable report, not only the first 100.
        message = ngettext(
            "%(n)d problem in the file; nothing was imported.",
            "%(n)d problems in the file; nothing was imported.",
            len(errors),
        )
        raise uploads.refuse_rows(message % {"n": len(errors)}, errors)
    audit_record(kind=AuditEvent.Kind.ACTION, actor=actor, action="rate_card_import", obj=version, detail=counts)
    return counts


# The JSON door's lists and the workbook sheets they stand for.
# A row the import's messages point at ("overlaps row 3"), an Excel row: one more than the list's.
_EXCEL_ROW = re.compile(r"\brow (\d+)")
RATE_CARD_LISTS = {"rate_lines": RATE_LINES_SHEET, "surcharges": SURCHARGES_SHEET}


def _rate_card_datasets(body) -> dict[str, tablib.Dataset]:
    """A JSON rate card ({"rate_lines": [...], "surcharges": [...]}) as the workbook's sheets, so it
    goes through the import's own validation. Refuses a wrong shape, unknown fields and values that
    are neither text nor numbers, naming list, row (1-based) and field."""
    if not isinstance(body, dict):
        raise DomainError('Send an object: {"rate_lines": [...], "surcharges": [...]}.', code="bad_body")
    unknown = sorted(set(body) - set(RATE_CARD_LISTS))
    if unknown:
        raise DomainError(f"Unknown key(s): {', '.join(map(str, unknown))}.", code="bad_body", field=str(unknown[0]))
    errors, datasets = [], {}
    for key, sheet in RATE_CARD_LISTS.items():
        rows = body.get(key, [])
        if not isinstance(rows, list):
            raise DomainError(f"{key} must be a list of objects.", code="bad_body", field=key)
        if len(rows) > RATE_CARD_LIMITS.max_rows:
            raise DomainError(f"At most {RATE_CARD_LIMITS.max_rows} {key} per request.", code="too_many", field=key)
        headers = list(SHEETS[sheet].Meta.fields)
        dataset = tablib.Dataset(headers=headers)
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                errors.append({"list": key, "row": number, "field": "", "message": "must be an object"})
                continue
            for field in sorted(set(row) - set(headers), key=str):
                errors.append({"list": key, "row": number, "field": str(field), "message": "unknown field"})
            for field in headers:
                value = row.get(field)
                if not (value is None or isinstance(value, (str, int, float))) or isinstance(value, bool):
                    errors.append({"list": key, "row": number, "field": field, "message": "must be text or a number"})
                elif isinstance(value, str) and "\x00" in value:
                    errors.append({"list": key, "row": number, "field": field, "message": "holds a NUL character"})
            dataset.append(
                [row.get(field) if isinstance(row.get(field), (str, int, float)) else None for field in headers]
            )
        datasets[sheet] = dataset
    if errors:
        raise DomainError(
            f"{len(errors)} {'problem' if len(errors) == 1 else 'problems'} in the rate card; nothing was saved.",
            code="bad_rows",
            errors=errors,
        )
    if not len(datasets[RATE_LINES_SHEET]):
        raise DomainError("Send at least one rate line.", code="no_rate_lines", field="rate_lines")
    return datasets


@transaction.atomic(durable=True)
def rate_card_replace(*, actor, version: ContractVersion, body) -> dict:
    """Replace a draft version's rate lines and surcharges with a JSON rate card: the same rows and
    the same validation as the Excel import (`import_rate_card`), all or nothing.

    `body` is {"rate_lines": [{RateLine fields}], "surcharges": [{Surcharge fields}]} (omitted
    surcharges = none). Bad rows raise DomainError(code="bad_rows") whose `errors` name each problem
    as {"list", "row" (1-based position in the list), "field", "message"}. Returns the counts.
    """
    version = _lock_version(version.pk)
    if not version.is_editable:
        raise ConflictError(
            f"Version {version.number} is {version.get_status_display().lower()}; only a draft can be changed.",
            code="bad_status",
        )
    datasets = _rate_card_datasets(body)
    version.rate_lines.all().delete()
    version.surcharges.all().delete()
    counts, errors = import_rate_card(version=version, datasets=datasets)
    if errors:
        lists = {sheet: key for key, sheet in RATE_CARD_LISTS.items()}
        # The import counts Excel rows (the header is row 1); a JSON list counts its items from 1.
        errors = [
            {
                "list": lists.get(e["sheet"], e["sheet"]),
                "row": max(e["row"] - 1, 1),
                "field": e["field"],
                "message": _EXCEL_ROW.sub(lambda m: f"row {int(m.group(1)) - 1}", e["message"]),
            }
            for e in errors
        ]
        raise DomainError(
            f"{len(errors)} {'problem' if len(errors) == 1 else 'problems'} in the rate card; nothing was saved.",
            code="bad_rows",
            errors=errors,
        )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="rate_card_replace",
        obj=version,
        detail={**counts, "source": "api"},
    )
    return counts
