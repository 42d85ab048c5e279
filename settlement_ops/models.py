"""The financial kernel's data: markets, FX, the double-entry ledger, number sequences, audit log."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from schwifty import BIC, IBAN
from simple_history.models import HistoricalRecords

from .money import CURRENCY_CHOICES, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class RecordHistory(HistoricalRecords):
    """django-simple-history for rows written in bulk (invoices, receipts): the history is read by
    the object it records (and by date), so its copies of foreign keys and unique fields carry no
    index. Each such index cost a write on every change of the row and served no query."""

    def copy_fields(self, model):
        fields = super().copy_fields(model)
        for name, field in fields.items():
            if name != model._meta.pk.name:
                field.db_index = False
        return fields


class ImmutableRowError(Exception):
    """Raised when code tries to change or delete a posted ledger row."""


class Market(models.Model):
    code = models.CharField(max_length=2, primary_key=True, help_text="ISO 3166 country code")
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    vat_standard_rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="percent")
    vat_reduced_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    timezone = models.CharField(max_length=64)
    language = models.CharField(max_length=8)
    payment_terms_days = models.PositiveIntegerField(default=30)
    invoice_prefix = models.CharField(max_length=10)
    # Where tax law requires gapless invoice numbers per year (most of the EU, ID, VN).
    gapless_invoice_numbers = models.BooleanField(default=True)
    statement_cycle = models.CharField(
        max_length=10, choices=[("monthly", "Monthly"), ("weekly", "Weekly")], default="monthly"
    )
    is_active = models.BooleanField(default=True)
    # The platform's collection account in this market: dunning letters ask sellers to pay into it.
    collection_bank_name = models.CharField(max_length=100, blank=True)
    collection_account_holder = models.CharField(max_length=200, blank=True)
    collection_account_number = models.CharField(
        max_length=50, blank=True, help_text="IBAN where the market uses IBANs, else the local account number"
    )
    collection_bic = models.CharField("collection BIC / SWIFT", max_length=11, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        # Area-wide permissions that belong to no single table.
        permissions = [
            ("access_staff_pages", "Can use the staff pages"),
            ("access_seller_portal", "Can use the seller portal"),
            ("use_api", "Can use the REST API"),
            ("export_ledger", "Can export the ledger"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def has_collection_account(self) -> bool:
        return bool(self.collection_bank_name and self.collection_account_number)

    def clean(self):
        # Dunning letters print the collection account: a mistyped IBAN or BIC sends sellers' money nowhere.
        errors = {}
        number = self.collection_account_number.replace(" ", "").upper()
        if number[:2].isalpha() and number[2:4].isdigit():
            try:
                IBAN(number)
            except ValueError as exc:
                errors["collection_account_number"] = f"This IBAN is not valid: {exc}."
        if self.collection_bic:
            try:
                BIC(self.collection_bic)
            except ValueError as exc:
                errors["collection_bic"] = f"This BIC is not valid: {exc}."
        if bool(self.collection_bank_name) != bool(self.collection_account_number):
            errors["collection_bank_name"] = "Give the collection bank and its account number together."
        if errors:
            raise ValidationError(errors)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local_date(self, moment: datetime | None = None) -> date:
        """The market's business date at a moment (default: now)."""
        return timezone.localtime(moment or timezone.now(), self.tz).date()


class FxRate(models.Model):
    """Daily rate: 1 unit of `currency` = `rate` units of the reporting currency (EUR)."""

    rate_date = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    rate = models.DecimalField(max_digits=24, decimal_places=12)
    source = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-rate_date", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["rate_date", "currency"], name="fx_rate_unique_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="fx_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.rate_date} {self.currency} {self.rate}"


