"""What every bulk intake door (shipments, compensation requests) answers: counts and the
records it refused, each with its index and field, so one bad record never hides the others."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class IntakeResult:
    accepted: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list = field(default_factory=list)

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
