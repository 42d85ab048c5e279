from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from settlement_ops.admin import ReadOnlyAdminMixin

from .models import AuditPolicy, Chargeback, CompensationRequest, CorrectiveAction, Dispute, GuaranteeClaim


class ReadOnlyAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Compensation records change only through the services (audits, postings), never in admin."""


@admin.register(CompensationRequest)
class CompensationRequestAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "market", "reason", "instrument", "amount", "agent", "verdict", "liable_party"]
    list_filter = ["market", "verdict", "reason", "liable_party"]
    search_fields = ["external_id", "order_number", "tracking_number"]


@admin.register(AuditPolicy)
class AuditPolicyAdmin(ReadOnlyAdmin):
    list_display = ["market", "version", "status", "author", "approved_by"]


@admin.register(Chargeback)
class ChargebackAdmin(ReadOnlyAdmin):
    list_display = ["id", "market", "party", "amount", "status", "created_at"]
    list_filter = ["market", "party", "status"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ["id", "chargeback", "raised_via", "status", "created_at"]


@admin.register(GuaranteeClaim)
class GuaranteeClaimAdmin(ReadOnlyAdmin):
    list_display = ["number", "vendor", "period_end", "amount", "amount_credited", "status"]


@admin.register(CorrectiveAction)
class CorrectiveActionAdmin(ReadOnlyAdmin):
    list_display = ["title", "market", "owner", "due_date", "status"]
