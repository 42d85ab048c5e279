"""Receivables' upload doors run as background jobs (settlement_ops.import_jobs finds this module
by its name): a market's bank statement, imported and matched."""

from django.urls import reverse

from settlement_ops import uploads
from settlement_ops.errors import DomainError
from settlement_ops.import_jobs import ImportKind
from settlement_ops.models import Market

from .cash import STATEMENT_LIMITS, receipts_import

BANK_STATEMENT = "receivables.bank_statement"


def _bank_statement_title(target: str) -> str:
    if not Market.objects.filter(pk=target, is_active=True).exists():
        raise DomainError(f"No active market {target[:10]!r}.", code="unknown_target", field="target")
    return f"Bank statement {target}"


def _bank_statement_run(job) -> tuple[str, dict]:
    market = Market.objects.get(pk=job.target)
    result = receipts_import(actor=job.requested_by, market=market, content=bytes(job.content), filename=job.filename)
    message = (
        f"Imported {result['created']} receipt(s) ({result['skipped']} already known): "
        f"{result['matched']} matched, {result['unmatched']} unmatched."
    )
    return message, {**result, "rows": result["created"] + result["skipped"]}


IMPORT_KINDS = [
    ImportKind(
        kind=BANK_STATEMENT,
        noun="Bank statement",
        permission="receivables.add_receipt",
        limits=STATEMENT_LIMITS,
        allowed=(uploads.CSV,),
        run=_bank_statement_run,
        describe=_bank_statement_title,
        upload_url=lambda job: reverse("receivables:receipt_list"),
        result_url=lambda job: reverse("receivables:receipt_list") + f"?market={job.target}",
    )
]
