"""Admin: shipments (with a CSV import that goes through the same intake as the API), seller fee
schedules, and read-only billing runs and charge lines."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from simple_history.admin import SimpleHistoryAdmin

from settlement_ops.admin import ReadOnlyAdmin, ReadOnlyAdminMixin
from settlement_ops.errors import DomainError

from .intake import MAX_CSV_BYTES, parse_shipments_csv, shipments_intake
from .models import (
    BillingRun,
    ChargeLine,
    ChargeLineTotal,
    RatingException,
    SellerFeeLine,
    SellerFeeSchedule,
    Shipment,
    ShipmentEvent,
)


class ShipmentImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with a header row: tracking_number, vendor, seller, service, origin_zone, "
        "destination_zone, actual_weight_kg, length_cm, width_cm, height_cm, cod_amount, ship_date, ..."
    )


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 0
    readonly_fields = ["status", "occurred_at", "received_at"]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = [
        "tracking_number",
        "vendor",
        "seller",
        "market",
        "service_level",
        "actual_weight_kg",
        "ship_date",
        "status",
        "revision",
    ]
    list_filter = ["market", "status", "service_level"]
    search_fields = ["tracking_number"]
    raw_id_fields = ["vendor", "seller"]
    readonly_fields = ["revision", "created_at", "updated_at"]
    inlines = [ShipmentEventInline]
    change_list_template = "billing/admin_shipment_changelist.html"

    def get_urls(self):
        return [
            path("import-csv/", self.admin_site.admin_view(self.import_csv), name="billing_shipment_import")
        ] + super().get_urls()

    def import_csv(self, request):
        if not request.user.has_perm("billing.add_shipment"):
            return redirect("admin:billing_shipment_changelist")
        form = ShipmentImportForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > MAX_CSV_BYTES:
                    raise DomainError("The file is larger than 20 MB.", field="file")
                result = shipments_intake(
                    records=parse_shipments_csv(upload.read()), actor=request.user, source="admin"
                )
                messages.success(
                    request,
                    f"{result.accepted} shipment(s) accepted ({result.created} new, {result.updated} updated), "
                    f"{len(result.rejected)} rejected.",
                )
            except DomainError as error:
                messages.error(request, error.message)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "result": result,
            "opts": self.model._meta,
            "title": "Import shipments (CSV)",
        }
        return TemplateResponse(request, "billing/admin_shipment_import.html", context)


class SellerFeeLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SellerFeeLine
    extra = 0


# Read-only: schedules are drafted and approved on the staff pages or the API (four eyes), never
# edited here.
@admin.register(SellerFeeSchedule)
class SellerFeeScheduleAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ["market", "service_level", "name", "valid_from", "valid_to", "status", "vat_rate"]
    list_filter = ["market", "status", "service_level"]
    inlines = [SellerFeeLineInline]


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "market",
        "business_date",
        "status",
        "shipments_rated",
        "exception_count",
        "vendor_net_total",
        "seller_net_total",
        "stalled_since",
        "recovery_attempts",
        "next_recovery_at",
    ]
    list_filter = ["market", "status"]


@admin.register(ChargeLine)
class ChargeLineAdmin(ReadOnlyAdmin):
    list_display = ["id", "shipment", "generation", "kind", "vendor", "seller", "vendor_net", "seller_net", "run"]
    list_filter = ["kind", "market"]
    raw_id_fields = ["shipment", "run"]
    show_full_result_count = False


@admin.register(ChargeLineTotal)
class ChargeLineTotalAdmin(ReadOnlyAdmin):
    list_display = [
        "run",
        "chunk",
        "vendor",
        "seller",
        "service_level",
        "line_count",
        "vendor_net",
        "seller_net",
        "seller_vat",
    ]
    list_filter = ["service_level"]
    raw_id_fields = ["run", "chunk", "vendor", "seller"]
    show_full_result_count = False


@admin.register(RatingException)
class RatingExceptionAdmin(ReadOnlyAdmin):
    list_display = ["run", "shipment", "vendor", "code"]
    list_filter = ["code"]
