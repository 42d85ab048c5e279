"""Shipments, seller fee schedules, billing runs and the charge lines they write.

What later apps build on (payables = vendor invoice audit and AP, receivables = AR):

* ``Shipment`` — one parcel of one vendor, unique by (vendor, tracking_number). Re-sending a
  shipment updates it; a change to a rating input (weight, dimensions, zones, service, COD, ship
  date, returned status) bumps ``revision`` so the next billing run re-rates it.
* ``ChargeLine`` — one rating of one shipment on BOTH sides (vendor cost and seller fee), from the
  same inputs, per rating ``generation``. Generation 1 is the original rating; a later generation
  is a *delta* (a contract amendment or corrected shipment data) whose amounts are the difference
  to everything rated before, so the amounts of all lines of a shipment sum to its current
  charge and no line is ever edited. AP reads the ``vendor_*`` columns, AR the ``seller_*``.
* ``BillingRun`` / ``BillingRunChunk`` — run state lives here, not in the broker: a run for a
  market and business date is split into chunks (shipment id ranges), each chunk writes its charge
  lines and exceptions in one transaction; ``BillingRunEntry`` links a run and vendor to its
  ledger entry (one per run and vendor).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Count, F, Q, Sum
from simple_history.models import HistoricalRecords

from sellers.models import Seller
from settlement_ops.fields import money_field, weight_field
from settlement_ops.models import JournalEntry, Market
from settlement_ops.money import CURRENCY_CHOICES
from vendors.models import SURCHARGE_ORDER, ContractVersion, RateLine, Surcharge, Vendor


def _dimension(**kwargs):
    return models.DecimalField(max_digits=7, decimal_places=1, **kwargs)


class Shipment(models.Model):
    """A parcel a vendor carried for a seller, as pushed by the integration (API, CSV, admin).

    COD value is in the market's currency. Weight may be missing on intake (some vendors send it
    later); such a shipment is listed as a rating exception until it is known.
    """

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        PICKED_UP = "picked_up", "Picked up"
        IN_TRANSIT = "in_transit", "In transit"
        DELIVERED = "delivered", "Delivered"
        RETURNED = "returned", "Returned"
        LOST = "lost", "Lost"
        DAMAGED = "damaged", "Damaged"

    # Fields whose change makes a rated shipment need re-rating (bumps `revision`).
    RATING_FIELDS = (
        "market_id",
        "seller_id",
        "service_level",
        "origin_zone",
        "destination_zone",
        "actual_weight_kg",
        "length_cm",
        "width_cm",
        "height_cm",
        "cod_amount",
        "ship_date",
        "is_return",
    )

    # No single-column indexes on the three keys: each is the first column of an index below
    # ((market, ship_date), (market, updated_at), (seller, ship_date), unique (vendor, tracking
    # number)), which serves the same lookups; every extra index is paid on each intake row.
    # The database checks them as two composite foreign keys, (vendor, market) -> the vendor's
    # (id, market) and (seller, market) -> the seller's (billing 0013): a shipment's market is its
    # vendor's and its seller's, and an intake row pays two checks instead of three.
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, related_name="shipments", db_index=False, db_constraint=False
    )
    seller = models.ForeignKey(
        Seller, on_delete=models.PROTECT, related_name="shipments", db_index=False, db_constraint=False
    )
    tracking_number = models.CharField(max_length=64)
    service_level = models.CharField(max_length=30)
    origin_zone = models.CharField(max_length=30)
    destination_zone = models.CharField(max_length=30)
    actual_weight_kg = weight_field(null=True, blank=True)
    length_cm = _dimension(null=True, blank=True)
    width_cm = _dimension(null=True, blank=True)
    height_cm = _dimension(null=True, blank=True)
    cod_amount = money_field(help_text="Cash to collect on delivery, in the market's currency; 0 = none")
    ship_date = models.DateField()
    delivered_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CREATED)
    # Set once the shipment was ever returned to the seller: the returns surcharge/fee applies.
    is_return = models.BooleanField(default=False)
    revision = models.PositiveIntegerField(default=1, help_text="Bumped when a rating input changes")
    created_at = models.DateTimeField(auto_now_add=True)
    # The change marker billing runs plan by (billing.rating.Since): every writer of a shipment,
    # bulk SQL included, sets it, or the next run would not look at the change.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-ship_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "tracking_number"], name="shipment_unique_per_vendor"),
            models.CheckConstraint(
                condition=Q(actual_weight_kg__isnull=True) | Q(actual_weight_kg__gt=0), name="shipment_weight_positive"
            ),
            models.CheckConstraint(
                condition=(Q(length_cm__isnull=True) | Q(length_cm__gt=0))
                & (Q(width_cm__isnull=True) | Q(width_cm__gt=0))
                & (Q(height_cm__isnull=True) | Q(height_cm__gt=0)),
                name="shipment_dimensions_positive",
            ),
            models.CheckConstraint(condition=Q(cod_amount__gte=0), name="shipment_cod_non_negative"),
            models.CheckConstraint(
                condition=Q(delivered_date__isnull=True) | Q(delivered_date__gte=F("ship_date")),
                name="shipment_delivered_after_ship",
            ),
        ]
        indexes = [
            models.Index(fields=["market", "ship_date"]),
            models.Index(fields=["tracking_number"]),
            models.Index(fields=["seller", "ship_date"]),
            # What changed since the last completed run: the next run's candidates.
            models.Index(fields=["market", "updated_at"], name="shipment_market_changed"),
            # The default order of the shipment list and API (newest first): a first page reads
            # an index page instead of sorting every shipment.
            models.Index(fields=["-ship_date", "-id"], name="shipment_default_order"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} ({self.vendor_id})"

    @property
    def has_dimensions(self) -> bool:
        return None not in (self.length_cm, self.width_cm, self.height_cm)


class ShipmentEvent(models.Model):
    """A status event as the vendor reported it; re-sending the same event is a no-op."""

    # Indexed by the unique (shipment, status, occurred_at), whose first column it is.
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events", db_index=False)
    status = models.CharField(max_length=12, choices=Shipment.Status.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shipment", "occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "status", "occurred_at"], name="shipment_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.status} {self.occurred_at:%Y-%m-%d %H:%M}"


class SellerFeeSchedule(models.Model):
    """The logistics fee the platform charges sellers, per market and service level.

    Sellers get one published price list per service: zone-independent, by chargeable-weight
    bracket (the same bracket rule as vendor rate lines: from exclusive, to inclusive, additional
    steps above the bracket start, a minimum), plus a COD fee (percent of the COD value, with a
    minimum) and a flat returns fee. VAT at `vat_rate` (the market's standard rate) is added.
    The fee is rated in the same pass and from the same shipment data as the vendor cost, so a
    run shows the margin.

    Four eyes, like contracts: a schedule is drafted with its lines (`created_by`), then approved
    or rejected by someone else (`approved_by` / `rejected_by`); only approved schedules rate.
    An approved schedule is in force from `valid_from` until its `valid_to`, or until the next
    approved schedule of the market and service starts, whichever comes first (the latest
    `valid_from` on or before the ship date wins). Rows from before four eyes were migrated as
    approved without a maker or approver.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        RETIRED = "retired", "Retired"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    service_level = models.CharField(max_length=30)
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Inclusive; empty = open-ended")
    volumetric_divisor = models.PositiveIntegerField(default=5000)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="percent")
    cod_fee_percent = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal("0"))
    cod_fee_minimum = money_field()
    returns_fee = money_field()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["market", "service_level", "-valid_from"]
        permissions = [("approve_sellerfeeschedule", "Can approve and reject seller fee schedules")]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "service_level", "valid_from"],
                condition=Q(status="approved"),
                name="seller_fee_schedule_one_approved_per_start",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="seller_fee_schedule_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(rejected_by__isnull=True) | ~Q(rejected_by=F("created_by")),
                name="seller_fee_schedule_four_eyes_reject",
            ),
            # Approved means someone approved it, except rows from before four eyes (no maker).
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(approved_by__isnull=False) | Q(created_by__isnull=True),
                name="seller_fee_schedule_approved_needs_approver",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")), name="seller_fee_schedule_range"
            ),
            models.CheckConstraint(condition=Q(volumetric_divisor__gt=0), name="seller_fee_schedule_divisor_positive"),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0)
                & Q(cod_fee_percent__gte=0)
                & Q(cod_fee_minimum__gte=0)
                & Q(returns_fee__gte=0),
                name="seller_fee_schedule_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.service_level} from {self.valid_from}"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    def covers(self, day) -> bool:
        """Within its own validity (a later approved schedule may still supersede it)."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class SellerFeeLine(models.Model):
    """One weight bracket of a seller fee schedule: (weight_from_kg, weight_to_kg]."""

    schedule = models.ForeignKey(SellerFeeSchedule, on_delete=models.CASCADE, related_name="lines")
    weight_from_kg = weight_field()
    weight_to_kg = weight_field()
    base_fee = money_field()
    fee_per_additional_step = money_field()
    additional_step_kg = weight_field(default=Decimal("1"))
    minimum_fee = money_field()

    class Meta:
        ordering = ["schedule", "weight_from_kg"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "weight_from_kg"], name="seller_fee_line_unique_start"),
            models.CheckConstraint(condition=Q(weight_from_kg__gte=0), name="seller_fee_line_from_non_negative"),
            models.CheckConstraint(condition=Q(weight_to_kg__gt=F("weight_from_kg")), name="seller_fee_line_order"),
            models.CheckConstraint(condition=Q(additional_step_kg__gt=0), name="seller_fee_line_step_positive"),
            models.CheckConstraint(
                condition=Q(base_fee__gte=0) & Q(fee_per_additional_step__gte=0) & Q(minimum_fee__gte=0),
                name="seller_fee_line_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"({self.weight_from_kg}, {self.weight_to_kg}] {self.base_fee}"


class BillingRun(models.Model):
    """Rating of a market's shipments shipped on or before `business_date` and not yet rated.

    Status: pending (planned, chunks queued) -> running -> posting (all chunks done; the per-vendor
    ledger entries are being written) -> completed. `failed` when a chunk failed for good; the
    sweep (`billing_runs_sweep`) resumes it after a back-off, and starting a run of the market
    resumes it first. At most one run per market is active at a time (database constraint), so a
    second start returns the active run. `max_shipment_id` is the watermark: the run covers
    shipments with id <= it; later arrivals go to the next run.

    Health (what the sweep found, shown on the run pages): the run's last progress is the later of
    `progress_at` (start or resume) and its chunks' `finished_at`; `stalled_since` is set when
    there was none for BILLING_STALL_AFTER; a failed run is retried `recovery_attempts` times
    (at `next_recovery_at`, doubling the wait) and, after BILLING_RECOVERY_MAX_ATTEMPTS, alerts
    finance once (`alerted_at`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        POSTING = "posting", "Posting"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Nightly schedule"
        MANUAL = "manual", "Started by a user"
        COMMAND = "command", "Command line"
        API = "api", "API"

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING, Status.POSTING)

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField(help_text="Rates shipments shipped on or before this date (market time)")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    max_shipment_id = models.BigIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    shipments_rated = models.PositiveIntegerField(default=0)
    exception_count = models.PositiveIntegerField(default=0)
    vendor_net_total = money_field()
    seller_net_total = money_field()
    seller_vat_total = money_field()
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Recovery (billing_runs_sweep). Progress itself is counted from the chunk rows (no hot row).
    progress_at = models.DateTimeField(null=True, blank=True, help_text="Started or last resumed")
    stalled_since = models.DateTimeField(null=True, blank=True, help_text="Last progress of a stalled run")
    stall_reason = models.TextField(blank=True)
    requeued_at = models.DateTimeField(null=True, blank=True, help_text="When the sweep last re-sent work")
    requeue_note = models.CharField(max_length=300, blank=True, help_text="What the sweep last re-sent")
    post_queued_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    recovery_attempts = models.PositiveIntegerField(default=0, help_text="Automatic resumes since the last manual one")
    next_recovery_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="Finance was e-mailed that recovery gave up")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("start_billingrun", "Can start and resume billing runs"),
            ("export_billing", "Can export billing runs and charge lines"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["market"],
                condition=Q(status__in=["pending", "running", "posting"]),
                name="billing_run_one_active_per_market",
            ),
        ]
        indexes = [models.Index(fields=["market", "business_date"])]

    def __str__(self) -> str:
        return f"Run {self.pk} {self.market_id} {self.business_date}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    def progress(self) -> dict:
        """Chunks done of all, rated and exceptions so far — counted from the chunk rows (the run
        row's own counters are filled when it is posted)."""
        agg = self.chunks.aggregate(
            done=Count("id", filter=Q(status="done")), rated=Sum("rated_count"), exceptions=Sum("exception_count")
        )
        done = agg["done"] or 0
        percent = (
            100
            if self.status == self.Status.COMPLETED
            else (int(100 * done / self.chunk_count) if self.chunk_count else 0)
        )
        return {
            "done": done,
            "total": self.chunk_count,
            "percent": percent,
            "rated": agg["rated"] or 0,
            "exceptions": agg["exceptions"] or 0,
        }

    @property
    def margin_total(self) -> Decimal:
        return self.seller_net_total - self.vendor_net_total

    def health(self) -> dict:
        """What the run pages and the API show: {"state", "label", "reason", "since",
        "attempt", "max_attempts", "next_at"}. States: pending, running, posting, stalled,
        retrying (failed, an automatic resume is due), failed (recovery gave up), completed."""
        max_attempts = settings.BILLING_RECOVERY_MAX_ATTEMPTS
        health = {
            "state": self.status,
            "label": self.get_status_display(),
            "reason": "",
            "since": None,
            "attempt": self.recovery_attempts,
            "max_attempts": max_attempts,
            "next_at": None,
        }
        if self.status == self.Status.FAILED:
            health.update(reason=self.error, since=self.failed_at)
            if self.recovery_attempts < max_attempts:
                health.update(
                    state="retrying",
                    label="Retrying",
                    attempt=self.recovery_attempts + 1,
                    next_at=self.next_recovery_at,
                )
        elif self.is_active and self.stalled_since is not None:
            health.update(state="stalled", label="Stalled", reason=self.stall_reason, since=self.stalled_since)
        return health


