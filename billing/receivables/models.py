"""Seller statements, AR invoices and credit notes, payout deductions, receipts and their
applications, dunning, collection notes and write-offs.

Money columns keep the currency's precision in a 4-place column beside a currency code. What a
row can hold on its own (gross = net + VAT, open <= gross, applied <= amount, non-negative
amounts, status-dependent fields) is a CHECK constraint as well as a service rule. Every
amount here is also in the ledger (see `services.py` for the postings), and the open amount of an
invoice is the sub-ledger of the seller receivable account: the nightly check proves
sum(open amounts) == receivable balance per seller.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from billing.models import ChargeLine, Shipment
from sellers.models import Seller
from settlement_ops.fields import money_field
from settlement_ops.models import JournalEntry, Market, RecordHistory
from settlement_ops.money import CURRENCY_CHOICES


def _user(**kwargs):
    kwargs.setdefault("related_name", "+")
    return models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, **kwargs)


class Statement(models.Model):
    """A seller's statement of account for one period, figures derived from the ledger.

    Opening and closing balances are the seller's receivable plus unapplied cash (what the seller
    owes, debit positive) at the day before `period_start` and at `period_end`; the period totals
    are the postings of the period by source. The snapshot is what the seller was sent; the page
    re-derives the lines from the postings, and a test proves the two agree to the cent.
    """

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="statements")
    period_start = models.DateField()
    period_end = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    opening_balance = money_field()
    charges_total = money_field(help_text="Invoices issued in the period (gross)")
    credits_total = money_field(help_text="Credit notes issued in the period (gross, negative)")
    payments_total = money_field(help_text="Receipts and payout deductions (negative)")
    adjustments_total = money_field(help_text="Write-offs, chargebacks and other postings")
    closing_balance = money_field()
    created_by = _user(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_end", "seller__code"]
        # The API's order (latest period first, then by seller): ten thousand sellers make 120,000
        # statements a year, which a list must not sort per request.
        indexes = [models.Index(fields=["-period_end", "seller"], name="ar_statement_period_seller")]
        constraints = [
            models.UniqueConstraint(fields=["seller", "period_start", "period_end"], name="statement_unique_period"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="statement_period_order"),
            models.CheckConstraint(
                condition=Q(
                    closing_balance=F("opening_balance")
                    + F("charges_total")
                    + F("credits_total")
                    + F("payments_total")
                    + F("adjustments_total")
                ),
                name="statement_closing_is_opening_plus_movements",
            ),
        ]
        permissions = [("export_statement", "Can export statements, aging and receipts")]

    def __str__(self) -> str:
        return f"{self.seller.code} {self.period_start}..{self.period_end}"


class Invoice(models.Model):
    """A tax invoice or a correction of one, numbered gaplessly per market, document and year.

    Amounts are positive for every kind; `kind` says the direction. `amount_open` is what is still
    to collect on an invoice (always 0 on a credit note: it is applied when issued).

    How a wrong invoice is corrected is a market rule (CorrectionRule): a credit note in most
    markets; in Vietnam an adjustment invoice (hóa đơn điều chỉnh, kind "adjustment": reduces the
    invoice it references, like a credit note) or a replacement invoice (hóa đơn thay thế: a new
    invoice, kind "invoice", that `replaces` the original, which becomes "replaced"), both
    referencing the original (Decree 123/2020, Circular 78/2021).
    """

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"
        ADJUSTMENT = "adjustment", "Adjustment invoice"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        WRITTEN_OFF = "written_off", "Written off"
        CREDITED = "credited", "Credited"
        ISSUED = "issued", "Issued (credit note)"
        REPLACED = "replaced", "Replaced"

    class Collection(models.TextChoices):
        BANK = "bank", "Bank payment"
        PAYOUT = "payout", "Deduction from payout"

    OPEN_STATUSES = (Status.OPEN, Status.PARTIALLY_PAID)
    # Documents that reduce the invoice they reference and are settled when issued.
    REDUCING_KINDS = (Kind.CREDIT_NOTE, Kind.ADJUSTMENT)

    # No single-column indexes: (market, status, due_date) and (seller, issue_date) lead with them.
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+", db_index=False)
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="invoices", db_index=False)
    statement = models.ForeignKey(Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    number = models.CharField(max_length=40, unique=True)
    issue_date = models.DateField()
    due_date = models.DateField()
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    language = models.CharField(max_length=8)
    collection = models.CharField(max_length=8, choices=Collection.choices, default=Collection.BANK)
    net_total = money_field()
    vat_total = money_field()
    gross_total = money_field()
    amount_open = money_field()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    credited_invoice = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    reason = models.CharField(max_length=255, blank=True, help_text="Why a correction was issued")
    dunning_level = models.PositiveSmallIntegerField(default=0)
    last_dunned_on = models.DateField(null=True, blank=True)
    # Credit notes post their own entry. An invoice posts nothing: the billing run already posted
    # each rated fee (with its VAT) to the seller's receivable; the invoice is the tax document
    # over exactly those charge lines.
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = _user(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = RecordHistory()

    class Meta:
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_open__gte=0) & Q(amount_open__lte=F("gross_total")), name="invoice_open_within_gross"
            ),
            models.CheckConstraint(condition=Q(gross_total__gt=0), name="invoice_gross_positive"),
            models.CheckConstraint(
                condition=Q(kind="invoice")
                | (Q(credited_invoice__isnull=False) & Q(amount_open=0) & Q(entry__isnull=False)),
                name="credit_note_has_invoice_and_nothing_open",
            ),
            models.CheckConstraint(
                condition=Q(gross_total=F("net_total") + F("vat_total")), name="invoice_gross_is_net_plus_vat"
            ),
            # The status follows the open amount (services.invoice_refresh_status); "issued" is a
            # credit note's only status.
            models.CheckConstraint(
                condition=(Q(kind__in=["credit_note", "adjustment"]) & Q(status="issued"))
                | (Q(kind="invoice") & Q(status="open") & Q(amount_open=F("gross_total")))
                | (
                    Q(kind="invoice")
                    & Q(status="partially_paid")
                    & Q(amount_open__gt=0)
                    & Q(amount_open__lt=F("gross_total"))
                )
                | (
                    Q(kind="invoice") & Q(status__in=["paid", "written_off", "credited", "replaced"]) & Q(amount_open=0)
                ),
                name="invoice_status_matches_open_amount",
            ),
            # A replacement invoice is an invoice that posts what it took off the original.
            models.CheckConstraint(
                condition=Q(replaces__isnull=True) | (Q(kind="invoice") & Q(entry__isnull=False)),
                name="invoice_replacement_is_posted_invoice",
            ),
        ]
        indexes = [
            models.Index(fields=["market", "status", "due_date"]),
            models.Index(fields=["seller", "issue_date"]),
            # The default order of the invoice list and API (newest first): a first page reads an
            # index page instead of sorting every invoice.
            models.Index(fields=["-issue_date", "-id"], name="ar_invoice_default_order"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_credit_note(self) -> bool:
        """A document that reduces the invoice it references: a credit note or an adjustment invoice."""
        return self.kind in self.REDUCING_KINDS

    @property
    def corrected_invoice(self) -> Invoice | None:
        """The invoice this document corrects (credits, adjusts or replaces), if any."""
        return self.credited_invoice or self.replaces

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def days_past_due(self) -> int:
        """Days an open invoice is past its due date in its market's today (0 when not overdue)."""
        if not self.is_open:
            return 0
        return max((self.market.local_date() - self.due_date).days, 0)

    @property
    def amount_settled(self) -> Decimal:
        return self.gross_total - self.amount_open


