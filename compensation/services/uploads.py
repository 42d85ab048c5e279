"""File uploads of compensation requests: a preview first, then all or nothing."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from settlement_ops.errors import ConflictError, DomainError

from ..intake import IntakeResult, parse_upload, requests_intake, requests_validate
from ..models import IntakeUpload


@transaction.atomic(durable=True)
def upload_preview(*, actor, filename: str, data: bytes) -> tuple[IntakeUpload, list[dict]]:
    """Parse and validate a CSV/xlsx file without storing any request; keeps the parsed rows
    for the confirmation. Returns the upload and the problems [{index, field, reason}].
    Raises DomainError for an unusable file (type, size, encoding, header)."""
    records = parse_upload(filename=filename, data=data)
    if not records:
        raise DomainError("The file has a header but no rows.", code="empty_file", field="file")
    problems = requests_validate(records)
    upload = IntakeUpload.objects.create(filename=filename[:255], content=data, records=records, uploaded_by=actor)
    return upload, problems


def upload_confirm(*, actor, upload: IntakeUpload) -> IntakeResult:
    """Store every row of a previewed file, or none when any row is refused."""
    with transaction.atomic(durable=True):
        upload = IntakeUpload.objects.select_for_update().get(pk=upload.pk)
        if upload.confirmed_at is not None:
            raise ConflictError("This file was already imported.", code="already_imported")
        if upload.uploaded_by_id != actor.pk:
            raise ConflictError("Only the person who uploaded the file confirms it.", code="not_yours")
        source = "xlsx" if upload.filename.lower().endswith(".xlsx") else "csv"
        result = requests_intake(records=upload.records, actor=actor, source=source, all_or_nothing=True)
        if not result.rejected:
            upload.confirmed_at = timezone.now()
            upload.save(update_fields=["confirmed_at"])
    return result
