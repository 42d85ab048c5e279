from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from settlement_ops.models import Market


class Seller(models.Model):
    """A marketplace seller: owes logistics fees and charged compensation (receivable)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="sellers")
    code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200)
    vat_number = models.CharField(max_length=30, blank=True)
    email = models.EmailField()
    # Collected as a deduction from the seller's payout instead of a bank collection.
    net_from_payout = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def language(self) -> str:
        return self.market.language


class SellerUser(models.Model):
    """Links a portal user to exactly one seller; everything they see is scoped by it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="seller_link")
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="users")

    def __str__(self) -> str:
        return f"{self.user} @ {self.seller.code}"
