"""Compensation requests, versioned audit policies with quality attributes, audit results, QA
reviews, liable-party chargebacks (into payables and receivables), disputes, carrier guarantee
claims and corrective actions.

Invariants that belong to one row live here as database constraints: an amount > 0, one request
per market and external id, one result per request and attribute, one active policy per market,
four eyes on a policy and on a reversal, one chargeback per request, a chargeback to exactly the
party it names.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from billing.models import Shipment
from billing.payables.models import VendorDeduction, VendorInvoice
from billing.receivables.models import Invoice
from sellers.models import Seller
from settlement_ops.fields import money_field
from settlement_ops.models import JournalEntry, Market
from settlement_ops.money import CURRENCY_CHOICES
from vendors.models import Vendor

USER = settings.AUTH_USER_MODEL


def _user(**kwargs):
    return models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+", **kwargs)


class Instrument(models.TextChoices):
    VOUCHER = "voucher", "Voucher"
    COUPON = "coupon", "Coupon"
    REFUND = "refund", "Refund"
    CASH = "cash", "Cash"


class Reason(models.TextChoices):
    LOST = "lost", "Lost parcel"
    DAMAGED = "damaged", "Damaged parcel"
    LATE_DELIVERY = "late_delivery", "Late delivery"
    FAILED_DELIVERY = "failed_delivery", "Failed delivery"
    WRONG_ITEM = "wrong_item", "Wrong item"
    MISSING_ITEM = "missing_item", "Missing item"
    OTHER = "other", "Other"


class LiableParty(models.TextChoices):
    UNDECIDED = "", "Not decided"
    CARRIER = "carrier", "Carrier"
    SELLER = "seller", "Seller"
    PLATFORM = "platform", "Platform"


class ChargedParty(models.TextChoices):
    """Who a chargeback charges: the liable parties other than the platform."""

    CARRIER = "carrier", "Carrier"
    SELLER = "seller", "Seller"


class Verdict(models.TextChoices):
    PENDING = "pending", "Not audited yet"
    COMPLIANT = "compliant", "Compliant"
    NON_COMPLIANT = "non_compliant", "Non-compliant"
    NEEDS_REVIEW = "needs_review", "Needs review"


class CompensationRequest(models.Model):
    """A compensation paid to a buyer, as the service delivery team issued it.

    Idempotent by (market, external_id): the issuing system's id. `buyer_reference` is a
    pseudonym (never a name, e-mail or phone: intake refuses those). The amount is in the market's
    currency and > 0. The shipment is linked when we know the tracking number.
    """

    # Indexed by the (market, ...) indexes below; a separate one would only slow the audit down.
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+", db_index=False)
    external_id = models.CharField(max_length=64)
    order_number = models.CharField(max_length=64)
    tracking_number = models.CharField(max_length=64, blank=True)
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.PROTECT, related_name="compensation_requests"
    )
    buyer_reference = models.CharField(max_length=64)
    instrument = models.CharField(max_length=10, choices=Instrument.choices)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field()
    item_value = money_field(null=True, blank=True)
    agent = models.CharField(max_length=64, help_text="Issuing agent's id")
    team = models.CharField(max_length=64, blank=True)
    issued_at = models.DateTimeField()
    evidence = models.JSONField(default=list, blank=True, help_text="Evidence references (photos, tickets)")
    note = models.TextField(blank=True)
    source = models.CharField(max_length=8, default="api")
    # Audit outcome (set-based audit, services.audit_run).
    verdict = models.CharField(max_length=14, choices=Verdict.choices, default=Verdict.PENDING)
    # No index: the audit sets it on every request, and nothing looks requests up by policy.
    policy = models.ForeignKey(
        "AuditPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="requests", db_index=False
    )
    audited_at = models.DateTimeField(null=True, blank=True)
    # Who carries the cost: decided by the rules at audit, overridable by QA with a reason.
    liable_party = models.CharField(max_length=10, choices=LiableParty.choices, blank=True, default="")
    liable_basis = models.CharField(max_length=255, blank=True)
    liable_overridden = models.BooleanField(default=False)
    created_by = _user(null=True, blank=True, db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-issued_at", "-id"]
        permissions = [
            ("audit_compensationrequest", "Can audit compensation requests and decide the liable party"),
            ("export_compensationrequest", "Can export compensation data"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["market", "external_id"], name="compensation_unique_external_id"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="compensation_amount_positive"),
            models.CheckConstraint(
                condition=Q(item_value__isnull=True) | Q(item_value__gte=0), name="compensation_item_value_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(verdict="pending") | (Q(policy__isnull=False) & Q(audited_at__isnull=False)),
                name="compensation_audited_has_policy",
            ),
        ]
        indexes = [
            models.Index(fields=["market", "issued_at"]),
            models.Index(fields=["market", "order_number", "reason"]),
            # The audit's work list; a partial index, so auditing a request only removes it.
            models.Index(fields=["market"], condition=Q(verdict="pending"), name="compensation_pending"),
            models.Index(fields=["tracking_number"]),
            # The default order (newest issued first) of the request list: a first page reads an
            # index page instead of sorting every request.
            models.Index(fields=["-issued_at", "-id"], name="compensation_default_order"),
        ]

    def __str__(self) -> str:
        return f"{self.market_id}-{self.external_id}"

    @property
    def reference(self) -> str:
        return f"CMP {self.market_id}-{self.external_id}"


class AuditPolicy(models.Model):
    """One version of a market's compensation audit policy: draft -> active (approved by a user
    other than its author) -> retired when the next version is activated. Results point at the
    version that produced them, so a new version never rewrites past results."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(blank=True)
    # Daily QA sample: this share of compliant requests (all needs-review ones are sampled).
    sample_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("5"))
    # Seller chargebacks carry VAT (a tax invoice) where the market requires it.
    seller_charge_vat = models.BooleanField(default=False)
    # Days a seller has from ship date to hand the parcel over (liable party: dispatched late).
    dispatch_days = models.PositiveSmallIntegerField(default=1)
    # Service promise used when the carrier's contract has none (eligibility of late delivery).
    default_promise_days = models.PositiveSmallIntegerField(default=3)
    author = _user()
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = _user(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["market", "-version"]
        verbose_name_plural = "audit policies"
        permissions = [("approve_auditpolicy", "Can activate compensation audit policies")]
        constraints = [
            models.UniqueConstraint(fields=["market", "version"], name="audit_policy_unique_version"),
            models.UniqueConstraint(
                fields=["market"], condition=Q(status="active"), name="audit_policy_one_active_per_market"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("author")), name="audit_policy_four_eyes"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(approved_by__isnull=False), name="audit_policy_effective_approved"
            ),
            models.CheckConstraint(
                condition=Q(sample_percent__gte=0) & Q(sample_percent__lte=100), name="audit_policy_sample_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} policy v{self.version} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class QualityAttribute(models.Model):
    """One attribute of the Compensation Quality Audit, with its parameters (see audit.py for
    what each code checks and which parameters it reads). A failed `hard` attribute makes the
    request non-compliant; a failed `soft` one sends it to review."""

    class Code(models.TextChoices):
        ELIGIBILITY = "eligibility", "Eligibility from shipment events"
        AMOUNT_CAP = "amount_cap", "Amount within the policy cap"
        DUPLICATE = "duplicate", "No duplicate compensation"
        EVIDENCE = "evidence", "Evidence present"
        TIMELINESS = "timeliness", "Issued in time"
        AGENT_LIMIT = "agent_limit", "Within the agent's approval limit"

    class Severity(models.TextChoices):
        HARD = "hard", "Fail = non-compliant"
        SOFT = "soft", "Fail = needs review"

    policy = models.ForeignKey(AuditPolicy, on_delete=models.CASCADE, related_name="attributes")
    code = models.CharField(max_length=16, choices=Code.choices)
    description = models.CharField(max_length=255)
    params = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=4, choices=Severity.choices, default=Severity.HARD)
    history = HistoricalRecords()

    class Meta:
        ordering = ["policy", "code"]
        constraints = [models.UniqueConstraint(fields=["policy", "code"], name="quality_attribute_unique_code")]

    def __str__(self) -> str:
        return f"{self.policy} {self.code}"


class AuditResult(models.Model):
    """One attribute's result for one request under the policy version that audited it."""

    class Outcome(models.TextChoices):
        PASS = "pass", "Pass"
        FAIL = "fail", "Fail"
        NOT_APPLICABLE = "na", "Not applicable"

    # The unique (request, attribute) index serves lookups by request; each result row written by
    # the audit then maintains one index instead of three.
    request = models.ForeignKey(CompensationRequest, on_delete=models.CASCADE, related_name="results", db_index=False)
    # No database constraint on the attribute: the audit writes one result per request and
    # attribute (600,000 for 100,000 requests) and each checked foreign key costs a lookup at
    # commit. Attributes are never deleted (an active version is immutable, results PROTECT it in
    # Django, and the request's key above is checked by the database).
    attribute = models.ForeignKey(
        QualityAttribute, on_delete=models.PROTECT, related_name="results", db_index=False, db_constraint=False
    )
    outcome = models.CharField(max_length=4, choices=Outcome.choices)
    sentence = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "attribute__code"]
        constraints = [
            models.UniqueConstraint(fields=["request", "attribute"], name="audit_result_one_per_attribute"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.attribute_id} {self.outcome}"


class AuditRun(models.Model):
    """One set-based audit of a market's pending requests (nightly or by hand)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    policy = models.ForeignKey(AuditPolicy, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    audited = models.PositiveIntegerField(default=0)
    compliant = models.PositiveIntegerField(default=0)
    non_compliant = models.PositiveIntegerField(default=0)
    needs_review = models.PositiveIntegerField(default=0)
    amount_total = money_field()
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    started_by = _user(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Audit run {self.pk} {self.market_id}"


class IntakeUpload(models.Model):
    """A CSV/xlsx file kept between its preview and its confirmation (all or nothing)."""

    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    records = models.JSONField(default=list)
    uploaded_by = _user()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename


# --- Manual QA ------------------------------------------------------------------------------------


class QaSample(models.Model):
    """A request drawn into a market's daily QA sample (reproducible: seeded by market and day)."""

    request = models.ForeignKey(CompensationRequest, on_delete=models.CASCADE, related_name="samples")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    sample_date = models.DateField()
    why = models.CharField(max_length=20, help_text="needs_review | random")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sample_date", "request_id"]
        constraints = [models.UniqueConstraint(fields=["request", "sample_date"], name="qa_sample_unique")]

    def __str__(self) -> str:
        return f"{self.sample_date} {self.request_id}"


class QaReview(models.Model):
    """One QA user's scorecard for one request: a verdict per attribute with a comment."""

    request = models.ForeignKey(CompensationRequest, on_delete=models.CASCADE, related_name="reviews")
    reviewer = _user()
    verdict = models.CharField(max_length=14, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "reviewer"], name="qa_review_one_per_reviewer"),
            models.CheckConstraint(condition=~Q(verdict="pending"), name="qa_review_has_verdict"),
        ]

    def __str__(self) -> str:
        return f"Review {self.request_id} by {self.reviewer_id}"


