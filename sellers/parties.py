"""Sellers as ledger parties (settlement_ops.parties finds this module by its name)."""

from .models import Seller

PARTY_TYPE = "seller"


def labels(ids) -> dict[int, str]:
    return {
        pk: f"{code} {name}" for pk, code, name in Seller.objects.filter(pk__in=ids).values_list("pk", "code", "name")
    }
