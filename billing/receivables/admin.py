from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from settlement_ops.admin import ReadOnlyAdminMixin

from .models import (
    CollectionNote,
    CorrectionRule,
    DunningLevel,
    DunningNotice,
    Invoice,
    PayoutDeduction,
    Receipt,
    Statement,
    WriteOff,
)


class ReadOnlyAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Money records change only through the services (postings must follow), never in admin."""


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    list_display = ["seller", "period_start", "period_end", "currency", "opening_balance", "closing_balance"]
    list_filter = ["market", "period_end"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "seller", "issue_date", "due_date", "gross_total", "amount_open", "status"]
    list_filter = ["market", "kind", "status"]
    search_fields = ["number", "seller__code"]


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ["bank_reference", "market", "seller", "value_date", "amount", "amount_unapplied", "status"]
    list_filter = ["market", "status", "source"]
    search_fields = ["bank_reference", "reference", "payer_name"]


@admin.register(PayoutDeduction, DunningNotice, CollectionNote, WriteOff)
class OtherAdmin(ReadOnlyAdmin):
    pass


@admin.register(DunningLevel)
class DunningLevelAdmin(SimpleHistoryAdmin):
    list_display = ["market", "level", "name", "wait_days"]
    list_filter = ["market"]


@admin.register(CorrectionRule)
class CorrectionRuleAdmin(SimpleHistoryAdmin):
    """Which document corrects a wrong invoice in a market (no row: the legal default)."""

    list_display = ["market", "document"]
