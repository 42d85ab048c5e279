"""Corrective actions and the weekly digest to the QA team."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from settlement_ops.errors import DomainError
from settlement_ops.models import AuditEvent, Market
from settlement_ops.roles import Role
from settlement_ops.services import audit_record

from ..models import CorrectiveAction, QualityAttribute
from ..selectors import period_bounds, report


@transaction.atomic(durable=True)
def corrective_action_save(
    *,
    actor,
    market: Market,
    title: str,
    owner,
    due_date: date,
    attribute_code: str = "",
    agent: str = "",
    status: str = CorrectiveAction.Status.OPEN,
    notes: str = "",
    action: CorrectiveAction | None = None,
) -> CorrectiveAction:
    """Open or update a corrective action aimed at an attribute or an agent (history keeps
    every change)."""
    if not (title or "").strip():
        raise DomainError("Give the action a title.", code="required", field="title")
    if attribute_code and attribute_code not in QualityAttribute.Code.values:
        raise DomainError("Unknown attribute.", field="attribute_code")
    if not attribute_code and not (agent or "").strip():
        raise DomainError("Link the action to an attribute or an agent.", code="required", field="attribute_code")
    if status not in CorrectiveAction.Status.values:
        raise DomainError("Unknown status.", field="status")
    values = {
        "market": market,
        "title": title.strip()[:200],
        "attribute_code": attribute_code or "",
        "agent": (agent or "").strip()[:64],
        "owner": owner,
        "due_date": due_date,
        "status": status,
        "notes": notes or "",
    }
    if action is None:
        action = CorrectiveAction.objects.create(created_by=actor, **values)
    else:
        action = CorrectiveAction.objects.select_for_update().get(pk=action.pk)
        for name, value in values.items():
            setattr(action, name, value)
        action.save()
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="compensation_corrective_action_save",
        obj=action,
        detail={"status": status, "due": due_date.isoformat()},
    )
    return action


def digest_send(*, end: date | None = None) -> int:
    """E-mail last week's report to every compensation QA user with an address (Django's mail
    backend; nothing is sent inside a transaction). Returns the number of recipients."""
    end = end or timezone.localdate()
    start, end = period_bounds("weekly", end)
    figures = report(start=start, end=end)
    recipients = list(
        get_user_model()
        .objects.filter(groups__name=Role.COMPENSATION_QA, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    body = render_to_string("compensation/digest.txt", {"report": figures})
    send_mail(
        subject=f"Compensation QA weekly digest {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    audit_record(kind=AuditEvent.Kind.ACTION, action="compensation_digest_send", detail={"recipients": len(recipients)})
    return len(recipients)
