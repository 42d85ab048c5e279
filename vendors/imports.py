"""Vendors' upload doors run as background jobs (settlement_ops.import_jobs finds this module by
its name): the rate-card workbook of a draft contract version."""

from django.urls import reverse

from settlement_ops import uploads
from settlement_ops.errors import DomainError
from settlement_ops.import_jobs import ImportKind

from . import services
from .models import ContractVersion
from .resources import RATE_CARD_LIMITS

RATE_CARD = "vendors.rate_card"


def _rate_card_title(target: str) -> str:
    version = (
        ContractVersion.objects.select_related("contract").filter(pk=int(target)).first() if target.isdigit() else None
    )
    if version is None:
        raise DomainError(f"No contract version {target[:20]!r}.", code="unknown_target", field="target")
    return f"Rate card {version.contract.reference} v{version.number}"


def _rate_card_run(job) -> tuple[str, dict]:
    version = ContractVersion.objects.get(pk=int(job.target))
    counts = services.rate_card_import(
        actor=job.requested_by, version=version, content=bytes(job.content), filename=job.filename
    )
    message = f"Imported {counts['rate_lines']} rate lines and {counts['surcharges']} surcharges."
    return message, {**counts, "rows": counts["rate_lines"] + counts["surcharges"]}


IMPORT_KINDS = [
    ImportKind(
        kind=RATE_CARD,
        noun="Rate card",
        permission="vendors.change_contract",
        limits=RATE_CARD_LIMITS,
        allowed=(uploads.XLSX,),
        run=_rate_card_run,
        describe=_rate_card_title,
        upload_url=lambda job: reverse("vendors:rate_card_import", args=[int(job.target)]),
        result_url=lambda job: reverse("vendors:rate_card", args=[int(job.target)]),
    )
]
