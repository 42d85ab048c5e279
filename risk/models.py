"""Risk rules (versioned parameters per market), findings, cases, holds, and the nightly chain's
record of what ran.

A rule's parameters change by adding a new RuleVersion; findings keep the version that raised
them, so a change never rewrites past findings. A finding is deduplicated by (market, rule,
dedup key): the same condition tomorrow updates it (last seen, money at risk) instead of adding
another. Holds are the loss-stopping actions of a case; they act on the apps below through
their registries (payment-run exclusions and approval rules), never by flags those apps own.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from settlement_ops.fields import money_field
from settlement_ops.models import Market
from settlement_ops.money import CURRENCY_CHOICES

USER = settings.AUTH_USER_MODEL


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class RuleVersion(models.Model):
    """The parameters of one rule in one market, as of one version. Exactly one version per rule
    and market is current; older ones stay for the findings they raised."""

    rule_code = models.CharField(max_length=40)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    params = models.JSONField(default=dict)
    is_current = models.BooleanField(default=True)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["rule_code", "market", "-version"]
        permissions = [("change_ruleparams", "Can change risk rule parameters")]
        constraints = [
            models.UniqueConstraint(fields=["rule_code", "market", "version"], name="risk_rule_version_unique"),
            models.UniqueConstraint(
                fields=["rule_code", "market"], condition=Q(is_current=True), name="risk_rule_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_code} {self.market_id} v{self.version}"


class Finding(models.Model):
    class State(models.TextChoices):
        OPEN = "open", "Open"
        CASE = "case", "In a case"
        DISMISSED = "dismissed", "Dismissed"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    rule_code = models.CharField(max_length=40)
    rule_version = models.ForeignKey(RuleVersion, on_delete=models.PROTECT, related_name="findings")
    dedup_key = models.CharField(max_length=200)
    severity = models.CharField(max_length=6, choices=Severity.choices)
    title = models.CharField(max_length=255)
    subject_type = models.CharField(max_length=20, blank=True, help_text="vendor, seller or contract")
    subject_id = models.BigIntegerField(null=True, blank=True)
    subject_label = models.CharField(max_length=250, blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    money_at_risk = money_field()
    money_at_risk_eur = money_field(null=True, blank=True)
    evidence = models.JSONField(default=list, help_text="[{label, app, model, pk}] of the records behind it")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    case = models.ForeignKey("Case", null=True, blank=True, on_delete=models.PROTECT, related_name="findings")
    dismissed_reason = models.CharField(max_length=255, blank=True)
    dismissed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    first_seen_on = models.DateField()
    last_seen_on = models.DateField()
    seen_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-last_seen_on", "-money_at_risk_eur", "id"]
        permissions = [("export_risk", "Can export risk findings and cases")]
        constraints = [
            models.UniqueConstraint(fields=["market", "rule_code", "dedup_key"], name="risk_finding_dedup"),
            models.CheckConstraint(condition=Q(money_at_risk__gte=0), name="risk_finding_money_non_negative"),
            models.CheckConstraint(
                condition=~Q(state="dismissed") | ~Q(dismissed_reason=""), name="risk_finding_dismissed_has_reason"
            ),
            models.CheckConstraint(
                condition=(Q(state="case") & Q(case__isnull=False)) | (~Q(state="case") & Q(case__isnull=True)),
                name="risk_finding_case_iff_state",
            ),
        ]
        indexes = [models.Index(fields=["market", "state"]), models.Index(fields=["rule_code", "state"])]

    def __str__(self) -> str:
        return f"{self.rule_code}: {self.title}"


class RootCause(models.TextChoices):
    FRAUD = "fraud", "Fraud or attempted fraud"
    VENDOR_ERROR = "vendor_error", "Vendor billing error"
    MASTER_DATA = "master_data", "Master data error"
    CONTRACT_GAP = "contract_gap", "Contract gap or expiry"
    PROCESS = "process", "Process gap"
    SELLER_CREDIT = "seller_credit", "Seller credit risk"
    OPERATIONS = "operations", "Operational quality"
    FALSE_POSITIVE = "false_positive", "No issue (false positive)"
    OTHER = "other", "Other"


class Case(models.Model):
    """Findings grouped for investigation, with an owner, root cause, actions (holds) and a
    resolution. Closing a case that still has money at risk is requested by one person and
    approved by another."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ACTING = "acting", "Action taken"
        CLOSE_REQUESTED = "close_requested", "Close requested"
        CLOSED = "closed", "Closed"

    number = models.CharField(max_length=30, unique=True)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=255)
    owner = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    root_cause = models.CharField(max_length=20, choices=RootCause.choices, blank=True)
    root_cause_text = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    money_at_risk = money_field()
    money_stopped = money_field()
    money_recovered = money_field()
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    close_requested_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    close_requested_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("work_case", "Can open and work risk cases and propose holds"),
            ("approve_case_close", "Can approve closing a risk case with money at risk"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(money_at_risk__gte=0) & Q(money_stopped__gte=0) & Q(money_recovered__gte=0),
                name="risk_case_money_non_negative",
            ),
            models.CheckConstraint(
                condition=~Q(state="closed") | (Q(closed_by__isnull=False) & Q(closed_at__isnull=False)),
                name="risk_case_closed_recorded",
            ),
            # Four eyes on a requested close: the approver is not the requester.
            models.CheckConstraint(
                condition=Q(close_requested_by__isnull=True)
                | Q(closed_by__isnull=True)
                | ~Q(closed_by=models.F("close_requested_by")),
                name="risk_case_close_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_closed(self) -> bool:
        return self.state == self.State.CLOSED

    @property
    def money_open(self) -> Decimal:
        return max(self.money_at_risk - self.money_stopped - self.money_recovered, Decimal(0))


class Hold(models.Model):
    """A loss-stopping action of a case. Active from the moment it is placed; released only by
    another person than the one who placed it (four eyes)."""

    class Kind(models.TextChoices):
        VENDOR_PAYABLES = "vendor_payables", "Hold the vendor's payables"
        SELLER_PAYOUT = "seller_payout", "Hold the seller's payout"
        CONTRACT_RATING = "contract_rating", "Block the contract from rating"
        SECOND_APPROVER = "second_approver", "Second approver on the vendor's next payment run"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RELEASE_REQUESTED = "release_requested", "Release requested"
        RELEASED = "released", "Released"
        CONSUMED = "consumed", "Done (used by a payment run)"

    ACTIVE_STATUSES = (Status.ACTIVE, Status.RELEASE_REQUESTED)

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="holds")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    vendor = models.ForeignKey("vendors.Vendor", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    seller = models.ForeignKey("sellers.Seller", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    contract = models.ForeignKey("vendors.Contract", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount_stopped = money_field(help_text="What the hold kept from being paid when it was placed")
    placed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField()
    release_requested_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    release_note = models.CharField(max_length=255, blank=True)
    released_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    released_at = models.DateTimeField(null=True, blank=True)
    # Second approver: the finance approver who co-signed the vendor's next run, and that run.
    co_approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    co_approved_run = models.ForeignKey(
        "payables.PaymentRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-placed_at", "-id"]
        permissions = [
            ("propose_hold", "Can place holds on a risk case"),
            ("release_hold", "Can release risk holds (not one's own)"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=["vendor_payables", "second_approver"]) & Q(vendor__isnull=False))
                | (Q(kind="seller_payout") & Q(seller__isnull=False))
                | (Q(kind="contract_rating") & Q(contract__isnull=False)),
                name="risk_hold_subject_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(status="released") | (Q(released_by__isnull=False) & Q(released_at__isnull=False)),
                name="risk_hold_release_recorded",
            ),
            models.CheckConstraint(
                condition=Q(released_by__isnull=True) | ~Q(released_by=models.F("placed_by")),
                name="risk_hold_release_four_eyes",
            ),
            models.CheckConstraint(condition=Q(amount_stopped__gte=0), name="risk_hold_amount_non_negative"),
        ]
        indexes = [models.Index(fields=["kind", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.case.number})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def subject_label(self) -> str:
        subject = self.vendor or self.seller or self.contract
        if subject is None:
            return ""
        name = getattr(subject, "legal_name", "") or getattr(subject, "name", "")
        code = getattr(subject, "code", "") or getattr(subject, "reference", "")
        return f"{code} {name}".strip()


# --- The nightly chain -----------------------------------------------------------------------------


class NightlyRun(models.Model):
    """One market's nightly chain for one business date."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    business_date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-business_date", "market"]
        permissions = [("rerun_nightlystep", "Can re-run a failed nightly step")]
        constraints = [
            models.UniqueConstraint(fields=["market", "business_date"], name="risk_nightly_run_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.business_date}"

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class NightlyStep(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not applicable"

    run = models.ForeignKey(NightlyRun, on_delete=models.CASCADE, related_name="steps")
    seq = models.PositiveIntegerField()
    code = models.CharField(max_length=50)
    label = models.CharField(max_length=100)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "code"], name="risk_nightly_step_unique")]

    def __str__(self) -> str:
        return f"{self.run} {self.code}"

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
