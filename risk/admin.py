from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Case, Finding, Hold, NightlyRun, NightlyStep, RuleVersion


class ReadOnlyAdmin(SimpleHistoryAdmin):
    """Risk records change through the risk pages and services only (four eyes, audit log)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ["id", "market", "rule_code", "severity", "title", "money_at_risk", "state", "last_seen_on"]
    list_filter = ["market", "rule_code", "state", "severity"]
    search_fields = ["title", "subject_label"]


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["number", "market", "title", "owner", "state", "money_at_risk", "money_stopped"]
    list_filter = ["market", "state", "root_cause"]
    search_fields = ["number", "title"]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "kind", "vendor", "seller", "contract", "status", "placed_by", "released_by"]
    list_filter = ["kind", "status", "market"]


@admin.register(RuleVersion)
class RuleVersionAdmin(ReadOnlyAdmin):
    list_display = ["rule_code", "market", "version", "is_current", "created_by", "created_at"]
    list_filter = ["rule_code", "market", "is_current"]


class NightlyStepInline(admin.TabularInline):
    model = NightlyStep
    extra = 0
    can_delete = False
    readonly_fields = ["seq", "code", "status", "attempts", "started_at", "finished_at", "counts", "error"]
    fields = readonly_fields


@admin.register(NightlyRun)
class NightlyRunAdmin(admin.ModelAdmin):
    list_display = ["market", "business_date", "status", "started_at", "finished_at"]
    list_filter = ["market", "status"]
    inlines = [NightlyStepInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
