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
        constraints = [
            # What a shipment's (seller, market) key references: its seller is of its market.
            models.UniqueConstraint(fields=["id", "market"], name="seller_id_market_key"),
        ]

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


# --- The consultation desk: settlement questions from sellers, answered from the ledger ---------


class TicketCategory(models.TextChoices):
    CHARGE = "charge", "Charge query"
    DOCUMENT = "document", "Invoice or statement query"
    PAYOUT = "payout", "Payment or payout"
    DISPUTE = "dispute", "Deduction or chargeback dispute"
    CONTRACT = "contract", "Contract or rate question"
    OTHER = "other", "Other"


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class ResolutionReason(models.TextChoices):
    EXPLAINED = "explained", "Charge explained, no error"
    CREDITED = "credited", "Over-charge credited"
    CORRECTED = "corrected", "Data corrected, no money moved"
    PAYOUT_INFO = "payout_info", "Payout status given"
    DISPUTE_UPHELD = "dispute_upheld", "Dispute upheld"
    DISPUTE_REJECTED = "dispute_rejected", "Dispute rejected"
    DUPLICATE = "duplicate", "Duplicate of another ticket"
    OTHER = "other", "Other"


OPEN_STATES = ["new", "open", "waiting", "escalated"]


class Ticket(models.Model):
    """A seller's settlement consultation. The SLA clock runs in the market's business hours;
    it stops while the ticket waits on the seller and the deadlines move by the paused time."""

    class State(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        WAITING = "waiting", "Waiting on seller"
        ESCALATED = "escalated", "Escalated"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Channel(models.TextChoices):
        PORTAL = "portal", "Seller portal"
        API = "api", "Another channel (API)"

    class ReferenceKind(models.TextChoices):
        NONE = "", "None"
        TRACKING = "tracking", "Tracking number"
        INVOICE = "invoice", "Invoice number"
        STATEMENT = "statement", "Statement"
        CHARGEBACK = "chargeback", "Chargeback"

    number = models.CharField(max_length=30, unique=True)
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="tickets")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=10, choices=TicketCategory.choices)
    priority = models.CharField(max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL)
    subject = models.CharField(max_length=200)
    reference_kind = models.CharField(max_length=10, choices=ReferenceKind.choices, blank=True)
    reference = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.PORTAL)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    tier = models.PositiveSmallIntegerField(default=1)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="desk_tickets"
    )
    # A reopen returns the ticket to whoever resolved it.
    last_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    first_response_due_at = models.DateTimeField()
    resolution_due_at = models.DateTimeField()
    first_responded_at = models.DateTimeField(null=True, blank=True)
    # The deadline the queue sorts by: first response until answered, then resolution (save()).
    sla_due_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    breach_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.CharField(max_length=20, choices=ResolutionReason.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    agent_replies = models.PositiveIntegerField(default=0)
    csat_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    csat_comment = models.TextField(blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged")
    # The AR credit note (or VN correction) proposed from this ticket: receivables.Invoice id.
    credit_note_invoice_id = models.BigIntegerField(null=True, blank=True)
    credit_note_number = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The queue: open tickets, most urgent first (LIMIT 50 walks the index, at any volume).
            models.Index(
                fields=["sla_due_at", "id"], condition=models.Q(state__in=OPEN_STATES), name="desk_open_due_idx"
            ),
            models.Index(
                fields=["market", "sla_due_at", "id"],
                condition=models.Q(state__in=OPEN_STATES),
                name="desk_open_market_due_idx",
            ),
            models.Index(fields=["seller", "-created_at"], name="desk_seller_idx"),
            models.Index(fields=["assignee", "state"], name="desk_assignee_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(csat_rating__isnull=True) | models.Q(csat_rating__gte=1, csat_rating__lte=5),
                name="desk_csat_1_to_5",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="resolved") | ~models.Q(resolution_reason=""),
                name="desk_resolved_has_reason",
            ),
        ]
        permissions = [
            ("work_desk_tier1", "Can answer seller consultations (tier 1)"),
            ("work_desk_tier2", "Can take escalated seller consultations (tier 2)"),
            ("manage_desk", "Can set SLAs, holidays and canned replies"),
        ]

    def __str__(self) -> str:
        return self.number

    _DEADLINE_FIELDS = {"first_response_due_at", "resolution_due_at", "first_responded_at"}

    def save(self, *args, **kwargs):
        self.sla_due_at = self.resolution_due_at if self.first_responded_at else self.first_response_due_at
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and self._DEADLINE_FIELDS & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "sla_due_at"}
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.state not in (self.State.RESOLVED, self.State.CLOSED)


class TicketMessage(models.Model):
    class Kind(models.TextChoices):
        SELLER = "seller", "Seller"
        REPLY = "reply", "Reply"
        NOTE = "note", "Internal note"  # never shown to the seller
        EVENT = "event", "Event"

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="messages")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket} {self.kind}"


def _attachment_path(instance, filename) -> str:
    # Stored under a generated name: the seller's file name is kept only as data.
    return f"desk/{instance.ticket_id}/{instance.storage_key}"


class TicketAttachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="attachments")
    message = models.ForeignKey(TicketMessage, on_delete=models.PROTECT, related_name="attachments")
    storage_key = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to=_attachment_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.original_name


class SlaPolicy(models.Model):
    """Business minutes to first response and to resolution, per market, category (blank: any)
    and priority. The most specific policy wins."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=10, choices=TicketCategory.choices, blank=True)
    priority = models.CharField(max_length=8, choices=TicketPriority.choices)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["market", "category", "priority"], name="desk_sla_unique"),
            models.CheckConstraint(
                condition=models.Q(first_response_minutes__gt=0, resolution_minutes__gt=0), name="desk_sla_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.category or 'any'} {self.priority}"


class BusinessCalendar(models.Model):
    """A market's desk hours, in its timezone (Market.timezone): weekdays 0=Monday."""

    market = models.OneToOneField(Market, on_delete=models.PROTECT, related_name="desk_calendar")
    opens = models.TimeField()
    closes = models.TimeField()
    weekdays = models.CharField(max_length=13, default="0,1,2,3,4", help_text="comma-separated, 0 = Monday")

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(closes__gt=models.F("opens")), name="desk_hours")]

    def __str__(self) -> str:
        return f"{self.market_id} {self.opens}-{self.closes}"


class PublicHoliday(models.Model):
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["market", "date"], name="desk_holiday_unique")]

    def __str__(self) -> str:
        return f"{self.market_id} {self.date} {self.name}"


class CannedReply(models.Model):
    title = models.CharField(max_length=100)
    language = models.CharField(max_length=8)
    category = models.CharField(max_length=10, choices=TicketCategory.choices, blank=True)
    body = models.TextField()

    class Meta:
        ordering = ["language", "title"]
        constraints = [models.UniqueConstraint(fields=["title", "language"], name="desk_canned_unique")]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"


class ChargeExplanation(models.Model):
    """One "explain this charge" lookup by a seller; `ticket` is set when a ticket on the same
    reference follows, so the self-service rate is measured."""

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="+")
    reference_kind = models.CharField(max_length=10)
    reference = models.CharField(max_length=64)
    found = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["seller", "reference", "-created_at"], name="desk_explain_idx")]

    def __str__(self) -> str:
        return f"{self.seller_id} {self.reference}"


class TicketCreditProposal(models.Model):
    """A credit note proposed from a ticket for an over-charge. An approver other than the
    proposer issues it through the AR credit-note service (four eyes); the ticket links to it."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ISSUED = "issued", "Issued"
        REJECTED = "rejected", "Rejected"

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="credit_proposals")
    # receivables.Invoice, by id: the desk sits below billing and refers to its documents by key.
    invoice_id = models.BigIntegerField()
    invoice_number = models.CharField(max_length=40)
    line_ids = models.JSONField(default=list, blank=True, help_text="Invoice lines to credit; empty = all")
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=18, decimal_places=4, help_text="Gross amount to credit")
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    credit_note_number = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-proposed_at"]
        permissions = [("approve_ticketcreditproposal", "Can issue a credit note proposed from a ticket")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="desk_credit_positive"),
            models.CheckConstraint(
                condition=~models.Q(status="issued") | ~models.Q(decided_by=models.F("proposed_by")),
                name="desk_credit_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket} credit on {self.invoice_number}"


# --- Seller health: nightly performance metrics, early warnings, outreach and plans -------------


class HealthWindow(models.IntegerChoices):
    WEEK = 7, "7 days"
    MONTH = 30, "30 days"
    QUARTER = 90, "90 days"


class VolumeBand(models.TextChoices):
    """The seller segment benchmarks compare within, by orders shipped in the last 30 days."""

    SMALL = "small", "Small (< 50 orders / 30 days)"
    MEDIUM = "medium", "Medium (50-499)"
    LARGE = "large", "Large (500+)"


def _rate(**kwargs):
    # A percentage with two decimals (12.50 = 12.5 %); null where the denominator is zero.
    return models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True, **kwargs)


class SellerMetricSnapshot(models.Model):
    """One seller's performance over a rolling window ending on a business date, written by the
    nightly statement (sellers.health.metrics); rerunning a night replaces that night's rows."""

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="+", db_index=False)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+", db_index=False)
    business_date = models.DateField()
    window_days = models.PositiveSmallIntegerField(choices=HealthWindow.choices)
    volume_band = models.CharField(max_length=6, choices=VolumeBand.choices)
    currency = models.CharField(max_length=3)
    orders_shipped = models.PositiveIntegerField()
    late_dispatch_rate = _rate()
    delivery_success_rate = _rate()
    return_rate = _rate()
    failed_delivery_rate = _rate()
    lost_damaged_rate = _rate()
    cod_failure_rate = _rate()
    avg_fee_per_parcel = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    overdue_ar = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    dso_days = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    chargebacks_per_100 = _rate()
    compensation_cost_per_100 = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    ticket_rate_per_100 = _rate()
    csat = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-business_date", "window_days"]
        constraints = [
            models.UniqueConstraint(fields=["seller", "business_date", "window_days"], name="health_snapshot_unique"),
        ]
        indexes = [models.Index(fields=["market", "business_date", "window_days"], name="health_snapshot_market")]

    def __str__(self) -> str:
        return f"{self.seller_id} {self.business_date} {self.window_days}d"


