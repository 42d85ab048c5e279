"""Vendors as ledger parties (settlement_ops.parties finds this module by its name)."""

from .models import Vendor

PARTY_TYPE = "vendor"


def labels(ids) -> dict[int, str]:
    return {
        pk: f"{code} {name}"
        for pk, code, name in Vendor.objects.filter(pk__in=ids).values_list("pk", "code", "legal_name")
    }
