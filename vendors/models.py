"""Vendors, their bank accounts, contracts, contract versions, rate lines and surcharges.

Row invariants live here as database constraints. Two rules span rows and are enforced twice:
in the service (under a row lock on the vendor) and by PostgreSQL exclusion constraints
created in migration 0003 (no two effective contracts of a vendor/market/service overlap in time;
no two rate lines of one lane overlap in weight). The rating rule itself is in `vendors/pricing.py`.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from settlement_ops.fields import money_field, weight_field
from settlement_ops.models import Market
from settlement_ops.money import CURRENCY_CHOICES, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


def _percent(**kwargs):
    return models.DecimalField(max_digits=7, decimal_places=4, **kwargs)


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
    # When the paid-to bank account last changed (approved change request); risk checks read it.
    bank_details_changed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            # What a shipment's (vendor, market) key references: its market is its vendor's.
            models.UniqueConstraint(fields=["id", "market"], name="vendor_id_market_key"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.legal_name}"

    @property
    def is_blocked(self) -> bool:
        return self.status == self.Status.BLOCKED


class BankAccountFields(models.Model):
    """What identifies where money goes: IBAN/BIC (SEPA, UK) or a local account (ID, VN, UK)."""

    account_holder = models.CharField(max_length=200)
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)
    account_number = models.CharField(max_length=34, blank=True, help_text="Local account number (ID, VN, UK)")
    bank_code = models.CharField(max_length=20, blank=True, help_text="Sort code (UK) or local bank code")
    bank_name = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)

    class Meta:
        abstract = True

    @property
    def display_number(self) -> str:
        return self.iban or " ".join(filter(None, [self.bank_code, self.account_number]))


class VendorBankAccount(BankAccountFields):
    """A bank account payments go to. At most one active account per vendor; a new account
    only comes into being through an approved VendorBankChangeRequest."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="bank_accounts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["vendor", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor"], condition=Q(status="active"), name="vendor_one_active_bank_account"
            ),
            models.CheckConstraint(condition=~Q(iban="") | ~Q(account_number=""), name="bank_account_has_number"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor.code} {self.display_number}"


