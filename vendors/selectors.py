"""Read queries for vendor pages, the API and exports."""

from __future__ import annotations

from django.db.models import Count, Q

from .models import Contract, ContractVersion, RateLine, Surcharge, Vendor, VendorBankAccount, VendorBankChangeRequest


def vendors_list(*, market=None, status=None, q=None):
    qs = Vendor.objects.select_related("market")
    if market:
        qs = qs.filter(market=market)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(legal_name__icontains=q) | Q(code__iexact=q))
    return qs.order_by("code")


def vendor_bank_accounts(*, vendor=None):
    qs = VendorBankAccount.objects.select_related("vendor")
    if vendor is not None:
        qs = qs.filter(vendor=vendor)
    return qs.order_by("vendor_id", "-created_at")


def bank_change_requests(*, vendor=None, status=None):
    qs = VendorBankChangeRequest.objects.select_related("vendor", "requested_by", "decided_by")
    if vendor is not None:
        qs = qs.filter(vendor=vendor)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-requested_at", "-pk")


def contracts_list(*, market=None, vendor=None, status=None, service_level=None):
    qs = Contract.objects.select_related("vendor", "market", "author", "approved_by").annotate(
        version_count=Count("versions")
    )
    if market:
        qs = qs.filter(market=market)
    if vendor:
        qs = qs.filter(vendor=vendor)
    if status:
        qs = qs.filter(status=status)
    if service_level:
        qs = qs.filter(service_level=service_level)
    return qs.order_by("-valid_from", "reference")


def contract_versions(*, contract=None):
    qs = ContractVersion.objects.select_related("contract__vendor", "created_by", "approved_by").annotate(
        line_count=Count("rate_lines", distinct=True), surcharge_count=Count("surcharges", distinct=True)
    )
    if contract is not None:
        qs = qs.filter(contract=contract)
    return qs.order_by("contract_id", "number")


def rate_lines(*, version=None, origin_zone=None, destination_zone=None):
    qs = RateLine.objects.select_related("version__contract")
    if version is not None:
        qs = qs.filter(version=version)
    if origin_zone:
        qs = qs.filter(origin_zone=origin_zone)
    if destination_zone:
        qs = qs.filter(destination_zone=destination_zone)
    return qs.order_by("version_id", "service_level", "origin_zone", "destination_zone", "weight_from_kg")


def surcharges(*, version=None):
    qs = Surcharge.objects.select_related("version")
    if version is not None:
        qs = qs.filter(version=version)
    return qs.order_by("version_id", "kind", "valid_from", "pk")


def service_levels() -> list[str]:
    return list(Contract.objects.order_by().values_list("service_level", flat=True).distinct())


def contracts_in_force(vendor, *, on):
    """The vendor's effective contracts valid on `on`, each with the version rating uses that day
    (the active version with the latest start on or before it) as `version_in_force`."""
    contracts = list(
        Contract.objects.filter(vendor=vendor, status__in=Contract.EFFECTIVE_STATUSES, valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on))
        .order_by("service_level", "reference")
    )
    versions = (
        ContractVersion.objects.filter(
            contract__in=contracts, status=ContractVersion.Status.ACTIVE, effective_from__lte=on
        )
        .order_by("contract_id", "-effective_from", "-number")
        .distinct("contract_id")
    )
    by_contract = {v.contract_id: v for v in versions}
    for contract in contracts:
        contract.version_in_force = by_contract.get(contract.pk)
    return contracts


def vendor_account_summary(vendor: Vendor, *, today) -> dict:
    """What the vendor page shows: what we owe now, invoices in audit, open disputes, the last
    payments (filled in by the apps that own them through their `summaries.py`,
    `vendor_summary(vendor, today=)`, so this lower app imports none of them) and the contracts
    in force."""
    from settlement_ops.navigation import area_modules

    summary: dict = {"vendor": vendor, "today": today, "contracts_in_force": contracts_in_force(vendor, on=today)}
    for module in area_modules("summaries"):
        contribute = getattr(module, "vendor_summary", None)
        if contribute is not None:
            summary.update(contribute(vendor, today=today))
    return summary
