"""Sign-ins, failed sign-ins and sign-outs go to the append-only audit log; reference data is
re-ensured after migrate and after a test database flush."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import connection
from django.dispatch import receiver

from .models import ApprovalLimit, AuditEvent, Market
from .reference_data import ensure_reference_data
from .services import audit_record


def ensure_reference_data_after_migrate(sender, **kwargs) -> None:
    if sender.name == "settlement_ops" and Market._meta.db_table in connection.introspection.table_names():
        ensure_reference_data(Market, ApprovalLimit)


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    audit_record(kind=AuditEvent.Kind.SIGN_IN, actor=user, request=request)


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(kind=AuditEvent.Kind.SIGN_OUT, actor=user, request=request)


@receiver(user_login_failed)
def _sign_in_failed(sender, credentials, request=None, **kwargs):
    audit_record(
        kind=AuditEvent.Kind.SIGN_IN_FAILED, username=str(credentials.get("username", ""))[:150], request=request
    )