class MarketBenchmark(models.Model):
    """p50 and p90 of one metric across a market's sellers in one volume band, per night and window."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+", db_index=False)
    business_date = models.DateField()
    window_days = models.PositiveSmallIntegerField(choices=HealthWindow.choices)
    volume_band = models.CharField(max_length=6, choices=VolumeBand.choices)
    metric = models.CharField(max_length=40)
    sellers = models.PositiveIntegerField()
    p50 = models.DecimalField(max_digits=20, decimal_places=4, null=True)
    p90 = models.DecimalField(max_digits=20, decimal_places=4, null=True)

    class Meta:
        ordering = ["market", "-business_date", "window_days", "volume_band", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "business_date", "window_days", "volume_band", "metric"],
                name="health_benchmark_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.business_date} {self.metric} {self.volume_band}"


class WarningRuleSet(models.Model):
    """One version of a market's early-warning parameters: draft -> active (activated by a user other
    than its author) -> retired when the next version is activated. Warnings keep the version that
    raised them, so a new version never rewrites past warnings."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    params = models.JSONField(default=dict)
    note = models.CharField(max_length=255, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["market", "-version"]
        permissions = [("approve_warningruleset", "Can activate seller early-warning rules")]
        constraints = [
            models.UniqueConstraint(fields=["market", "version"], name="health_rules_unique_version"),
            models.UniqueConstraint(
                fields=["market"], condition=models.Q(status="active"), name="health_rules_one_active"
            ),
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("author")),
                name="health_rules_four_eyes",
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(approved_by__isnull=False),
                name="health_rules_effective_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} warning rules v{self.version} ({self.get_status_display()})"


class HealthWarning(models.Model):
    """An early warning on a seller: one per seller and rule while the condition lasts (updated each
    night it still holds, closed the first night it clears)."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="health_warnings")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    rule_code = models.CharField(max_length=30)
    rule_set = models.ForeignKey(WarningRuleSet, on_delete=models.PROTECT, related_name="warnings")
    severity = models.CharField(max_length=6, choices=Severity.choices)
    metric = models.CharField(max_length=40)
    value = models.DecimalField(max_digits=20, decimal_places=4)
    previous_value = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    benchmark = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN)
    first_seen_on = models.DateField()
    last_seen_on = models.DateField()
    nights_seen = models.PositiveIntegerField(default=1)
    closed_on = models.DateField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    seller_acknowledged_at = models.DateTimeField(null=True, blank=True)
    seller_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-last_seen_on", "id"]
        permissions = [("work_seller_health", "Can work seller health warnings, outreach and plans")]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "rule_code"], condition=models.Q(state="open"), name="health_warning_one_open"
            ),
            models.CheckConstraint(
                condition=models.Q(state="open", closed_on__isnull=True)
                | models.Q(state="closed", closed_on__isnull=False),
                name="health_warning_closed_has_date",
            ),
        ]
        indexes = [models.Index(fields=["market", "state", "severity"], name="health_warning_worklist")]

    def __str__(self) -> str:
        return f"{self.seller_id} {self.rule_code} ({self.state})"

    @property
    def trend(self):
        """The change since the previous week (same unit as the metric), when known."""
        return None if self.previous_value is None else self.value - self.previous_value


class OutreachContact(models.Model):
    class Channel(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "E-mail"
        MEETING = "meeting", "Meeting"
        PORTAL = "portal", "Portal message"

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="health_contacts")
    warning = models.ForeignKey(HealthWarning, null=True, blank=True, on_delete=models.PROTECT, related_name="contacts")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    notes = models.TextField()
    contacted_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-contacted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.seller_id} {self.channel} {self.contacted_at:%Y-%m-%d}"


class ImprovementPlan(models.Model):
    """Agreed actions with a target on one metric (30-day window) and a review date; on or after
    the review date the outcome compares the metric then with the baseline."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REVIEWED = "reviewed", "Reviewed"

    class Outcome(models.TextChoices):
        NONE = "", "Not reviewed"
        IMPROVED = "improved", "Improved"
        NOT_IMPROVED = "not_improved", "Not improved"
        WORSE = "worse", "Worse"

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="health_plans")
    warning = models.ForeignKey(HealthWarning, null=True, blank=True, on_delete=models.PROTECT, related_name="plans")
    metric = models.CharField(max_length=40)
    actions = models.TextField(help_text="The agreed actions, one per line")
    baseline_value = models.DecimalField(max_digits=20, decimal_places=4)
    target_value = models.DecimalField(max_digits=20, decimal_places=4)
    review_date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    review_value = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    seller_acknowledged_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", outcome="") | (models.Q(status="reviewed") & ~models.Q(outcome="")),
                name="health_plan_outcome_iff_reviewed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seller_id} plan on {self.metric} (review {self.review_date})"