class AccountKind(models.TextChoices):
    BANK = "bank", "Bank"
    CLEARING = "clearing", "Clearing"
    SELLER_RECEIVABLE = "seller_receivable", "Seller receivable"
    UNBILLED_SELLER_RECEIVABLE = "unbilled_seller_receivable", "Unbilled seller receivable"
    VAT_INPUT = "vat_input", "VAT input (recoverable)"
    VENDOR_PAYABLE = "vendor_payable", "Vendor payable"
    ACCRUED_LOGISTICS_COST = "accrued_logistics_cost", "Accrued logistics cost"
    VAT_OUTPUT = "vat_output", "VAT output (payable)"
    SELLER_UNAPPLIED_CASH = "seller_unapplied_cash", "Seller unapplied cash"
    SELLER_PAYOUT_CLEARING = "seller_payout_clearing", "Seller payout clearing"
    LOGISTICS_REVENUE = "logistics_revenue", "Logistics revenue"
    LOGISTICS_COST = "logistics_cost", "Logistics cost"
    COMPENSATION_EXPENSE = "compensation_expense", "Compensation expense"
    BAD_DEBT_EXPENSE = "bad_debt_expense", "Bad debt expense"


# Chart of accounts: number and normal side per kind. Party accounts get a sub-account per party.
ACCOUNT_CHART = {
    AccountKind.BANK: ("1000", "asset"),
    AccountKind.CLEARING: ("1090", "asset"),
    AccountKind.SELLER_RECEIVABLE: ("1200", "asset"),
    AccountKind.UNBILLED_SELLER_RECEIVABLE: ("1210", "asset"),
    AccountKind.VAT_INPUT: ("1400", "asset"),
    AccountKind.VENDOR_PAYABLE: ("2000", "liability"),
    AccountKind.ACCRUED_LOGISTICS_COST: ("2100", "liability"),
    AccountKind.VAT_OUTPUT: ("2200", "liability"),
    AccountKind.SELLER_UNAPPLIED_CASH: ("2300", "liability"),
    AccountKind.SELLER_PAYOUT_CLEARING: ("2400", "liability"),
    AccountKind.LOGISTICS_REVENUE: ("4000", "income"),
    AccountKind.LOGISTICS_COST: ("5000", "expense"),
    AccountKind.COMPENSATION_EXPENSE: ("5100", "expense"),
    AccountKind.BAD_DEBT_EXPENSE: ("5200", "expense"),
}


class PartyType(models.TextChoices):
    NONE = "", "None"
    VENDOR = "vendor", "Vendor"
    SELLER = "seller", "Seller"


class Account(models.Model):
    """A ledger account of one market and currency, optionally for one party (vendor or seller).

    The kernel sits below the vendor and seller apps, so a party is referenced by type and id.
    """

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(max_length=40, choices=AccountKind.choices)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    party_type = models.CharField(max_length=10, choices=PartyType.choices, blank=True, default="")
    # 0 = no party (not NULL), so "one account per party" is a plain unique constraint everywhere.
    party_id = models.BigIntegerField(default=0)
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["market", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "kind", "currency", "party_type", "party_id"], name="account_unique_per_party"
            ),
            models.UniqueConstraint(fields=["market", "code", "currency"], name="account_code_unique"),
            models.CheckConstraint(
                condition=(Q(party_type="") & Q(party_id=0)) | (~Q(party_type="") & Q(party_id__gt=0)),
                name="account_party_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.code} {self.name} ({self.currency})"

    @property
    def normal_side(self) -> str:
        return "debit" if ACCOUNT_CHART[self.kind][1] in ("asset", "expense") else "credit"


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableRowError(f"{self.model.__name__} rows are immutable; post a reversal")

    def delete(self):
        raise ImmutableRowError(f"{self.model.__name__} rows are immutable; post a reversal")


class JournalEntry(models.Model):
    """A balanced set of postings. Immutable once written; corrected by a reversal entry."""

    # Indexed as the lead of (market, entry_date).
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="journal_entries", db_index=False)
    entry_date = models.DateField(help_text="Accounting date in the market's timezone")
    description = models.CharField(max_length=255)
    source_type = models.CharField(max_length=50, help_text="e.g. billing_run, vendor_invoice")
    source_id = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=200, unique=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["source_type", "source_id"]), models.Index(fields=["market", "entry_date"])]
        constraints = [
            # What a posting's composite foreign key references (see Posting).
            models.UniqueConstraint(fields=["id", "market", "entry_date"], name="journal_entry_market_date_key"),
        ]

    def __str__(self) -> str:
        return f"JE{self.pk} {self.entry_date} {self.description}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableRowError("Journal entries are immutable; post a reversal")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRowError("Journal entries are immutable; post a reversal")