class QaScore(models.Model):
    review = models.ForeignKey(QaReview, on_delete=models.CASCADE, related_name="scores")
    attribute = models.ForeignKey(QualityAttribute, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(max_length=4, choices=AuditResult.Outcome.choices)
    comment = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["review", "attribute__code"]
        constraints = [models.UniqueConstraint(fields=["review", "attribute"], name="qa_score_unique")]

    def __str__(self) -> str:
        return f"{self.review_id} {self.attribute_id} {self.outcome}"


# --- Chargebacks and disputes ------------------------------------------------------------------------


class Chargeback(models.Model):
    """The cost of a compensation charged to the party that caused it: a deduction from a
    carrier's next payment, or a charge (invoice) on a seller's next statement. One per request."""

    class Status(models.TextChoices):
        POSTED = "posted", "Posted"
        DISPUTED = "disputed", "Disputed"
        REVERSED = "reversed", "Reversed"

    request = models.OneToOneField(CompensationRequest, on_delete=models.PROTECT, related_name="chargeback")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    party = models.CharField(max_length=10, choices=ChargedParty.choices)
    vendor = models.ForeignKey(
        Vendor, null=True, blank=True, on_delete=models.PROTECT, related_name="compensation_chargebacks"
    )
    seller = models.ForeignKey(
        Seller, null=True, blank=True, on_delete=models.PROTECT, related_name="compensation_chargebacks"
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.POSTED)
    deduction = models.OneToOneField(
        VendorDeduction, null=True, blank=True, on_delete=models.PROTECT, related_name="chargeback"
    )
    invoice = models.OneToOneField(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="chargeback")
    reversal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = _user(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="chargeback_amount_positive"),
            models.CheckConstraint(
                condition=(Q(party="carrier") & Q(vendor__isnull=False) & Q(seller__isnull=True))
                | (Q(party="seller") & Q(seller__isnull=False) & Q(vendor__isnull=True)),
                name="chargeback_party_matches",
            ),
            models.CheckConstraint(
                condition=~Q(status="reversed") | Q(reversal_entry__isnull=False), name="chargeback_reversed_posted"
            ),
        ]

    def __str__(self) -> str:
        return f"Chargeback {self.pk} {self.get_party_display()} {self.currency} {self.amount}"

    @property
    def party_label(self) -> str:
        party = self.vendor if self.vendor_id else self.seller
        return f"{party.code} {getattr(party, 'legal_name', None) or getattr(party, 'name', '')}"