class BillingRunChunk(models.Model):
    """A shipment id range of a run, rated by one task in one transaction (all or nothing)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    first_shipment_id = models.BigIntegerField()
    last_shipment_id = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    rated_count = models.PositiveIntegerField(default=0)
    exception_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When its last message was sent and how many were, and when a worker last took one
    # (committed apart from the rating, so it outlives a killed worker's rollback). The sweep
    # re-sends a pending chunk nobody holds at once when its message was taken (the worker died),
    # else after a growing wait (the message was lost or is parked with a dead worker).
    queued_at = models.DateTimeField(null=True, blank=True)
    sends = models.PositiveIntegerField(default=0)
    taken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="billing_chunk_unique_seq"),
            models.CheckConstraint(
                condition=Q(last_shipment_id__gte=F("first_shipment_id")), name="billing_chunk_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.run_id} chunk {self.seq} [{self.first_shipment_id}, {self.last_shipment_id}]"


class ChargeLineQuerySet(models.QuerySet):
    def of_shipments(self, first, last=None):
        """The lines of shipments `first`..`last` (one shipment without `last`; ints or
        expressions such as OuterRef("pk")), by the primary key's range: there is no index on
        the shipment column (see ChargeLine.id)."""
        last = first if last is None else last
        return self.filter(
            pk__gte=first * ChargeLine.GENERATIONS + 1,
            pk__lte=last * ChargeLine.GENERATIONS + ChargeLine.GENERATIONS - 1,
        )

    def of_any_shipment(self, shipment_ids):
        """The lines of any of these shipments (a few: one key range each)."""
        ranges = Q()
        for shipment_id in shipment_ids:
            ranges |= Q(
                pk__gte=shipment_id * ChargeLine.GENERATIONS + 1, pk__lt=(shipment_id + 1) * ChargeLine.GENERATIONS
            )
        return self.filter(ranges) if ranges else self.none()


class ChargeLine(models.Model):
    """One rating of one shipment, vendor cost and seller fee side by side, in the market currency.

    `kind` original: the first rating (generation 1), amounts are the full charge.
    `kind` delta: a re-rating (generation > 1) after a retroactive contract amendment or a change of
    the shipment's rating inputs; amounts are new charge minus the sum of the earlier lines, so a
    shipment's current charge is the sum of its lines and history is never edited. The rating
    references (`contract_version`, `rate_line`, `seller_fee_schedule`, `chargeable_weight_kg`) are
    those of the rating itself, not differences.

    Vendor side: `vendor_net` = base + surcharges; `vendor_vat` is what the vendor will invoice on
    top (the audit compares it; the accrual posts net). Seller side: `seller_net` = the fee
    components, `seller_vat` at the schedule's VAT rate, `seller_gross` = net + VAT.
    """

    class Kind(models.TextChoices):
        ORIGINAL = "original", "Original"
        DELTA = "delta", "Delta (re-rating)"

    # One vendor amount column per surcharge kind, in SURCHARGE_ORDER: `vendor_<kind>`, except the
    # remote-area column, which is named `vendor_remote`.
    SURCHARGE_COLUMNS = {
        kind: "vendor_remote" if kind == Surcharge.Kind.REMOTE_AREA else f"vendor_{kind}" for kind in SURCHARGE_ORDER
    }
    # Every amount column, in table order (the rating statement writes them all).
    AMOUNT_COLUMNS = [
        "vendor_base",
        *SURCHARGE_COLUMNS.values(),
        "vendor_net",
        "vendor_vat",
        "vendor_gross",
        "seller_base",
        "seller_cod",
        "seller_returns",
        "seller_net",
        "seller_vat",
        "seller_gross",
    ]

    # Foreign keys without database constraints: the rating statement copies every id from the
    # rows it joins in the same transaction, so they are valid by construction, and on_delete=PROTECT
    # guards them in the ORM. PostgreSQL checks a foreign key with a trigger per inserted row;
    # for a million charge lines the checks cost more than the rating itself (measured with
    # `make bench`). `charge_lines_integrity` (registered with the nightly ledger check) proves
    # every line still points at its run, shipment and vendor. Single-column indexes are left out
    # where the composite indexes below serve the queries.
    # The key says which rating of which shipment the line is: shipment id x GENERATIONS +
    # generation (a check constraint holds it to that). So the primary key is also the guard
    # against double rating — a retried or concurrent chunk cannot write the same generation of a
    # shipment twice — and finds a shipment's lines by range (`ChargeLine.objects.of_shipments`,
    # `rating.lines_of_shipment_sql`): one index serves what a sequence key and a unique
    # (shipment, generation) index did, and every line of the nightly run costs one index entry
    # fewer (11% of a chunk's work: bench/rating_ideas.py).
    GENERATIONS = 10_000
    id = models.BigIntegerField(primary_key=True, editable=False)
    run = models.ForeignKey(
        BillingRun, on_delete=models.PROTECT, related_name="charge_lines", db_index=False, db_constraint=False
    )
    chunk = models.ForeignKey(
        BillingRunChunk, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    shipment = models.ForeignKey(
        Shipment, on_delete=models.PROTECT, related_name="charge_lines", db_index=False, db_constraint=False
    )
    generation = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    shipment_revision = models.PositiveIntegerField()
    # Denormalised from the shipment so totals by vendor, seller and service need no join.
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, related_name="charge_lines", db_index=False, db_constraint=False
    )
    seller = models.ForeignKey(
        Seller, on_delete=models.PROTECT, related_name="charge_lines", db_index=False, db_constraint=False
    )
    service_level = models.CharField(max_length=30)
    ship_date = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    contract_version = models.ForeignKey(
        ContractVersion, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    rate_line = models.ForeignKey(
        RateLine, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    seller_fee_schedule = models.ForeignKey(
        SellerFeeSchedule, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    chargeable_weight_kg = weight_field()
    seller_chargeable_weight_kg = weight_field()
    vendor_base = money_field()
    vendor_fuel = money_field()
    vendor_remote = money_field()
    vendor_oversize = money_field()
    vendor_cod = money_field()
    vendor_peak = money_field()
    vendor_returns = money_field()
    vendor_net = money_field()
    vendor_vat = money_field()
    vendor_gross = money_field()
    seller_base = money_field()
    seller_cod = money_field()
    seller_returns = money_field()
    seller_net = money_field()
    seller_vat = money_field()
    seller_gross = money_field()
    created_at = models.DateTimeField()

    objects = ChargeLineQuerySet.as_manager()

    class Meta:
        ordering = ["id"]  # by shipment, then generation
        constraints = [
            models.CheckConstraint(
                condition=Q(id=F("shipment_id") * 10_000 + F("generation"))
                & Q(generation__gte=1, generation__lt=10_000),
                name="charge_line_id_is_shipment_generation",
            ),
            models.CheckConstraint(
                condition=(Q(kind="original") & Q(generation=1)) | (Q(kind="delta") & Q(generation__gt=1)),
                name="charge_line_kind_matches_generation",
            ),
        ]
        # Each index costs the nightly run a share of its time (`make bench`), so only one beside
        # the primary key: a seller's lines (AR invoices and statements), keyed by run so a
        # run appends at one place per seller instead of all over the index. A run's own lines
        # are found through the primary key, by its chunks' shipment ranges
        # (selectors.run_charge_lines); its sums are in ChargeLineTotal. Lines by vendor are read
        # per shipment (the freight audit), through the primary key too.
        indexes = [models.Index(fields=["seller", "run"])]

    def __str__(self) -> str:
        return f"{self.shipment_id} g{self.generation} {self.kind}"

    @classmethod
    def of_shipments_sql(cls, alias: str, first: str, last: str | None = None) -> str:
        """SQL: the lines `alias` of shipments `first`..`last` (SQL expressions; one shipment
        without `last`), by the primary key's range, as `objects.of_shipments` does."""
        last = first if last is None else last
        # BIGINT before multiplying: a parameter arrives as an integer literal, and 300,000 x 10,000
        # is beyond INTEGER.
        g = cls.GENERATIONS
        return f"{alias}.id BETWEEN CAST({first} AS bigint) * {g} + 1 AND CAST({last} AS bigint) * {g} + {g - 1}"

    @classmethod
    def key_sql(cls, shipment: str, generation: str) -> str:
        """SQL: the id of a shipment's generation (both SQL expressions)."""
        return f"CAST({shipment} AS bigint) * {cls.GENERATIONS} + {generation}"

    @property
    def margin(self) -> Decimal:
        return self.seller_net - self.vendor_net


