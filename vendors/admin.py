"""Admin for master data; rate lines and surcharges are edited in draft versions only. Approvals
happen in the staff pages (services), never here."""

from django.contrib import admin
from import_export.admin import ImportExportMixin
from simple_history.admin import SimpleHistoryAdmin

from settlement_ops.admin import MarketFixedOnceCreated

from .models import Contract, ContractVersion, RateLine, Surcharge, Vendor, VendorBankAccount, VendorBankChangeRequest


@admin.register(Vendor)
class VendorAdmin(MarketFixedOnceCreated, ImportExportMixin, SimpleHistoryAdmin):
    list_display = ["code", "legal_name", "market", "vendor_type", "status", "bank_details_changed_at"]
    list_filter = ["market", "vendor_type", "status"]
    search_fields = ["code", "legal_name"]
    readonly_fields = ["bank_details_changed_at"]


@admin.register(VendorBankAccount)
class VendorBankAccountAdmin(SimpleHistoryAdmin):
    list_display = ["vendor", "account_holder", "iban", "account_number", "currency", "status", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["vendor__code", "iban", "account_number"]

    def has_add_permission(self, request):
        return False  # only an approved change request creates an account

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(VendorBankChangeRequest)
class VendorBankChangeRequestAdmin(SimpleHistoryAdmin):
    list_display = ["vendor", "iban", "account_number", "status", "requested_by", "requested_at", "decided_by"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in VendorBankChangeRequest._meta.fields]

    def has_add_permission(self, request):
        return False


class RateLineInline(admin.TabularInline):
    model = RateLine
    extra = 0


class SurchargeInline(admin.TabularInline):
    model = Surcharge
    extra = 0


@admin.register(Contract)
class ContractAdmin(SimpleHistoryAdmin):
    list_display = ["reference", "vendor", "market", "service_level", "valid_from", "valid_to", "status"]
    list_filter = ["market", "status", "service_level"]
    search_fields = ["reference", "vendor__code"]
    readonly_fields = [
        "status",
        "author",
        "submitted_by",
        "submitted_at",
        "approved_by",
        "approved_at",
        "terminated_by",
        "terminated_at",
    ]


@admin.register(ContractVersion)
class ContractVersionAdmin(SimpleHistoryAdmin):
    list_display = ["contract", "number", "effective_from", "status", "approved_by", "activated_at"]
    list_filter = ["status"]
    readonly_fields = ["status", "approved_by", "approved_at", "activated_at", "submitted_by", "submitted_at"]
    inlines = [RateLineInline, SurchargeInline]

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is None or obj.is_editable else []
