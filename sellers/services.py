"""Seller master-data use cases: create and update (no four eyes: no money moves here). Every
change is in the seller's history (django-simple-history) and the audit log, like vendor edits."""

from __future__ import annotations

import re

from django.db import transaction
from stdnum import get_cc_module
from stdnum.exceptions import ValidationError as StdnumError

from settlement_ops.errors import DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.services import audit_record

from .models import Seller

# Codes travel through integrations and file names: letters, digits and - _ . only.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,29}")
SELLER_FIELDS = ("name", "legal_name", "vat_number", "email", "net_from_payout", "status")
# Markets whose VAT numbers are written with the country prefix (GB123..., DE123...).
PREFIXED_VAT = {"GB", "DE", "FR"}


def seller_vat_number(*, market_code: str, value: str) -> str:
    """The market's VAT number (python-stdnum's check for the country), normalised; empty = not
    registered. Raises DomainError(field="vat_number")."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        module = get_cc_module(market_code.lower(), "vat")
    except (ImportError, AttributeError):
        module = None
    if module is None:
        return value
    try:
        number = module.validate(value)
    except StdnumError as exc:
        raise DomainError(
            f"VAT number {value!r} is not valid in {market_code}: {exc.message}",
            code="invalid_vat_number",
            field="vat_number",
        ) from None
    return f"{market_code}{number}" if market_code in PREFIXED_VAT else number


def _check_text(fields: dict) -> None:
    for name in ("name", "legal_name"):
        if name in fields:
            fields[name] = " ".join(str(fields[name] or "").split())
            if not fields[name]:
                raise DomainError(f"{name.replace('_', ' ').capitalize()} is required.", code="required", field=name)
    if "status" in fields and fields["status"] not in Seller.Status.values:
        raise DomainError(f"Unknown status {fields['status']!r}.", code="invalid", field="status")


@transaction.atomic(durable=True)
def seller_create(
    *,
    actor,
    market: Market,
    code: str,
    name: str,
    legal_name: str,
    email: str,
    vat_number: str = "",
    net_from_payout: bool = False,
    status: str = Seller.Status.ACTIVE,
) -> Seller:
    """Create a seller in an active market. Codes are unique whatever their case. Raises
    DomainError naming the field."""
    code = (code or "").strip()
    if not CODE.fullmatch(code):
        raise DomainError(
            "Seller code: 1 to 30 letters, digits, '-', '_' or '.', starting with a letter or digit.",
            code="invalid",
            field="code",
        )
    if not market.is_active:
        raise DomainError(f"Market {market.code} is not active.", code="invalid", field="market")
    if Seller.objects.filter(code__iexact=code).exists():
        raise DomainError(f"Seller code {code} is already used.", code="duplicate_code", field="code")
    fields = {"name": name, "legal_name": legal_name, "status": status}
    _check_text(fields)
    seller = Seller.objects.create(
        market=market,
        code=code,
        email=email,
        net_from_payout=net_from_payout,
        vat_number=seller_vat_number(market_code=market.code, value=vat_number),
        **fields,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="seller_create", obj=seller, detail={"code": seller.code}
    )
    return seller


@transaction.atomic(durable=True)
def seller_update(*, actor, seller: Seller, **fields) -> Seller:
    """Change a seller's master data. Market and code never change (documents, statements and
    integrations refer to them). Raises DomainError naming the field."""
    unknown = set(fields) - set(SELLER_FIELDS)
    if unknown:
        raise DomainError(
            f"These fields cannot be changed: {', '.join(sorted(unknown))}.", code="invalid", field=sorted(unknown)[0]
        )
    seller = Seller.objects.select_for_update().select_related("market").get(pk=seller.pk)
    _check_text(fields)
    if "vat_number" in fields:
        fields["vat_number"] = seller_vat_number(market_code=seller.market_id, value=fields["vat_number"])
    before = {name: getattr(seller, name) for name in fields}
    for name, value in fields.items():
        setattr(seller, name, value)
    seller.save()
    changed = {name: [str(before[name]), str(value)] for name, value in fields.items() if before[name] != value}
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="seller_update", obj=seller, detail={"changed": changed}
    )
    return seller
