"""Background imports with progress and a downloadable error report, for the upload doors whose
files can be big (rate cards, bank statements).

A door declares its kind in `<app>/imports.py` (IMPORT_KINDS), found by name like parties and
ledger sources, so the kernel imports no app: the permission that opens its jobs, the guarded
reader's limits, the service that imports one file (all or nothing, in its own transaction), and
its pages. `import_job_start` checks the file's size and type by content before anything is
stored, stores the file with the job and queues `import_job_task` after commit (in-process when
CELERY_TASK_ALWAYS_EAGER). `import_job_run` claims a queued job once, runs the door's service and
records the outcome: done, refused (the first 100 problems for the page, every problem in the
compressed report behind the download), or failed. Run state lives in PostgreSQL, so a
redelivered message finds the job claimed and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from itertools import chain

from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils import timezone

from . import uploads
from .errors import DomainError
from .exports import Column, SafeCsvWriter, Sheet, workbook_response
from .models import AuditEvent, ImportJob
from .navigation import area_modules
from .services import audit_record

logger = logging.getLogger(__name__)

MAX_ERRORS_SHOWN = DomainError.MAX_ERRORS_SHOWN
REPORT_FORMATS = ("csv", "xlsx")
QUEUED_RESEND_AFTER = timedelta(minutes=2)
RUNNING_STALE_AFTER = timedelta(minutes=30)


@dataclass(frozen=True)
class ImportKind:
    """One upload door run as a job. `run(job)` imports `job.content` into `job.target` and
    returns (message, result); result["rows"] is the number of rows imported. It raises
    DomainError (ideally uploads.FileRefused, which carries every problem) to refuse the file."""

    kind: str
    noun: str
    permission: str
    limits: uploads.UploadLimits
    allowed: tuple[str, ...]
    run: Callable[[ImportJob], tuple[str, dict]]
    # The job's title for a target ("Rate card C-1 v2"); DomainError(field="target") for an unknown one.
    describe: Callable[[str], str]
    upload_url: Callable[[ImportJob], str]  # where a corrected file is uploaded
    result_url: Callable[[ImportJob], str] | None = None  # what was imported


def import_kinds() -> dict[str, ImportKind]:
    return {spec.kind: spec for module in area_modules("imports") for spec in getattr(module, "IMPORT_KINDS", [])}


def import_kind(kind: str) -> ImportKind:
    try:
        return import_kinds()[kind]
    except KeyError:
        raise DomainError(f"No import of kind {kind!r}.", code="unknown_import", field="kind") from None


@transaction.atomic(durable=True)
def import_job_start(*, actor, kind: str, target, filename: str, content: bytes) -> ImportJob:
    """Store an uploaded file as a job and queue it after commit. The target must exist, and the
    size and type are judged here by the guarded reader (content, zip directory), before the file
    is stored; its rows are read by the job."""
    spec = import_kind(kind)
    title = spec.describe(str(target))
    uploads.file_kind(content=content, filename=filename, limits=spec.limits, allowed=spec.allowed)
    job = ImportJob.objects.create(
        kind=kind,
        target=str(target),
        title=title[:200],
        filename=filename[:255],
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        requested_by=actor,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="import_job_start",
        obj=job,
        detail={"kind": kind, "target": job.target, "filename": job.filename, "sha256": job.sha256},
    )
    from .tasks import import_job_task

    transaction.on_commit(partial(import_job_task.delay, job.pk))
    return job


def import_jobs_sweep(*, now=None) -> list[int]:
    """Queue again the jobs whose message was lost (queued for QUEUED_RESEND_AFTER) or whose worker
    died (running for RUNNING_STALE_AFTER, well past the reader's wall-clock budget). The door's
    service is one transaction, so a dead run wrote nothing and running it again is safe."""
    now = now or timezone.now()
    stale = ImportJob.objects.filter(status=ImportJob.Status.RUNNING, started_at__lt=now - RUNNING_STALE_AFTER)
    stale.update(status=ImportJob.Status.QUEUED, started_at=None)
    ids = list(
        ImportJob.objects.filter(status=ImportJob.Status.QUEUED, created_at__lt=now - QUEUED_RESEND_AFTER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    from .tasks import import_job_task

    for job_id in ids:
        import_job_task.delay(job_id)
    return ids


def _update(job_id: int, **fields) -> None:
    # Autocommitted outside the door's transaction, so the page sees it while the job runs.
    ImportJob.objects.filter(pk=job_id).update(**fields)


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued job once; a job already claimed or finished is returned as it is."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now()
    )
    job = ImportJob.objects.select_related("requested_by").get(pk=job_id)
    if not claimed:
        return job
    try:
        message, result = import_kind(job.kind).run(job)
    except DomainError as exc:
        _refuse(job, exc)
    except Exception as exc:  # noqa: BLE001 - any other failure is recorded on the job, not lost
        logger.exception("import job %s failed", job.pk)
        _update(
            job.pk,
            status=ImportJob.Status.FAILED,
            message=f"The import stopped on an unexpected error ({type(exc).__name__}); nothing was imported."[:500],
            finished_at=timezone.now(),
        )
    else:
        rows = int(result.get("rows", 0))
        _update(
            job.pk,
            status=ImportJob.Status.DONE,
            total_rows=rows,
            processed_rows=rows,
            message=message[:500],
            result=result,
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    return job


def _refuse(job: ImportJob, exc: DomainError) -> None:
    if isinstance(exc, uploads.FileRefused):
        report, count = exc.report, exc.error_count
        errors = exc.errors
    else:
        errors = exc.errors or [{"row": None, "field": exc.field or "file", "message": exc.message}]
        report, count = uploads.ErrorReport.of(errors).getvalue(), max(exc.error_count, len(errors))
    _update(
        job.pk,
        status=ImportJob.Status.REFUSED,
        message=exc.message[:500],
        errors=errors[:MAX_ERRORS_SHOWN],
        error_count=count,
        error_report=report,
        finished_at=timezone.now(),
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=job.requested_by,
        action="import_job_refused",
        obj=job,
        detail={"kind": job.kind, "errors": count, "message": exc.message[:200]},
    )


# --- The error report as a file -------------------------------------------------------------------


def _report_rows(errors: Iterable[dict]) -> Iterator[list]:
    for error in errors:
        row = error.get("row")
        yield [
            error.get("sheet") or "",
            int(row) if str(row or "").isdigit() else (row or ""),
            error.get("field") or "",
            error.get("message") or "",
        ]


class _Echo:
    def write(self, value):
        return value


def error_report_response(*, errors: Iterable[dict], name: str, fmt: str):
    """Every problem of a refused file as CSV or xlsx, streamed, cells neutralised against formula
    injection like every export (the file's own text comes back in the messages)."""
    header = ["Sheet", "Row", "Field", "Problem"]
    if fmt == "xlsx":
        columns = [
            Column("Sheet", width=14),
            Column("Row", width=10),
            Column("Field", width=22),
            Column("Problem", width=80),
        ]
        return workbook_response(
            filename=f"{name}.xlsx", sheets=[Sheet(name="Problems", columns=columns, rows=_report_rows(errors))]
        )
    writer = SafeCsvWriter(_Echo())
    lines = (writer.writerow(values) for values in chain([header], _report_rows(errors)))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def job_errors(job: ImportJob) -> Iterator[dict]:
    """Every problem of a refused job: from its report, else the ones stored on the job."""
    if job.error_report:
        return uploads.report_rows(bytes(job.error_report))
    return iter(job.errors or [])
