from django.contrib import admin
from django.core.exceptions import ValidationError
from import_export import resources
from import_export.resources import modelresource_factory
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Account,
    AccountingPeriod,
    ApprovalLimit,
    AuditEvent,
    FxRate,
    JournalEntry,
    Market,
    NumberSequence,
    PeriodWorkbook,
    Posting,
)


class ReadOnlyAdminMixin:
    """For records only the services write (postings must follow them): the admin may look, never
    add, change or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Ledger and audit rows are written by services only and never changed."""


@admin.register(Market)
class MarketAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "currency", "vat_standard_rate", "timezone", "payment_terms_days"]


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    list_display = ["rate_date", "currency", "rate", "source"]
    list_filter = ["currency"]


@admin.register(ApprovalLimit)
class ApprovalLimitAdmin(SimpleHistoryAdmin):
    list_display = ["action", "role", "currency", "max_amount"]
    list_filter = ["action", "role"]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "market", "currency", "kind"]
    list_filter = ["market", "kind"]
    search_fields = ["code", "name"]


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ["account", "currency", "amount", "memo"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "entry_date", "market", "description", "source_type", "source_id"]
    list_filter = ["market", "source_type"]
    search_fields = ["description", "idempotency_key", "source_id"]
    inlines = [PostingInline]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "username", "action", "object_type", "object_id"]
    list_filter = ["kind"]


@admin.register(NumberSequence)
class NumberSequenceAdmin(ReadOnlyAdmin):
    list_display = ["market", "kind", "year", "last_value"]


@admin.register(AccountingPeriod)
class AccountingPeriodAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Periods change state only through the services (four eyes, tie-outs, audit log)."""

    list_display = ["market", "month", "status", "soft_closed_by", "closed_by", "closed_at"]
    list_filter = ["market", "status"]


@admin.register(PeriodWorkbook)
class PeriodWorkbookAdmin(ReadOnlyAdmin):
    list_display = ["id", "market", "period", "status", "progress", "requested_by", "generated_at", "sha256"]
    list_filter = ["market", "status"]


class MarketFixedResource(resources.ModelResource):
    """Spreadsheet import of a party whose market is fixed once created: a row that would move a
    stored party to another market is refused as an invalid row naming the field. Saved, it would
    fail the party's shipments' composite key at commit and lose the whole import to an error page."""

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if instance.pk:
            stored = type(instance)._default_manager.filter(pk=instance.pk).values_list("market_id", flat=True).first()
            if stored is not None and stored != instance.market_id:
                raise ValidationError(
                    {"market": f"{instance} belongs to market {stored}; a market is fixed once created."}
                )


class MarketFixedOnceCreated:
    """ModelAdmin mixin for a party whose shipments hold its market (a composite foreign key):
    the market is set when it is created and shown read-only after, and an import (with
    import-export's admin mixin) refuses rows that change it."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "market"] if obj is not None and obj.pk else fields

    def get_resource_classes(self, request):
        return [modelresource_factory(self.model, resource_class=MarketFixedResource)]