class VendorBankChangeRequest(BankAccountFields):
    """Maker-checker change of a vendor's bank details: requested by one user, decided by another."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="bank_change_requests")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=255, blank=True, help_text="Why the details change (vendor letter, ...)")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=255, blank=True)
    resulting_account = models.OneToOneField(
        VendorBankAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="change_request"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at"]
        permissions = [("approve_vendorbankchangerequest", "Can approve or reject bank detail changes")]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor"], condition=Q(status="pending"), name="bank_change_one_pending_per_vendor"
            ),
            models.CheckConstraint(condition=~Q(iban="") | ~Q(account_number=""), name="bank_change_has_number"),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")), name="bank_change_four_eyes"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", decided_by__isnull=True)
                | (~Q(status="pending") & Q(decided_by__isnull=False)),
                name="bank_change_decided_iff_not_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"Bank change {self.pk} for {self.vendor.code} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class Contract(models.Model):
    """A vendor's price agreement for one market and service level.

    Lifecycle: draft -> in_review -> active -> expired | terminated (in_review -> draft on
    rejection). Activation is approved by a user other than the author and the submitter.
    Contracts that were ever active ("effective": active, expired, terminated) of the same
    vendor, market and service level never overlap in [valid_from, valid_to] (valid_to null =
    open-ended), so a ship date finds at most one contract.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        TERMINATED = "terminated", "Terminated"

    # The statuses under which a contract prices shipments (rating rule 1): the one definition, which
    # the rating and audit SQL turn into their IN lists.
    EFFECTIVE_STATUSES = (Status.ACTIVE, Status.EXPIRED, Status.TERMINATED)

    reference = models.CharField(max_length=40, unique=True)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="contracts")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    service_level = models.CharField(max_length=30)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Inclusive; empty = open-ended")
    payment_terms_days = models.PositiveIntegerField(default=30)
    # Volumetric weight (kg) = length x width x height (cm) / divisor; 5000 or 6000 usual.
    volumetric_divisor = models.PositiveIntegerField(default=5000)
    # The carrier's on-time promise for this service (days from pickup to delivery) and what it
    # refunds of the freight charge when it is late (compensation: liable party, guarantee claims).
    on_time_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="On-time promise: days from pickup to delivery; empty = no promise"
    )
    late_refund_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Late-delivery guarantee: % of the freight charge refunded (100 = full); empty = none",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    terminated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    terminated_at = models.DateTimeField(null=True, blank=True)
    termination_reason = models.CharField(max_length=255, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-valid_from", "reference"]
        permissions = [
            ("approve_contract", "Can approve, reject and terminate contracts and versions"),
            ("export_contract", "Can export contracts and rate cards"),
        ]
        indexes = [models.Index(fields=["vendor", "market", "service_level", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")), name="contract_valid_range"
            ),
            models.CheckConstraint(condition=Q(volumetric_divisor__gt=0), name="contract_divisor_positive"),
            models.CheckConstraint(
                condition=Q(late_refund_percent__isnull=True)
                | (Q(late_refund_percent__gt=0) & Q(late_refund_percent__lte=100)),
                name="contract_late_refund_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("author")), name="contract_four_eyes_author"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(submitted_by__isnull=True)
                | ~Q(approved_by=F("submitted_by")),
                name="contract_four_eyes_submitter",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["active", "expired", "terminated"]) | Q(approved_by__isnull=False),
                name="contract_effective_needs_approval",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.vendor.code} {self.service_level}"

    @property
    def is_effective(self) -> bool:
        return self.status in self.EFFECTIVE_STATUSES

    def covers(self, day) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class ContractVersion(models.Model):
    """A numbered set of rate lines and surcharges of a contract, in force from `effective_from`.

    For a ship date the version used is the active version with the latest effective_from on or
    before that date. A version activated after its effective_from is a retroactive amendment:
    shipments re-rated after activation get its prices.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    effective_from = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    notes = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="contract_version_number_unique"),
            models.UniqueConstraint(
                fields=["contract", "effective_from"],
                condition=Q(status="active"),
                name="contract_version_one_active_per_day",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="contract_version_number_positive"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="contract_version_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | (Q(approved_by__isnull=False) & Q(activated_at__isnull=False)),
                name="contract_version_active_needs_approval",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract.reference} v{self.number}"

    @property
    def is_retroactive(self) -> bool:
        """An amendment activated after the date it applies from (the first version of a new
        contract is not an amendment, whatever its start date)."""
        return self.number > 1 and self.activated_at is not None and self.activated_at.date() > self.effective_from

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class RateLine(models.Model):
    """One price of a lane and weight bracket.

    Bracket rule: a line applies to chargeable weights W with weight_from_kg < W <= weight_to_kg
    (from exclusive, to inclusive), so brackets (0, 1], (1, 5], (5, 30] meet without gaps or
    doubles. Price = max(base_price + ceil((W - weight_from_kg) / additional_step_kg) x
    price_per_additional_kg, minimum_charge). `service_level` repeats the contract's so rating can
    join shipments to lines directly.
    """

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="rate_lines")
    service_level = models.CharField(max_length=30)
    origin_zone = models.CharField(max_length=30)
    destination_zone = models.CharField(max_length=30)
    weight_from_kg = weight_field(help_text="exclusive")
    weight_to_kg = weight_field(help_text="inclusive")
    base_price = money_field()
    price_per_additional_kg = money_field(help_text="price per additional step above weight_from_kg")
    additional_step_kg = weight_field(default=Decimal("1"))
    minimum_charge = money_field()

    class Meta:
        ordering = ["version", "service_level", "origin_zone", "destination_zone", "weight_from_kg"]
        indexes = [models.Index(fields=["version", "service_level", "origin_zone", "destination_zone"])]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "service_level", "origin_zone", "destination_zone", "weight_from_kg"],
                name="rate_line_unique_bracket_start",
            ),
            models.CheckConstraint(condition=Q(weight_from_kg__gte=0), name="rate_line_from_non_negative"),
            models.CheckConstraint(condition=Q(weight_to_kg__gt=F("weight_from_kg")), name="rate_line_bracket_order"),
            models.CheckConstraint(condition=Q(additional_step_kg__gt=0), name="rate_line_step_positive"),
            models.CheckConstraint(
                condition=Q(base_price__gte=0) & Q(price_per_additional_kg__gte=0) & Q(minimum_charge__gte=0),
                name="rate_line_prices_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_level} {self.origin_zone}->{self.destination_zone} ({self.weight_from_kg}, {self.weight_to_kg}]"

    def clean(self):
        errors = {}
        if self.weight_from_kg is not None and self.weight_from_kg < 0:
            errors["weight_from_kg"] = "must be 0 or more"
        if None not in (self.weight_from_kg, self.weight_to_kg) and self.weight_to_kg <= self.weight_from_kg:
            errors["weight_to_kg"] = "must be greater than weight_from_kg"
        if self.additional_step_kg is not None and self.additional_step_kg <= 0:
            errors["additional_step_kg"] = "must be greater than zero"
        for name in ("base_price", "price_per_additional_kg", "minimum_charge"):
            value = getattr(self, name)
            if value is not None and value < 0:
                errors[name] = "cannot be negative"
        if self.version_id and self.service_level and self.service_level != self.version.contract.service_level:
            errors["service_level"] = f"must be the contract's service level {self.version.contract.service_level!r}"
        if errors:
            raise ValidationError(errors)


class Surcharge(models.Model):
    """An extra charge of a contract version; exactly one of `percent` or `flat_amount`.

    When each kind applies, and what a percent is of, is defined in `vendors/pricing.py`.
    """

    class Kind(models.TextChoices):
        FUEL = "fuel", "Fuel"
        REMOTE_AREA = "remote_area", "Remote area"
        OVERSIZE = "oversize", "Oversize"
        COD = "cod", "Cash on delivery"
        PEAK = "peak", "Peak season"
        RETURNS = "returns", "Returns"

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="surcharges")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    percent = _percent(null=True, blank=True)
    flat_amount = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, null=True, blank=True
    )
    valid_from = models.DateField(null=True, blank=True, help_text="Inclusive; empty = from the version's start")
    valid_to = models.DateField(null=True, blank=True, help_text="Inclusive; empty = open-ended")
    zone = models.CharField(max_length=30, blank=True, help_text="Remote area: the destination zone it applies to")
    dimension_threshold_cm = models.DecimalField(
        max_digits=7,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="Oversize: applies when the longest side exceeds this",
    )
    minimum_amount = money_field()

    class Meta:
        ordering = ["version", "kind", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(percent__isnull=False) & Q(flat_amount__isnull=True))
                | (Q(percent__isnull=True) & Q(flat_amount__isnull=False)),
                name="surcharge_percent_xor_flat",
            ),
            models.CheckConstraint(
                condition=(Q(percent__isnull=True) | Q(percent__gte=0))
                & (Q(flat_amount__isnull=True) | Q(flat_amount__gte=0))
                & Q(minimum_amount__gte=0),
                name="surcharge_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True) | Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="surcharge_valid_range",
            ),
            models.CheckConstraint(
                condition=~Q(kind="remote_area") | ~Q(zone=""), name="surcharge_remote_area_needs_zone"
            ),
            models.CheckConstraint(
                condition=~Q(kind="oversize") | Q(dimension_threshold_cm__gt=0),
                name="surcharge_oversize_needs_threshold",
            ),
            models.CheckConstraint(
                condition=~Q(kind="peak") | (Q(valid_from__isnull=False) & Q(valid_to__isnull=False)),
                name="surcharge_peak_needs_period",
            ),
        ]

    def __str__(self) -> str:
        value = f"{self.percent}%" if self.percent is not None else f"{self.flat_amount}"
        return f"{self.get_kind_display()} {value}"

    def clean(self):
        errors = {}
        if (self.percent is None) == (self.flat_amount is None):
            errors["percent"] = "give either percent or flat_amount, not both or neither"
        if self.percent is not None and self.percent < 0:
            errors["percent"] = "cannot be negative"
        if self.flat_amount is not None and self.flat_amount < 0:
            errors["flat_amount"] = "cannot be negative"
        if self.minimum_amount is not None and self.minimum_amount < 0:
            errors["minimum_amount"] = "cannot be negative"
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            errors["valid_to"] = "must be on or after valid_from"
        if self.kind == self.Kind.REMOTE_AREA and not self.zone:
            errors["zone"] = "a remote-area surcharge needs the destination zone"
        if self.kind == self.Kind.OVERSIZE and not (self.dimension_threshold_cm and self.dimension_threshold_cm > 0):
            errors["dimension_threshold_cm"] = "an oversize surcharge needs a dimension threshold above 0"
        if self.kind == self.Kind.PEAK and not (self.valid_from and self.valid_to):
            errors["valid_from"] = "a peak surcharge needs valid_from and valid_to (the peak season)"
        if errors:
            raise ValidationError(errors)

    def applies_on(self, day) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day <= self.valid_to)


# The order of surcharge lines on a quote and of the surcharge amount columns on a charge line and
# an invoice line: the order `Surcharge.Kind` declares them. The one list of surcharge kinds.
SURCHARGE_ORDER: tuple[str, ...] = tuple(kind.value for kind in Surcharge.Kind)
