from django.contrib import admin
from import_export.admin import ImportExportMixin
from simple_history.admin import SimpleHistoryAdmin

from .models import Vendor


@admin.register(Vendor)
class VendorAdmin(ImportExportMixin, SimpleHistoryAdmin):
    list_display = ["code", "legal_name", "market", "vendor_type", "status"]
    list_filter = ["market", "vendor_type", "status"]
    search_fields = ["code", "legal_name"]