class InvoiceLine(models.Model):
    """One shipment charge on an invoice (a billing charge line), its reversal on a credit note, or
    its copy on a replacement invoice. A charge line is invoiced once, an invoice line credited
    once and replaced once (unique constraints)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    charge_line = models.OneToOneField(
        ChargeLine, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice_line"
    )
    credited_line = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_line"
    )
    replaced_line = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacement_line"
    )
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="+")
    tracking_number = models.CharField(max_length=64)
    ship_date = models.DateField()
    service_level = models.CharField(max_length=30)
    line_kind = models.CharField(max_length=8, help_text="original | delta (re-rating difference)")
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)
    net = money_field()
    vat = money_field()
    gross = money_field()

    class Meta:
        ordering = ["invoice", "ship_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(charge_line__isnull=False)
                | Q(credited_line__isnull=False)
                | Q(replaced_line__isnull=False),
                name="invoice_line_has_source",
            ),
            models.CheckConstraint(condition=Q(gross=F("net") + F("vat")), name="invoice_line_gross_is_net_plus_vat"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} {self.tracking_number} {self.gross}"


class CorrectionRule(models.Model):
    """Which document the market issues to correct a wrong invoice (the credit-note service reads
    it). Markets without a row use the legal default (`CorrectionRule.default_for`)."""

    class Document(models.TextChoices):
        CREDIT_NOTE = "credit_note", "Credit note"
        ADJUSTMENT = "adjustment", "Adjustment invoice (hóa đơn điều chỉnh)"
        REPLACEMENT = "replacement", "Replacement invoice (hóa đơn thay thế)"

    # Vietnam corrects an issued e-invoice by an invoice that references it, never by a credit
    # note (Decree 123/2020 art. 19, Circular 78/2021); adjustment is the usual choice.
    LEGAL_DEFAULTS = {"VN": Document.ADJUSTMENT}
    # Each document has its own gapless number series per market and year.
    NUMBER_SERIES = {Document.CREDIT_NOTE: "cn", Document.ADJUSTMENT: "adj", Document.REPLACEMENT: "rep"}

    market = models.OneToOneField(Market, primary_key=True, on_delete=models.PROTECT, related_name="+")
    document = models.CharField(max_length=12, choices=Document.choices)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            # A credit note is not a legal correction in Vietnam.
            models.CheckConstraint(
                condition=~Q(market_id="VN") | ~Q(document="credit_note"), name="correction_rule_vn_no_credit_note"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id}: {self.get_document_display()}"

    @classmethod
    def default_for(cls, market_code: str) -> str:
        return cls.LEGAL_DEFAULTS.get(market_code, cls.Document.CREDIT_NOTE)

    @classmethod
    def document_for(cls, market) -> str:
        rule = cls.objects.filter(market=market).values_list("document", flat=True).first()
        return rule or cls.default_for(market.pk)


class PayoutDeduction(models.Model):
    """An invoice of a 'net from payout' seller, collected by the payout system. The payout system
    reads pending deductions through the API and confirms each one, which posts it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="payout_deduction")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="payout_deductions")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    payout_reference = models.CharField(max_length=100, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = _user(null=True, blank=True)
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_deduction_positive"),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(entry__isnull=False), name="payout_deduction_confirmed_posted"
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False), name="payout_deduction_confirmed_at"
            ),
        ]
        permissions = [("confirm_payoutdeduction", "Can confirm payout deductions")]

    def __str__(self) -> str:
        return f"Deduction {self.invoice.number} {self.amount}"


