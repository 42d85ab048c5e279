"""Vendor invoices, freight audit, AP payables and payment runs.

Flow: an uploaded file (InvoiceImport, state in the database) becomes a VendorInvoice with its
VendorInvoiceLine rows, all or nothing. The audit matches every line to its shipment and the
charge lines of the billing runs (set-based SQL, `services/audit.py`) and sets one boolean per
flag. Lines within tolerance are approved automatically; a person decides the others. When no
line is pending the invoice is approved: the ledger moves the approved amount from accrual to
vendor payable and a Payable is created, due by the contract's payment terms. Payment runs
propose due payables per vendor, net credit notes and deductions, and pay them through a bank
file; confirmation clears the payables and posts to bank.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from billing.models import ChargeLine, Shipment
from settlement_ops.fields import money_field, weight_field
from settlement_ops.models import JournalEntry, Market
from settlement_ops.money import CURRENCY_CHOICES
from vendors.models import SURCHARGE_ORDER, ContractVersion, RateLine, Vendor

USER = settings.AUTH_USER_MODEL


def _matched(model, **kwargs):
    """A reference the freight audit sets (see VendorInvoiceLine)."""
    return models.ForeignKey(
        model,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
        **kwargs,
    )


# --- Intake -------------------------------------------------------------------------------------


class InvoiceColumnMapping(models.Model):
    """How one vendor's invoice files are laid out: which column holds which field, the CSV
    delimiter, the decimal separator and the date format. Chosen once on a page, reused for every
    file of that vendor."""

    class DateFormat(models.TextChoices):
        AUTO = "auto", "Automatic (YYYY-MM-DD, DD/MM/YYYY, DD.MM.YYYY, YYYYMMDD)"
        ISO = "%Y-%m-%d", "YYYY-MM-DD"
        DMY_SLASH = "%d/%m/%Y", "DD/MM/YYYY"
        DMY_DOT = "%d.%m.%Y", "DD.MM.YYYY"
        MDY_SLASH = "%m/%d/%Y", "MM/DD/YYYY (US)"
        COMPACT = "%Y%m%d", "YYYYMMDD"

    class FileType(models.TextChoices):
        CSV = "csv", "CSV (text)"
        XLSX = "xlsx", "Excel workbook (.xlsx)"

    vendor = models.OneToOneField(Vendor, on_delete=models.CASCADE, related_name="invoice_mapping")
    file_type = models.CharField(
        max_length=4, choices=FileType.choices, default=FileType.CSV, help_text="What the vendor sends"
    )
    delimiter = models.CharField(max_length=1, default=",", help_text="CSV files only: , ; | or tab")
    decimal_separator = models.CharField(
        max_length=1, choices=[(".", "Point (1,234.56)"), (",", "Comma (1.234,56)")], default="."
    )
    date_format = models.CharField(max_length=12, choices=DateFormat.choices, default=DateFormat.AUTO)
    header_row = models.PositiveIntegerField(
        default=1, help_text="Row number holding the column names (rows above are skipped)"
    )
    # {field name (MAPPING_FIELDS): column header in the vendor's file}
    columns = models.JSONField(default=dict)
    total_labels = models.CharField(
        max_length=255,
        blank=True,
        help_text="Words that mark this vendor's total and subtotal rows, comma-separated "
        "(common ones in English, German, French, Indonesian and Vietnamese are known already)",
    )
    # {fee field (parsing.FEE_FIELDS): charge kind ("base" or a surcharge kind) it is billed as;
    # a fee with no kind is a charge we never expect, carried on the line to dispute}
    fee_kinds = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(header_row__gte=1), name="mapping_header_row_positive")]

    def __str__(self) -> str:
        return f"Column mapping of {self.vendor.code}"


class VendorAuditPolicy(models.Model):
    """Per-vendor audit tolerances. A line is within tolerance when billed net - expected net is at
    most `tolerance_amount` AND at most `tolerance_percent` % of the expected net (the lower of the
    two wins), and |billed weight - chargeable weight| <= `weight_tolerance_kg`."""

    vendor = models.OneToOneField(Vendor, on_delete=models.CASCADE, related_name="audit_policy")
    tolerance_amount = money_field()
    tolerance_percent = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal("0"))
    weight_tolerance_kg = weight_field(default=Decimal("0"))
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "vendor audit policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(tolerance_amount__gte=0) & Q(tolerance_percent__gte=0) & Q(weight_tolerance_kg__gte=0),
                name="audit_policy_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor.code}: {self.tolerance_amount} / {self.tolerance_percent}%"


class VendorInvoice(models.Model):
    """A vendor's invoice or credit note (a credit note names the invoice it corrects)."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"

    class Status(models.TextChoices):
        AUDITING = "auditing", "Audit running"
        IN_REVIEW = "in_review", "Waiting for review"
        APPROVED = "approved", "Approved"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="invoices")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    number = models.CharField(max_length=64)
    invoice_date = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    net_total = money_field()
    vat_total = money_field()
    gross_total = money_field()
    credited_invoice = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AUDITING)
    line_count = models.PositiveIntegerField(default=0)
    # Audit summary (gross amounts, written by the audit and by each decision).
    expected_total = money_field()
    approved_total = money_field()
    disputed_total = money_field()
    savings_total = money_field(help_text="Billed minus approved of the decided lines")
    pending_count = models.PositiveIntegerField(default=0)
    flagged_count = models.PositiveIntegerField(default=0)
    approved_net = money_field()
    approved_vat = money_field()
    accrual_relieved = money_field(help_text="Expected net of the approved matched lines, moved out of the accrual")
    audited_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    imported_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-invoice_date", "-id"]
        permissions = [
            ("import_vendorinvoice", "Can upload vendor invoices and credit notes"),
            ("audit_vendorinvoice", "Can approve, short-pay or dispute invoice lines"),
            ("export_payables", "Can export invoices, payables, runs and lineage"),
        ]
        constraints = [
            # A vendor never uses an invoice (or credit note) number twice.
            models.UniqueConstraint(fields=["vendor", "number"], name="vendor_invoice_number_unique"),
            models.CheckConstraint(
                condition=(Q(kind="credit_note") & Q(credited_invoice__isnull=False))
                | (Q(kind="invoice") & Q(credited_invoice__isnull=True)),
                name="vendor_invoice_credit_note_references_invoice",
            ),
            models.CheckConstraint(
                condition=Q(net_total__gte=0) & Q(vat_total__gte=0), name="vendor_invoice_totals_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(gross_total=F("net_total") + F("vat_total")), name="vendor_invoice_gross_is_net_plus_vat"
            ),
            models.CheckConstraint(
                condition=Q(approved_total=F("approved_net") + F("approved_vat")),
                name="vendor_invoice_approved_is_net_plus_vat",
            ),
            models.CheckConstraint(
                condition=Q(pending_count__lte=F("line_count")) & Q(flagged_count__lte=F("line_count")),
                name="vendor_invoice_counts_within_lines",
            ),
            # Approved only when every line is decided, and with the moment (the approver is empty
            # when the audit approved a clean invoice by itself).
            models.CheckConstraint(
                condition=~Q(status="approved") | (Q(approved_at__isnull=False) & Q(pending_count=0)),
                name="vendor_invoice_approved_when_decided",
            ),
        ]
        indexes = [
            models.Index(fields=["vendor", "status"]),
            models.Index(fields=["market", "status"]),
            # The invoice inbox and API order (newest upload first), read from an index, not sorted.
            models.Index(fields=["-created_at", "-id"], name="payables_invoice_inbox_order"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor.code} {self.number}"

    @property
    def is_credit_note(self) -> bool:
        return self.kind == self.Kind.CREDIT_NOTE


class VendorInvoiceLine(models.Model):
    """One billed shipment of an invoice, with what the audit found and what was decided."""

    class Decision(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        AUTO_APPROVED = "auto_approved", "Approved (within tolerance)"
        APPROVED = "approved", "Approved"
        SHORT_PAID = "short_paid", "Short-paid (expected amount)"
        DISPUTED = "disputed", "Disputed"

    FLAGS = {
        "flag_unknown_tracking": "Unknown tracking number",
        "flag_duplicate_in_invoice": "Billed twice in this invoice",
        "flag_duplicate_other_invoice": "Already billed on another invoice",
        "flag_not_rated": "No expected charge (shipment not rated)",
        "flag_over_tolerance": "Charge above expected beyond tolerance",
        "flag_weight_mismatch": "Billed weight differs from chargeable weight",
        "flag_surcharge_not_in_contract": "Surcharge not in the contract",
        "flag_expired_contract": "Billed under an expired contract",
        "flag_not_delivered": "Shipment not yet delivered",
        "flag_unexpected_fee": "Fee with no charge of ours (insurance, handling, other): dispute",
    }
    SURCHARGE_FIELDS = list(SURCHARGE_ORDER)  # one billed_<kind> column per surcharge kind
    # Fee columns the vendor's mapping gives no charge kind: amounts we never expect.
    FEE_FIELDS = ["insurance", "handling", "other"]

    # Indexed by the unique (invoice, line_no) constraint; no separate index.
    invoice = models.ForeignKey(VendorInvoice, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_no = models.PositiveIntegerField(help_text="Row number in the file")
    tracking_number = models.CharField(max_length=64)
    ship_date = models.DateField(null=True, blank=True)
    billed_weight_kg = weight_field(null=True, blank=True)
    billed_base = money_field()
    billed_fuel = money_field()
    billed_remote_area = money_field()
    billed_oversize = money_field()
    billed_cod = money_field()
    billed_peak = money_field()
    billed_returns = money_field()
    # Database defaults too: bulk SQL that writes lines (the benchmark) need not name them.
    billed_insurance = money_field(db_default=Decimal("0"))
    billed_handling = money_field(db_default=Decimal("0"))
    billed_other = money_field(db_default=Decimal("0"))
    billed_net = money_field()
    billed_vat = money_field()
    billed_gross = money_field()
    # What the audit matched and expected (sum of the shipment's charge lines, all generations).
    # These references are written only by the audit statement, from a join with the rows they name
    # in that same statement, and nothing looks lines up by them: they carry no database foreign key
    # (which would check each of 200,000 lines one by one) and no index (so the audit's UPDATE
    # touches no indexed column and PostgreSQL rewrites each line in place, a HOT update). Deleting
    # a referenced row through Django is still refused (PROTECT).
    shipment = _matched(Shipment)
    charge_line = _matched(ChargeLine, help_text="The latest rating of the shipment")
    contract_version = _matched(ContractVersion)
    rate_line = _matched(RateLine)
    expected_net = money_field(null=True, blank=True, default=None)
    expected_vat = money_field(null=True, blank=True, default=None)
    chargeable_weight_kg = weight_field(null=True, blank=True)
    flag_unknown_tracking = models.BooleanField(default=False)
    flag_duplicate_in_invoice = models.BooleanField(default=False)
    flag_duplicate_other_invoice = models.BooleanField(default=False)
    flag_not_rated = models.BooleanField(default=False)
    flag_over_tolerance = models.BooleanField(default=False)
    flag_weight_mismatch = models.BooleanField(default=False)
    flag_surcharge_not_in_contract = models.BooleanField(default=False)
    flag_expired_contract = models.BooleanField(default=False)
    flag_not_delivered = models.BooleanField(default=False)
    flag_unexpected_fee = models.BooleanField(default=False, db_default=False)
    decision = models.CharField(max_length=14, choices=Decision.choices, default=Decision.PENDING)
    approved_net = money_field()
    approved_vat = money_field()
    reason = models.CharField(max_length=255, blank=True)
    decided_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["invoice", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "line_no"], name="vendor_invoice_line_unique_row"),
            models.CheckConstraint(
                condition=~Q(decision__in=["short_paid", "disputed"]) | ~Q(reason=""),
                name="vendor_invoice_line_reason_required",
            ),
            models.CheckConstraint(
                condition=Q(billed_gross=F("billed_net") + F("billed_vat")),
                name="vendor_invoice_line_gross_is_net_plus_vat",
            ),
            # Credits come as credit notes, so every billed amount of a line is >= 0 (the import refuses others).
            models.CheckConstraint(
                condition=Q(billed_base__gte=0)
                & Q(billed_fuel__gte=0)
                & Q(billed_remote_area__gte=0)
                & Q(billed_oversize__gte=0)
                & Q(billed_cod__gte=0)
                & Q(billed_peak__gte=0)
                & Q(billed_returns__gte=0)
                & Q(billed_insurance__gte=0)
                & Q(billed_handling__gte=0)
                & Q(billed_other__gte=0)
                & Q(billed_net__gte=0)
                & Q(billed_vat__gte=0)
                & (Q(billed_weight_kg__isnull=True) | Q(billed_weight_kg__gt=0)),
                name="vendor_invoice_line_billed_non_negative",
            ),
            # What a decision pays: nothing while pending or disputed, the billed amount when
            # approved, less than billed when short-paid (the expected charge, below the billed one).
            models.CheckConstraint(
                condition=(Q(decision__in=["pending", "disputed"]) & Q(approved_net=0) & Q(approved_vat=0))
                | (
                    Q(decision__in=["auto_approved", "approved"])
                    & Q(approved_net=F("billed_net"))
                    & Q(approved_vat=F("billed_vat"))
                )
                | (Q(decision="short_paid") & Q(approved_net__lt=F("billed_net"))),
                name="vendor_invoice_line_decision_amounts",
            ),
            models.CheckConstraint(
                condition=~Q(decision__in=["approved", "short_paid", "disputed"]) | Q(decided_at__isnull=False),
                name="vendor_invoice_line_decided_at",
            ),
        ]
        # No index on a column the audit writes (match, flags, decision, amounts): see above. A
        # filter on decision reads the invoice's lines through the unique (invoice, line_no) index.
        indexes = [models.Index(fields=["tracking_number"])]

    def __str__(self) -> str:
        return f"{self.invoice_id}:{self.line_no} {self.tracking_number}"

    @property
    def flags(self) -> list[str]:
        return [label for name, label in self.FLAGS.items() if getattr(self, name)]

    @property
    def flag_codes(self) -> list[str]:
        return [name.removeprefix("flag_") for name in self.FLAGS if getattr(self, name)]

    @property
    def expected_gross(self) -> Decimal | None:
        if self.expected_net is None:
            return None
        return self.expected_net + (self.expected_vat or 0)

    @property
    def approved_gross(self) -> Decimal:
        return self.approved_net + self.approved_vat


class InvoiceImport(models.Model):
    """An uploaded invoice file and the job that imports and audits it. The file is kept in the
    database (workers on other machines read it from there); run state lives here."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PARSING = "parsing", "Checking the file"
        STORING = "storing", "Storing lines"
        AUDITING = "auditing", "Auditing"
        DONE = "done", "Imported"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    FINISHED = (Status.DONE, Status.REFUSED, Status.FAILED)

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="invoice_imports")
    kind = models.CharField(max_length=12, choices=VendorInvoice.Kind.choices, default=VendorInvoice.Kind.INVOICE)
    # Header as entered (invoice_number, invoice_date, currency, net_total, vat_total, gross_total,
    # credited_invoice_number); fields left empty are read from the file.
    header = models.JSONField(default=dict)
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    source = models.CharField(max_length=10, default="page")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first problems: [{row, field, message}]")
    message = models.CharField(max_length=500, blank=True)
    detected_headers = models.JSONField(default=list, blank=True)
    invoice = models.OneToOneField(
        VendorInvoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="source_import"
    )
    uploaded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} {self.filename} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        phase = {self.Status.PARSING: 0, self.Status.STORING: 40, self.Status.AUDITING: 80}.get(self.status, 0)
        span = 40 if self.status != self.Status.AUDITING else 20
        return min(99, phase + int(span * self.processed_rows / self.total_rows))


# --- Payables -------------------------------------------------------------------------------------


class VendorDeduction(models.Model):
    """An amount the platform deducts from a vendor's next payment (e.g. a chargeback of a
    compensation audit). Idempotent by (source_type, source_id)."""

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="deductions")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field()
    reason = models.CharField(max_length=255)
    source_type = models.CharField(max_length=50, help_text="e.g. compensation_chargeback, manual")
    source_id = models.CharField(max_length=64)
    counter_account_kind = models.CharField(max_length=40, default="compensation_expense")
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source_type", "source_id"], name="vendor_deduction_unique_source"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="vendor_deduction_positive"),
        ]

    def __str__(self) -> str:
        return f"Deduction {self.pk} {self.vendor.code} {self.currency} {self.amount}"


class Payable(models.Model):
    """What the platform owes (amount > 0) or may net (amount < 0: credit note, deduction) to a
    vendor. Open -> in a payment run -> paid; a rejected payment returns it to open.
    `payment_run` is set exactly while the payable is in an open run, so a payable is in at most
    one open run (also a partial unique constraint on PaymentRunItem)."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"
        DEDUCTION = "deduction", "Deduction"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_RUN = "in_run", "In a payment run"
        PAID = "paid", "Paid"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="payables")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    invoice = models.OneToOneField(
        VendorInvoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payable"
    )
    deduction = models.OneToOneField(
        VendorDeduction, null=True, blank=True, on_delete=models.PROTECT, related_name="payable"
    )
    amount = money_field()
    due_date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    payment_run = models.ForeignKey("PaymentRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey("Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="payables")
    on_hold = models.BooleanField(default=False)
    hold_reason = models.CharField(max_length=255, blank=True)
    held_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    held_at = models.DateTimeField(null=True, blank=True)
    last_rejection_reason = models.CharField(max_length=255, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_date", "id"]
        permissions = [("hold_payable", "Can put payables on hold and release holds")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="payable_amount_nonzero"),
            models.CheckConstraint(
                condition=(Q(kind="deduction") & Q(deduction__isnull=False) & Q(invoice__isnull=True) & Q(amount__lt=0))
                | (Q(kind="credit_note") & Q(invoice__isnull=False) & Q(deduction__isnull=True) & Q(amount__lt=0))
                | (Q(kind="invoice") & Q(invoice__isnull=False) & Q(deduction__isnull=True) & Q(amount__gt=0)),
                name="payable_source_matches_kind",
            ),
            models.CheckConstraint(
                condition=(Q(status="in_run") & Q(payment_run__isnull=False))
                | (~Q(status="in_run") & Q(payment_run__isnull=True)),
                name="payable_in_run_iff_run",
            ),
            models.CheckConstraint(
                condition=Q(on_hold=False) | (~Q(hold_reason="") & Q(held_at__isnull=False)),
                name="payable_hold_has_reason",
            ),
            # A hold is set on an open payable only (not one in a run, not a paid one).
            models.CheckConstraint(condition=Q(on_hold=False) | Q(status="open"), name="payable_held_only_when_open"),
            models.CheckConstraint(
                condition=(Q(status="paid") & Q(payment__isnull=False) & Q(paid_at__isnull=False))
                | (~Q(status="paid") & Q(paid_at__isnull=True)),
                name="payable_paid_by_a_payment",
            ),
        ]
        indexes = [models.Index(fields=["market", "currency", "status"]), models.Index(fields=["vendor", "status"])]

    def __str__(self) -> str:
        return f"Payable {self.pk} {self.vendor.code} {self.currency} {self.amount}"

    @property
    def days_past_due(self) -> int:
        """Days an unpaid payable is past its due date in its market's today (0 when not overdue)."""
        if self.status == self.Status.PAID:
            return 0
        return max((self.market.local_date() - self.due_date).days, 0)

    @property
    def reference(self) -> str:
        if self.invoice_id:
            return self.invoice.number
        # The reason names what is deducted (e.g. a compensation chargeback), so the remittance
        # advice explains each deduction line; short enough for its reference column.
        return f"Deduction {self.deduction_id}: {self.deduction.reason}"[:48]