class Posting(models.Model):
    """One line of an entry. amount > 0 is a debit, amount < 0 a credit, in `currency`.

    The database holds one composite foreign key, (entry, market, entry_date) -> the entry's
    (id, market, entry_date) (constraint posting_entry_market_date_fk, settlement_ops 0012), instead
    of one on entry and one on market: the copies of the entry's market and date cannot disagree
    with it, and a bulk posting pays one check a row instead of two."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings", db_constraint=False)
    # Indexed as the lead of (account, entry_date).
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    # Denormalised from entry/account so balance queries need no joins.
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    entry_date = models.DateField()
    party_type = models.CharField(max_length=10, choices=PartyType.choices, blank=True, default="")
    party_id = models.BigIntegerField(default=0)
    memo = models.CharField(max_length=255, blank=True)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_nonzero")]
        indexes = [
            models.Index(fields=["account", "entry_date"]),
            models.Index(fields=["party_type", "party_id", "entry_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.account.code} {self.currency} {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableRowError("Postings are immutable; post a reversal")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRowError("Postings are immutable; post a reversal")

    @property
    def debit(self) -> Decimal:
        return self.amount if self.amount > 0 else Decimal(0)

    @property
    def credit(self) -> Decimal:
        return -self.amount if self.amount < 0 else Decimal(0)


class NumberSequence(models.Model):
    """Gapless counter per market, document kind and year; locked row, assigned in the caller's
    transaction so a rollback also rolls back the number."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT)
    kind = models.CharField(max_length=30)
    year = models.PositiveIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["market", "kind", "year"], name="sequence_unique")]

    def __str__(self) -> str:
        return f"{self.market_id}/{self.kind}/{self.year}: {self.last_value}"


class AuditEvent(models.Model):
    """Append-only log of sign-ins, refused access and approvals."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
        SIGN_OUT = "sign_out", "Signed out"
        ACCESS_REFUSED = "access_refused", "Access refused"
        APPROVAL = "approval", "Approval"
        ACTION = "action", "Action"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=100, blank=True)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["kind", "created_at"]), models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind} {self.username} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableRowError("The audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRowError("The audit log is append-only")


class IdempotencyRecord(models.Model):
    """Stored first response of an API POST by Idempotency-Key (Stripe semantics)."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    # The rendered bytes and their content type, replayed as they were (a client may hash them).
    response_content = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} {self.status}"


