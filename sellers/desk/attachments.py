"""Ticket attachments: pdf, png, jpg, xlsx or csv, judged by content, not by name; at most 10 MB
each and 5 per message. Stored under generated names and served only through a view that checks
the ticket's seller (sellers.desk.views / portal)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.core.files.base import ContentFile

from settlement_ops.errors import DomainError
from settlement_ops.uploads import CSV, XLSX, UploadLimits, file_kind

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_MESSAGE = 5
# Extension -> (content type, magic bytes or None for the kinds the guarded reader judges).
KINDS = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", None),
    "csv": ("text/csv", None),
}
_LIMITS = UploadLimits(max_rows=1, max_bytes=MAX_BYTES, max_uncompressed_bytes=64 * 1024 * 1024)


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content: bytes
    content_type: str

    def as_content_file(self) -> tuple[str, ContentFile]:
        key = secrets.token_hex(16)
        return key, ContentFile(self.content, name=key)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def check_files(files) -> list[CheckedFile]:
    """Every file checked before anything is stored; DomainError naming the file otherwise."""
    files = list(files or [])
    if len(files) > MAX_PER_MESSAGE:
        raise DomainError(f"Attach at most {MAX_PER_MESSAGE} files to one message.", field="attachments")
    checked = []
    for upload in files:
        name = (getattr(upload, "name", "") or "file")[-200:]
        extension = name.lower().rsplit(".", 1)[-1] if "." in name else ""
        if extension not in KINDS:
            raise DomainError(f"{name}: attach a PDF, PNG, JPG, XLSX or CSV file.", field="attachments")
        if getattr(upload, "size", 0) and upload.size > MAX_BYTES:
            raise DomainError(f"{name}: the file is larger than 10 MB.", field="attachments")
        content = upload.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            raise DomainError(f"{name}: the file is larger than 10 MB.", field="attachments")
        if not content:
            raise DomainError(f"{name}: the file is empty.", field="attachments")
        content_type, magic = KINDS[extension]
        if magic is not None:
            if not content.startswith(magic):
                raise DomainError(
                    f"{name}: the content is not a {extension.upper()} file; its name does not match what it holds.",
                    field="attachments",
                )
        else:
            kind = XLSX if extension == "xlsx" else CSV
            try:
                file_kind(content=content, limits=_LIMITS, filename=name, allowed=(kind,))
            except DomainError as exc:
                raise DomainError(f"{name}: {exc.message}", field="attachments") from None
        checked.append(CheckedFile(name=name, content=content, content_type=content_type))
    return checked
