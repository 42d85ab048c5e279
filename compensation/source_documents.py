"""Compensation's journal sources (settlement_ops.source_documents finds this module by its name).
Carrier chargebacks post through payables as vendor deductions and seller chargebacks through
receivables as seller invoices; only the audit run posts under compensation's own name."""

from django.urls import reverse

from settlement_ops.source_documents import SourceDocument, numeric_ids

from .models import AuditRun


def _audit_runs(ids) -> dict[str, SourceDocument]:
    rows = AuditRun.objects.filter(pk__in=numeric_ids(ids)).values_list("pk", "market_id")
    return {
        str(pk): SourceDocument(
            f"Compensation audit run #{pk} ({market})",
            reverse("compensation:audit_runs"),
            "compensation.view_auditrun",
        )
        for pk, market in rows
    }


SOURCES = {"compensation.audit_run": _audit_runs}