class Dispute(models.Model):
    """A party's objection to a chargeback: the vendor's (recorded by staff) or the seller's (in
    the portal). QA accepts or rejects; an accepted dispute is reversed when finance approves it
    (a user other than the one who accepted it)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REJECTED = "rejected", "Rejected"
        ACCEPTED = "accepted", "Accepted, reversal awaits approval"
        REVERSED = "reversed", "Reversed"

    OPEN_STATUSES = (Status.OPEN, Status.ACCEPTED)

    chargeback = models.ForeignKey(Chargeback, on_delete=models.PROTECT, related_name="disputes")
    raised_by = _user()
    raised_via = models.CharField(max_length=8, help_text="staff | portal")
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_by = _user(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=255, blank=True)
    approved_by = _user(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("decide_dispute", "Can accept or reject chargeback disputes"),
            ("approve_dispute", "Can approve the reversal of an accepted dispute"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["chargeback"], condition=Q(status__in=["open", "accepted"]), name="dispute_one_open"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("decided_by")), name="dispute_four_eyes"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.pk} on chargeback {self.chargeback_id}"


# --- Carrier guarantee claims --------------------------------------------------------------------------


class GuaranteeClaim(models.Model):
    """The late-delivery refunds a carrier owes under its contracts' guarantee, for one period."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        HONOURED = "honoured", "Honoured"
        PARTLY_HONOURED = "partly", "Partly honoured"

    number = models.CharField(max_length=40, unique=True)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="guarantee_claims")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    period_start = models.DateField()
    period_end = models.DateField()
    amount = money_field()
    amount_credited = money_field()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    credited_by = models.ForeignKey(
        VendorInvoice, null=True, blank=True, on_delete=models.PROTECT, related_name="guarantee_claims"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-period_end", "vendor_id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "period_start", "period_end"], name="guarantee_claim_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="guarantee_claim_positive"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def amount_open(self) -> Decimal:
        return self.amount - self.amount_credited


