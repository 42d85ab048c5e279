from django.contrib import admin
from import_export.admin import ImportExportMixin
from simple_history.admin import SimpleHistoryAdmin

from settlement_ops.admin import MarketFixedOnceCreated

from .models import Seller, SellerUser


@admin.register(Seller)
class SellerAdmin(MarketFixedOnceCreated, ImportExportMixin, SimpleHistoryAdmin):
    list_display = ["code", "name", "market", "status", "net_from_payout"]
    list_filter = ["market", "status"]
    search_fields = ["code", "name", "legal_name"]


@admin.register(SellerUser)
class SellerUserAdmin(admin.ModelAdmin):
    list_display = ["user", "seller"]