class Receipt(models.Model):
    """Money received from a seller (bank statement line, hand entry or API).

    On receipt the cash is posted to the seller's unapplied cash (or to the market's unidentified
    receipts when the seller is unknown); applications then move it to the receivable.
    """

    class Status(models.TextChoices):
        UNMATCHED = "unmatched", "Unmatched"
        PARTIALLY_APPLIED = "partially_applied", "Partially applied"
        APPLIED = "applied", "Applied"
        REVERSED = "reversed", "Reversed"

    class Source(models.TextChoices):
        IMPORT = "import", "Bank statement import"
        MANUAL = "manual", "Entered by hand"
        API = "api", "API"

    # Indexed as the lead of (market, bank_reference) and (market, status).
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+", db_index=False)
    seller = models.ForeignKey(Seller, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field()
    amount_unapplied = money_field()
    value_date = models.DateField()
    bank_reference = models.CharField(max_length=100, help_text="The bank's unique id of the statement line")
    reference = models.CharField(max_length=255, blank=True, help_text="Payment reference as the payer wrote it")
    payer_name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    import_batch = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=18, choices=Status.choices, default=Status.UNMATCHED)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="+")
    identify_entry = models.OneToOneField(
        JournalEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Moves an unidentified receipt to the seller once a person names the seller",
    )
    created_by = _user(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = RecordHistory()

    class Meta:
        ordering = ["-value_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["market", "bank_reference"], name="receipt_unique_bank_reference"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="receipt_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_unapplied__gte=0) & Q(amount_unapplied__lte=F("amount")),
                name="receipt_unapplied_within_amount",
            ),
            # The status follows the unapplied amount (services.receipt_refresh_status); a
            # reversed receipt keeps nothing unapplied.
            models.CheckConstraint(
                condition=(Q(status="unmatched") & Q(amount_unapplied=F("amount")))
                | (Q(status="partially_applied") & Q(amount_unapplied__gt=0) & Q(amount_unapplied__lt=F("amount")))
                | (Q(status__in=["applied", "reversed"]) & Q(amount_unapplied=0)),
                name="receipt_status_matches_unapplied",
            ),
            models.CheckConstraint(
                condition=Q(identify_entry__isnull=True) | Q(seller__isnull=False), name="receipt_identified_has_seller"
            ),
        ]
        indexes = [
            models.Index(fields=["market", "status"]),
            # The default order of the receipt list and API (newest first).
            models.Index(fields=["-value_date", "-id"], name="ar_receipt_default_order"),
        ]
        permissions = [("apply_receipt", "Can apply and reverse receipt applications")]

    def __str__(self) -> str:
        return f"{self.bank_reference} {self.currency} {self.amount}"