class GuaranteeClaimLine(models.Model):
    claim = models.ForeignKey(GuaranteeClaim, on_delete=models.CASCADE, related_name="lines")
    shipment = models.OneToOneField(Shipment, on_delete=models.PROTECT, related_name="guarantee_claim_line")
    tracking_number = models.CharField(max_length=64)
    promised_days = models.PositiveSmallIntegerField()
    actual_days = models.PositiveSmallIntegerField()
    freight = money_field()
    refund_percent = models.DecimalField(max_digits=5, decimal_places=2)
    amount = money_field()

    class Meta:
        ordering = ["claim", "tracking_number"]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.tracking_number} {self.amount}"


# --- Corrective actions ---------------------------------------------------------------------------------


class CorrectiveAction(models.Model):
    """A fix for a root cause, owned by someone, due by a date, linked to the attribute or the
    agent it addresses; the report compares the metric before and after `created_at`."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    attribute_code = models.CharField(max_length=16, choices=QualityAttribute.Code.choices, blank=True)
    agent = models.CharField(max_length=64, blank=True)
    owner = _user()
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    notes = models.TextField(blank=True)
    created_by = _user()
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["status", "due_date"]
        constraints = [
            models.CheckConstraint(condition=~Q(attribute_code="") | ~Q(agent=""), name="corrective_action_has_target"),
        ]

    def __str__(self) -> str:
        return self.title
