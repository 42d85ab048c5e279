from celery import shared_task

from .models import InvoiceImport


@shared_task(acks_late=True)
def invoice_import_task(job_id: int) -> str:
    """Import and audit an uploaded invoice file. Returns early when the job has moved on, so a
    redelivered message does nothing."""
    from .services.intake import invoice_import_run

    if not InvoiceImport.objects.filter(pk=job_id, status=InvoiceImport.Status.QUEUED).exists():
        return "skipped"
    return invoice_import_run(job_id=job_id).status


@shared_task(acks_late=True)
def remittance_email_task(payment_id: int) -> bool:
    from .services.payment_runs import remittance_email

    return remittance_email(payment_id=payment_id)


@shared_task(acks_late=True)
def invoice_imports_resume_task() -> int:
    """Nightly: re-queue upload jobs still queued (a lost broker message); they are idempotent."""
    ids = list(InvoiceImport.objects.filter(status=InvoiceImport.Status.QUEUED).values_list("pk", flat=True))
    for job_id in ids:
        invoice_import_task.delay(job_id)
    return len(ids)