# --- Payment runs -----------------------------------------------------------------------------------


class PaymentRun(models.Model):
    """A proposal to pay due payables of one market and currency on a pay date.

    Prepared (draft, editable) -> approved (by another user within their limit; frozen) ->
    exported (bank file written) -> completed (every payment confirmed paid or rejected).
    A draft or approved run may be cancelled, returning its payables to open."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Prepared"
        APPROVED = "approved", "Approved"
        EXPORTED = "exported", "Bank file created"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.DRAFT, Status.APPROVED, Status.EXPORTED)

    number = models.CharField(max_length=40, unique=True)
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    pay_date = models.DateField()
    bank_change_days = models.PositiveIntegerField(
        default=14, help_text="Exclude vendors whose bank details changed in the last N days"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    total_amount = money_field()
    payment_count = models.PositiveIntegerField(default=0)
    prepared_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    prepared_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-pay_date", "-id"]
        permissions = [
            ("prepare_paymentrun", "Can prepare, edit, export and confirm payment runs"),
            ("approve_paymentrun", "Can approve payment runs"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("prepared_by")), name="payment_run_four_eyes"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "exported", "completed"]) | Q(approved_by__isnull=False),
                name="payment_run_approved_needs_approver",
            ),
            models.CheckConstraint(
                condition=(~Q(status__in=["approved", "exported", "completed"]) | Q(approved_at__isnull=False))
                & (~Q(status="cancelled") | (Q(cancelled_by__isnull=False) & Q(cancelled_at__isnull=False)))
                & (~Q(status="completed") | Q(completed_at__isnull=False)),
                name="payment_run_status_recorded",
            ),
            models.CheckConstraint(condition=Q(total_amount__gte=0), name="payment_run_total_non_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class Payment(models.Model):
    """One transfer of a run to one vendor: the net of its payables, to the bank account of the
    moment the run was prepared (a snapshot, so a later bank change cannot redirect it)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        SENT = "sent", "Sent to bank"
        PAID = "paid", "Paid"
        REJECTED = "rejected", "Rejected"

    run = models.ForeignKey(PaymentRun, on_delete=models.PROTECT, related_name="payments")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="payments")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field()
    end_to_end_id = models.CharField(max_length=35, unique=True)
    account_holder = models.CharField(max_length=200)
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)
    account_number = models.CharField(max_length=34, blank=True)
    bank_code = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    rejection_reason = models.CharField(max_length=255, blank=True)
    confirmed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reversal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    remittance_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "vendor"]
        constraints = [
            models.UniqueConstraint(fields=["run", "vendor"], name="payment_one_per_vendor_and_run"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(rejection_reason=""), name="payment_rejection_has_reason"
            ),
            models.CheckConstraint(
                condition=(~Q(status__in=["paid", "rejected"]) | Q(confirmed_at__isnull=False))
                & (~Q(status="paid") | Q(entry__isnull=False)),
                name="payment_confirmation_recorded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.end_to_end_id} {self.vendor.code} {self.currency} {self.amount}"


class PaymentRunItem(models.Model):
    """A payable proposed in a run. `is_open` is true while the run is open and the payment not
    rejected; the partial unique constraint makes "at most one open run per payable" a database
    fact."""

    run = models.ForeignKey(PaymentRun, on_delete=models.PROTECT, related_name="items")
    payable = models.ForeignKey(Payable, on_delete=models.PROTECT, related_name="run_items")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="items")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+")
    amount = money_field()
    is_open = models.BooleanField(default=True)

    class Meta:
        ordering = ["run", "vendor", "payable"]
        constraints = [
            models.UniqueConstraint(fields=["payable"], condition=Q(is_open=True), name="payable_in_one_open_run"),
            models.UniqueConstraint(fields=["run", "payable"], name="payment_run_item_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.payable_id}"


class PaymentRunExclusion(models.Model):
    """A payable of the run's market and currency that the run left out, and why."""

    run = models.ForeignKey(PaymentRun, on_delete=models.CASCADE, related_name="exclusions")
    payable = models.ForeignKey(Payable, on_delete=models.PROTECT, related_name="+")
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+")
    amount = money_field()
    code = models.CharField(max_length=30)
    reason = models.CharField(max_length=255)

    class Meta:
        ordering = ["run", "code", "vendor", "payable"]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.payable_id} {self.code}"


class BankFile(models.Model):
    """A payment file handed to the bank, kept byte for byte with its SHA-256 for auditors."""

    class Format(models.TextChoices):
        SEPA = "pain.001.001.03", "SEPA credit transfer (pain.001.001.03)"
        CSV = "csv", "CSV (local transfer)"

    run = models.ForeignKey(PaymentRun, on_delete=models.PROTECT, related_name="bank_files")
    format = models.CharField(max_length=20, choices=Format.choices)
    filename = models.CharField(max_length=100)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["run"], name="bank_file_one_per_run")]

    def __str__(self) -> str:
        return self.filename
