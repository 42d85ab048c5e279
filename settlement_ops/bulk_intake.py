"""What every bulk intake door (shipments, compensation requests) answers: counts and the
records it refused, each with its index and field, so one bad record never hides the others."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class IntakeResult:
    accepted: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list = field(default_factory=list)
    # Seconds per phase of the intake ({"validate": 0.05, ...}), for the Server-Timing header;
    # not part of the answer (an Idempotency-Key replay answers the same body).
    timings: dict = field(default_factory=dict, repr=False, compare=False)

    def keep_once(self, cleaned: dict, key, index: int, item, *, field_name: str, what: str, within="request") -> None:
        """Keep record `index` under `key` in `cleaned`, or reject it as a repeat of the record kept
        there (`what` names the key, e.g. "same vendor and tracking number")."""
        if key in cleaned:
            self.rejected.append(
                {
                    "index": index,
                    "field": field_name,
                    "reason": f"duplicate of record {cleaned[key][0]} in this {within} ({what})",
                }
            )
        else:
            cleaned[key] = (index, item)

    def as_dict(self) -> dict:
        return {
            "accepted": self.accepted,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


class RecordRejected(Exception):
    """One record of a bulk request is refused: the field and the reason, for its `rejected` row."""

    def __init__(self, field_name: str, reason: str):
        self.field = field_name
        self.reason = reason


@contextmanager
def gc_paused():
    """No cyclic garbage collection while a bulk job builds its records.

    Parsing and checking 5,000 records (or importing a bank statement) creates some 50,000
    containers that all live to the end of the job, which sets off full collections that walk
    every object of the process (a tenth of a second and more each, several per request);
    reference counting frees the records anyway. Collection resumes afterwards (unless it was off
    before). Let the records go inside the block: whatever is still alive when collection resumes
    is walked by the next collections (measured: one full collection of a worker's heap, 130 ms,
    every few requests, when the request still held its parsed body).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def bulk_records(request):
    """A bulk request's JSON body, parsed here rather than through `request.data`, which would keep
    the records on the request after gc_paused ends. Any other body (none, a form) goes through
    `request.data`, and the intake refuses what is not a list.

    The body is read through Django's `request.body`, which holds it to DATA_UPLOAD_MAX_MEMORY_SIZE
    (DRF's parsers read the stream past it): a body over that is refused with 413 before it is
    parsed, instead of a worker building millions of records to refuse them after."""
    import io

    from rest_framework.parsers import JSONParser

    from .api import request_body

    parser = JSONParser()
    if not request.content_type.startswith(parser.media_type):
        return request.data
    body = request_body(request._request)
    if not body:
        return request.data
    return parser.parse(io.BytesIO(body), parser.media_type, {"request": request})


def server_timing(timings: dict) -> str:
    """A Server-Timing header value (W3C) from {phase: seconds}: `validate;dur=12.3, ...` in ms."""
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in timings.items())


def record_text(record: dict, name: str, *, required: bool = True, max_length: int = 64, aliases=()) -> str:
    """A text field of a pushed record (the first non-empty of `name` and its `aliases`), stripped;
    a number is taken as its digits. Raises RecordRejected naming the field."""
    value = record.get(name)
    for alias in aliases:
        if value in (None, ""):
            value = record.get(alias)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordRejected(name, "is required")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise RecordRejected(name, "must be text")
    value = str(value).strip()
    if len(value) > max_length:
        raise RecordRejected(name, f"is longer than {max_length} characters")
    return value