class ChargeLineTotal(models.Model):
    """A chunk's new charge lines summed per vendor, seller and service, written by the rating
    statement itself in the chunk's transaction, so it always agrees with the lines it sums.

    Posting a run and its totals page read these (a few thousand rows) instead of re-reading the
    run's charge lines (a million on a big night); `charge_lines_integrity` proves nightly that
    every run's totals still equal its lines. Keys without database constraints, like the lines.
    """

    run = models.ForeignKey(
        BillingRun, on_delete=models.PROTECT, related_name="line_totals", db_index=False, db_constraint=False
    )
    chunk = models.ForeignKey(
        BillingRunChunk, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    service_level = models.CharField(max_length=30)
    line_count = models.PositiveIntegerField()
    vendor_net = money_field()
    vendor_vat = money_field()
    seller_net = money_field()
    seller_vat = money_field()

    class Meta:
        ordering = ["run", "vendor", "seller", "service_level"]
        indexes = [models.Index(fields=["run", "vendor"])]

    def __str__(self) -> str:
        return f"Run {self.run_id} chunk {self.chunk_id} vendor {self.vendor_id} seller {self.seller_id} {self.service_level}"


class RatingException(models.Model):
    """A shipment a run could not rate; it stays unrated, so fixing the cause and re-running
    rates it. One row per run and shipment."""

    class Code(models.TextChoices):
        MISSING_WEIGHT = "missing_weight", "Missing weight"
        NO_CONTRACT = "no_contract", "No active contract"
        CONTRACT_BLOCKED = "contract_blocked", "Contract blocked from rating"
        NO_RATE_LINE = "no_rate_line", "No matching bracket"
        NO_SELLER_FEE = "no_seller_fee", "No seller fee schedule"
        NO_SELLER_FEE_LINE = "no_seller_fee_line", "No matching seller fee bracket"

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="exceptions")
    chunk = models.ForeignKey(BillingRunChunk, on_delete=models.CASCADE, related_name="+")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="rating_exceptions")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=20, choices=Code.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["run", "shipment"]
        constraints = [models.UniqueConstraint(fields=["run", "shipment"], name="rating_exception_unique")]
        indexes = [models.Index(fields=["run", "code"])]

    def __str__(self) -> str:
        return f"Run {self.run_id} {self.shipment_id} {self.code}"


class BillingRunEntry(models.Model):
    """The ledger entry of one run and vendor, with the totals it posted (from the charge lines)."""

    run = models.ForeignKey(BillingRun, on_delete=models.PROTECT, related_name="entries")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+")
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="+")
    line_count = models.PositiveIntegerField()
    vendor_net = money_field()
    seller_net = money_field()
    seller_vat = money_field()

    class Meta:
        ordering = ["run", "vendor"]
        constraints = [models.UniqueConstraint(fields=["run", "vendor"], name="billing_run_entry_unique")]

    def __str__(self) -> str:
        return f"Run {self.run_id} vendor {self.vendor_id} JE{self.entry_id}"