class ReceiptApplication(models.Model):
    """Part of a receipt applied to an invoice; reversed (never edited) when it was wrong."""

    class Rule(models.TextChoices):
        INVOICE_NUMBER = "invoice_number", "Invoice number in the reference"
        EXACT_AMOUNT = "exact_amount", "Seller and exact amount"
        OLDEST_FIRST = "oldest_first", "Seller, oldest invoice first"
        MANUAL = "manual", "Applied by hand"

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="applications")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="applications")
    amount = money_field()
    rule = models.CharField(max_length=16, choices=Rule.choices)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="+")
    applied_by = _user(null=True, blank=True)
    applied_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = _user(null=True, blank=True)
    reversal_reason = models.CharField(max_length=255, blank=True)
    reversal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["receipt", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="receipt_application_positive"),
            models.CheckConstraint(
                condition=Q(reversed_at__isnull=True) | Q(reversal_entry__isnull=False),
                name="receipt_application_reversal_posted",
            ),
            models.CheckConstraint(
                condition=Q(reversal_entry__isnull=True) | Q(reversed_at__isnull=False),
                name="receipt_application_reversal_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_id} -> {self.invoice_id} {self.amount}"

    @property
    def is_reversed(self) -> bool:
        return self.reversed_at is not None


class DunningLevel(models.Model):
    """A step of the dunning ladder of a market. Level 1 is sent `wait_days` after the due date;
    each later level `wait_days` after the previous notice."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=60)
    wait_days = models.PositiveIntegerField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["market", "level"]
        constraints = [
            models.UniqueConstraint(fields=["market", "level"], name="dunning_level_unique"),
            models.CheckConstraint(condition=Q(level__gte=1), name="dunning_level_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} L{self.level} {self.name} (+{self.wait_days}d)"


class DunningNotice(models.Model):
    """A dunning letter as sent: one per invoice and level (a second nightly run sends nothing)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="dunning_notices")
    level = models.PositiveSmallIntegerField()
    sent_on = models.DateField()
    language = models.CharField(max_length=8)
    email_to = models.EmailField()
    subject = models.CharField(max_length=255)
    body = models.TextField()
    amount_open = money_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["invoice", "level"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "level"], name="dunning_notice_unique_level"),
            models.CheckConstraint(condition=Q(level__gte=1), name="dunning_notice_level_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number} L{self.level} {self.sent_on}"


class CollectionNote(models.Model):
    """A collector's note on a seller, or a promise to pay (amount by date) that holds dunning."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        PROMISE = "promise", "Promise to pay"

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="collection_notes")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="collection_notes"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.NOTE)
    text = models.TextField()
    promised_amount = money_field(null=True, blank=True, default=None)
    promised_date = models.DateField(null=True, blank=True)
    author = _user()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="note") | (Q(promised_amount__gt=0) & Q(promised_date__isnull=False)),
                name="collection_promise_has_amount_and_date",
            ),
        ]
        permissions = [("manage_collections", "Can work the collections worklist")]

    def __str__(self) -> str:
        return f"{self.seller.code} {self.kind} {self.created_at:%Y-%m-%d}"


class WriteOff(models.Model):
    """Write-off of an uncollectable invoice balance: proposed by one user, approved by another
    within the approver's role limit (four eyes), posted only when approved."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="write_offs")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field()
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = _user()
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = _user(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=255, blank=True)
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="write_off_positive"),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("proposed_by")), name="write_off_four_eyes"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(entry__isnull=False), name="write_off_approved_posted"
            ),
            models.CheckConstraint(
                condition=(Q(status="proposed") & Q(decided_by__isnull=True) & Q(decided_at__isnull=True))
                | (~Q(status="proposed") & Q(decided_by__isnull=False) & Q(decided_at__isnull=False)),
                name="write_off_decision_recorded",
            ),
            models.UniqueConstraint(
                fields=["invoice"], condition=Q(status="proposed"), name="write_off_one_open_per_invoice"
            ),
        ]
        permissions = [("approve_writeoff", "Can approve write-offs")]

    def __str__(self) -> str:
        return f"Write-off {self.invoice.number} {self.amount} ({self.status})"
