from django.db import models
from simple_history.models import HistoricalRecords

from settlement_ops.models import Market


class Vendor(models.Model):
    """A logistics vendor the platform pays (carrier, line-haul, last-mile, warehouse)."""

    class Type(models.TextChoices):
        FIRST_MILE = "first_mile", "First-mile carrier"
        LINE_HAUL = "line_haul", "Line-haul"
        LAST_MILE = "last_mile", "Last-mile carrier"
        WAREHOUSE = "warehouse", "Warehouse"
        THREE_PL = "3pl", "3PL"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"
        INACTIVE = "inactive", "Inactive"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="vendors")
    code = models.CharField(max_length=30, unique=True)
    legal_name = models.CharField(max_length=200)
    vendor_type = models.CharField(max_length=12, choices=Type.choices)
    vat_number = models.CharField(max_length=30, blank=True)
    contact_name = models.CharField(max_length=100, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    payment_terms_days = models.PositiveIntegerField(default=30)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.legal_name}"

    @property
    def is_blocked(self) -> bool:
        return self.status == self.Status.BLOCKED
