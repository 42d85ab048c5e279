"""Billing's journal sources (settlement_ops.source_documents finds this module by its name)."""

from django.urls import reverse

from settlement_ops.source_documents import SourceDocument, numeric_ids

from .models import BillingRun


def _runs(ids) -> dict[str, SourceDocument]:
    rows = BillingRun.objects.filter(pk__in=numeric_ids(ids)).values_list("pk", "market_id", "business_date")
    return {
        str(pk): SourceDocument(
            f"Billing run #{pk} ({market} {day:%Y-%m-%d})",
            reverse("billing:run_detail", args=[pk]),
            "billing.view_billingrun",
        )
        for pk, market, day in rows
    }


SOURCES = {"billing_run": _runs}
