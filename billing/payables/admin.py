from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import InvoiceColumnMapping, Payable, PaymentRun, VendorAuditPolicy, VendorDeduction, VendorInvoice


@admin.register(VendorInvoice)
class VendorInvoiceAdmin(SimpleHistoryAdmin):
    list_display = ["number", "vendor", "kind", "invoice_date", "gross_total", "approved_total", "status"]
    list_filter = ["status", "kind", "market"]
    search_fields = ["number", "vendor__code"]

    def has_change_permission(self, request, obj=None):
        return False  # changed through the audit pages only


@admin.register(Payable)
class PayableAdmin(SimpleHistoryAdmin):
    list_display = ["id", "vendor", "kind", "amount", "due_date", "status", "on_hold"]
    list_filter = ["status", "kind", "on_hold"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PaymentRun)
class PaymentRunAdmin(SimpleHistoryAdmin):
    list_display = ["number", "market", "pay_date", "total_amount", "status"]

    def has_change_permission(self, request, obj=None):
        return False


admin.site.register([InvoiceColumnMapping, VendorAuditPolicy, VendorDeduction], SimpleHistoryAdmin)