class ApiToken(models.Model):
    """A named API key of one integration: it acts as `user`, limited to the permissions of its
    `scope` (a role group), until `expires_at` or revocation. Only the key's SHA-256 is stored;
    the key itself is shown once, when the token is created. `prefix` is the key's public part,
    used to find the row and shown in lists."""

    name = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    scope = models.ForeignKey("auth.Group", on_delete=models.PROTECT, related_name="+")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [("manage_apitoken", "Can create, list and revoke API tokens")]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="api_token_expires_after_created")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class ApprovalLimit(models.Model):
    """The most a role may approve for one action, per currency (four-eyes + limits)."""

    class Action(models.TextChoices):
        CONTRACT = "contract", "Contract activation"
        BANK_ACCOUNT = "bank_account", "Vendor bank account change"
        PAYMENT_RUN = "payment_run", "Payment run"
        WRITE_OFF = "write_off", "Write-off"
        HOLD_RELEASE = "hold_release", "Hold release"

    role = models.CharField(max_length=40)
    action = models.CharField(max_length=20, choices=Action.choices)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    max_amount = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    history = HistoricalRecords()

    class Meta:
        ordering = ["action", "role", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["role", "action", "currency"], name="approval_limit_unique"),
            models.CheckConstraint(condition=Q(max_amount__gte=0), name="approval_limit_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.action} {self.currency} {self.max_amount}"


class AccountingPeriod(models.Model):
    """A market's accounting month: open -> soft-closed (only approvers' adjustments) -> closed.

    No row means open. The ledger refuses a posting dated in a closed period (services.ledger_post
    takes a share lock on this row, so a close and a posting never interleave).
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SOFT_CLOSED = "soft_closed", "Soft-closed"
        CLOSED = "closed", "Closed"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="periods")
    month = models.DateField(help_text="First day of the month")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    soft_closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    soft_closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # Tie-out figures at the moment of closing, as the closer saw them.
    close_checks = models.JSONField(default=list, blank=True)
    reopen_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reopen_requested_at = models.DateTimeField(null=True, blank=True)
    reopen_reason = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["market", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["market", "month"], name="period_unique_per_market_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="period_month_first_day"),
            # Four eyes in the database too: whoever soft-closed a period cannot be the one closing it.
            models.CheckConstraint(
                condition=Q(closed_by__isnull=True) | ~Q(closed_by=F("soft_closed_by")), name="period_close_four_eyes"
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | (Q(closed_by__isnull=False) & Q(closed_at__isnull=False)),
                name="period_closed_has_closer",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | (Q(soft_closed_by__isnull=False) & Q(soft_closed_at__isnull=False)),
                name="period_soft_closed_has_preparer",
            ),
        ]
        permissions = [
            ("close_accountingperiod", "Can soft-close, close and reopen accounting periods"),
            ("download_periodworkbook", "Can generate and download period workbooks"),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.label} ({self.get_status_display()})"

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def end(self) -> date:
        return month_end(self.month)

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


class PeriodWorkbook(models.Model):
    """The auditors' workbook of a market and period, generated by a Celery job and stored with
    its SHA-256, so every later download is the same bytes."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="workbooks")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent")
    rows_total = models.PositiveBigIntegerField(default=0)
    rows_written = models.PositiveBigIntegerField(default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    generated_at = models.DateTimeField(null=True, blank=True)
    ledger_last_entry_id = models.BigIntegerField(null=True, blank=True)
    previous_sha256 = models.CharField(max_length=64, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    file = models.FileField(upload_to="period_workbooks/", blank=True)
    sheets = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done") | (~Q(sha256="") & Q(generated_at__isnull=False)),
                name="period_workbook_done_has_hash",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="period_workbook_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"Workbook {self.market_id} {self.period.label} #{self.pk} ({self.status})"

    @property
    def filename(self) -> str:
        return f"period_{self.market_id}_{self.period.label}_{self.pk}.xlsx"


class ImportJob(models.Model):
    """An uploaded file imported by a background job (rate cards, bank statements; see
    settlement_ops.import_jobs). The file, the run state and a refusal's report live here, so any
    worker can run it, a redelivered message finds it done, and the page follows its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    FINISHED = (Status.DONE, Status.REFUSED, Status.FAILED)

    kind = models.CharField(max_length=40, help_text="What the file is, e.g. vendors.rate_card")
    target = models.CharField(max_length=64, blank=True, help_text="What it is imported into (id or code)")
    title = models.CharField(max_length=200)
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    errors = models.JSONField(default=list, blank=True, help_text="The first 100 problems: [{row, field, message}]")
    error_count = models.PositiveIntegerField(default=0)
    # Every problem, as gzip-compressed CSV (settlement_ops.uploads.ErrorReport): the download.
    error_report = models.BinaryField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "target"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="refused") | Q(error_count__gt=0), name="import_job_refusal_has_errors"
            ),
            models.CheckConstraint(
                condition=Q(processed_rows__lte=F("total_rows")), name="import_job_processed_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk} {self.filename} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return self.processed_rows * 100 // self.total_rows if self.total_rows else 0
