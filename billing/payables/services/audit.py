"""Freight audit of a vendor invoice, line decisions, and approval into a payable.

The audit is set-based (no per-line ORM work):
  1. AUDIT_SQL, one UPDATE ... FROM (SELECT ...): each line is matched to its shipment (vendor +
     tracking number) and to the sum of the shipment's charge lines over all rating generations
     (= its current expected vendor charge), with the contract version, rate line and chargeable
     weight of the latest generation; the nine flags and the decision (a line without flags is
     approved automatically, approved = billed; the others wait for a person) are computed in the
     same statement, and each line is written once;
  2. summary: totals per decision in one aggregate query;
  3. approval when nothing is pending (posting + payable).
The statement reads each shipment and charge line through an index probe per invoice line (so
it costs what the invoice holds, not the history) and sorts nothing: a shipment rated once is
expected at its one charge line, and only the invoice's re-rated shipments are summed (`_RERATED`);
rows repeated within the invoice come from a hash aggregate of its tracking numbers (`_REPEATED`).
Amounts are NUMERIC with 4 places, so sums and differences are exact; only the percentage
tolerance is rounded (to 4 places) before it is compared. No index covers a column the audit
writes and the line table keeps free room on each page (migration 0002), so the rewrite is a HOT
update that touches no index.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import ChargeLine, Shipment
from settlement_ops.db import WRITTEN_SAMPLE_TARGET, analyze_written, retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import AccountKind, AuditEvent
from settlement_ops.money import quantize
from settlement_ops.services import PostingLine, audit_record, ledger_post
from vendors.models import Contract, ContractVersion, Surcharge

from ..locks import invoice_lock
from ..models import Payable, VendorAuditPolicy, VendorInvoice, VendorInvoiceLine
from .ledger import accrual_account, market_account, vendor_payable_account

LINE = VendorInvoiceLine._meta.db_table
INVOICE = VendorInvoice._meta.db_table
SHIPMENT = Shipment._meta.db_table
CHARGE_LINE = ChargeLine._meta.db_table
CONTRACT = Contract._meta.db_table
CONTRACT_VERSION = ContractVersion._meta.db_table
SURCHARGE = Surcharge._meta.db_table
EFFECTIVE = "(" + ", ".join(f"'{status.value}'" for status in Contract.EFFECTIVE_STATUSES) + ")"
D = VendorInvoiceLine.Decision
HUMAN_DECISIONS = (D.APPROVED, D.SHORT_PAID, D.DISPUTED)
PAYING_DECISIONS = (D.AUTO_APPROVED, D.APPROVED, D.SHORT_PAID)
FLAG_COLUMNS = list(VendorInvoiceLine.FLAGS)

# The contract's side first: a kind it has ends the test without comparing the billed amount.
_SURCHARGE_TEST = " OR ".join(
    f"(COALESCE(sv.has_{kind}, 0) = 0 AND m.billed_{kind} > 0)" for kind in VendorInvoiceLine.SURCHARGE_FIELDS
)
_HAS_KIND = ", ".join(
    f"MAX(CASE WHEN s.kind = '{kind}' THEN 1 ELSE 0 END) AS has_{kind}" for kind in VendorInvoiceLine.SURCHARGE_FIELDS
)
_CONTRACT_FOR_SHIPMENT = f"""SELECT 1 FROM {CONTRACT} c WHERE c.vendor_id = %(vendor)s AND c.market_id = sh.market_id
    AND c.service_level = sh.service_level AND c.status IN {EFFECTIVE}"""
# An unrated shipment shipped after the vendor's contract for the service ended.
_EXPIRED = f"""(CASE WHEN sh.id IS NOT NULL AND cl.id IS NULL THEN (
    EXISTS ({_CONTRACT_FOR_SHIPMENT} AND c.valid_to < sh.ship_date)
    AND NOT EXISTS ({_CONTRACT_FOR_SHIPMENT} AND c.valid_from <= sh.ship_date AND (c.valid_to IS NULL OR c.valid_to >= sh.ship_date))
) ELSE FALSE END)"""
_BILLED = ", ".join(f"l.billed_{kind}" for kind in VendorInvoiceLine.SURCHARGE_FIELDS)
# Fees the vendor's mapping gives no charge kind (insurance, handling, other): never expected.
_UNEXPECTED = "(" + " + ".join(f"l.billed_{fee}" for fee in VendorInvoiceLine.FEE_FIELDS) + ")"

# Charge lines of a shipment: generation 1 (the original) and, after re-ratings, deltas of
# generations 2, 3, ... (the key is shipment and generation: ChargeLine.id). Per line of the
# invoice, its shipment's lines are summed through a range of that key; a shipment with only a
# generation-1 line yields no row (HAVING) and is expected at that line.
_RERATED = f"""SELECT SUM(p.vendor_net) AS net, SUM(p.vendor_vat) AS vat, MAX(p.generation) AS generation
    FROM {CHARGE_LINE} p WHERE {ChargeLine.of_shipments_sql("p", "sh.id")} HAVING MAX(p.generation) > 1"""
# The shipment's latest charge line (its rating references), by its key.
_LATEST_LINE = f"""SELECT c.* FROM {CHARGE_LINE} c
                WHERE c.id = {ChargeLine.key_sql("sh.id", "COALESCE(rr.generation, 1)")} LIMIT 1"""
# The line's shipment (vendor + tracking number are unique), found through that unique index. A
# LATERAL subquery with LIMIT is never flattened into a join, so PostgreSQL probes the index per
# line instead of hashing every shipment of the database: the audit costs what the invoice holds,
# not the history.
_SHIPMENT_OF_LINE = f"""SELECT s.* FROM {SHIPMENT} s
                WHERE s.vendor_id = %(vendor)s AND s.tracking_number = l.tracking_number LIMIT 1"""
# Billed on an earlier invoice of the vendor (not disputed there): looked up per line of this
# invoice through the index on the line's tracking number. A correlated subquery, which
# PostgreSQL runs per line and never turns into a hash of every earlier line of the vendor, so the
# check costs what the invoice holds, not the vendor's history.
# The earlier invoices are a list of ids (`earlier`), not a join: the probe stays one index scan
# per line with no join to plan (the statement runs without nested loops it can avoid).
_BILLED_BEFORE = f"""COALESCE((
                SELECT TRUE FROM {LINE} o
                WHERE o.tracking_number = m.tracking_number AND o.invoice_id = ANY(%(earlier)s)
                    AND o.decision <> 'disputed'
                LIMIT 1), FALSE)"""
# Tracking numbers billed more than once in the invoice, with the first row that bills them: a
# hash aggregate, where a ROW_NUMBER() window would sort every line.
_REPEATED = f"""SELECT d.tracking_number, MIN(d.line_no) AS first_line_no FROM {LINE} d WHERE d.invoice_id = %(invoice)s
    GROUP BY d.tracking_number HAVING COUNT(*) > 1"""


def _audit_sql() -> str:
    """The whole audit of the invoice's lines in ONE statement: each line is matched to its
    shipment (vendor + tracking number) and to its expected charge (the sum of the shipment's
    charge lines over all generations) with the latest charge line, flagged, decided and written
    once. Match columns are set on every line (NULL when nothing matches), so a re-audit needs no
    reset. Tolerances are never negative (VendorAuditPolicy), so a line billed at or below a
    non-negative expected charge, or at its chargeable weight, is within them: the rounded
    comparisons run only for the other lines."""
    # The subquery fenced with OFFSET 0 is planned on its own: PostgreSQL computes each flag once
    # per line instead of pasting its expression into every SET column that reads it.
    return f"""
UPDATE {LINE} SET
    shipment_id = f.shipment_id, charge_line_id = f.charge_line_id, contract_version_id = f.contract_version_id,
    rate_line_id = f.rate_line_id, expected_net = f.expected_net, expected_vat = f.expected_vat,
    chargeable_weight_kg = f.chargeable_weight_kg,
    {", ".join(f"{c} = f.{c}" for c in FLAG_COLUMNS)},
    decision = CASE WHEN decision IN ('pending', 'auto_approved')
        THEN (CASE WHEN f.any_flag THEN 'pending' ELSE 'auto_approved' END) ELSE decision END,
    approved_net = CASE WHEN decision IN ('pending', 'auto_approved')
        THEN (CASE WHEN f.any_flag THEN 0 ELSE billed_net END) ELSE approved_net END,
    approved_vat = CASE WHEN decision IN ('pending', 'auto_approved')
        THEN (CASE WHEN f.any_flag THEN 0 ELSE billed_vat END) ELSE approved_vat END
FROM (
    SELECT x.*, ({" OR ".join(f"x.{c}" for c in FLAG_COLUMNS)}) AS any_flag FROM (
        SELECT m.line_id, m.shipment_id, m.charge_line_id, m.contract_version_id, m.rate_line_id, m.expected_net,
            m.expected_vat, m.chargeable_weight_kg,
            (m.shipment_id IS NULL) AS flag_unknown_tracking,
            COALESCE(m.line_no > m.first_line_no, FALSE) AS flag_duplicate_in_invoice,
            {_BILLED_BEFORE} AS flag_duplicate_other_invoice,
            (m.shipment_id IS NOT NULL AND m.charge_line_id IS NULL AND NOT m.expired) AS flag_not_rated,
            COALESCE(m.expected_net IS NOT NULL AND (m.billed_net > m.expected_net OR m.expected_net < 0) AND (
                m.billed_net - m.expected_net > CAST(%(tol_amount)s AS NUMERIC)
                OR m.billed_net - m.expected_net > ROUND(m.expected_net * CAST(%(tol_percent)s AS NUMERIC) / 100, 4)
            ), FALSE) AS flag_over_tolerance,
            COALESCE(m.billed_weight_kg <> m.chargeable_weight_kg
                AND ABS(m.billed_weight_kg - m.chargeable_weight_kg) > CAST(%(tol_weight)s AS NUMERIC), FALSE) AS flag_weight_mismatch,
            COALESCE(m.contract_version_id IS NOT NULL AND ({_SURCHARGE_TEST}), FALSE) AS flag_surcharge_not_in_contract,
            m.expired AS flag_expired_contract,
            COALESCE(m.shipment_status NOT IN ('delivered', 'returned'), FALSE) AS flag_not_delivered,
            (m.billed_unexpected > 0) AS flag_unexpected_fee
        FROM (
            SELECT l.id AS line_id, l.line_no, l.tracking_number, l.billed_weight_kg, l.billed_net, {_BILLED},
                {_UNEXPECTED} AS billed_unexpected,
                rep.first_line_no, sh.id AS shipment_id, sh.status AS shipment_status, cl.id AS charge_line_id,
                cl.contract_version_id, cl.rate_line_id, COALESCE(rr.net, cl.vendor_net) AS expected_net,
                COALESCE(rr.vat, cl.vendor_vat) AS expected_vat, cl.chargeable_weight_kg,
                {_EXPIRED} AS expired
            FROM {LINE} l
            LEFT JOIN ({_REPEATED}) rep ON rep.tracking_number = l.tracking_number
            LEFT JOIN LATERAL ({_SHIPMENT_OF_LINE}) sh ON TRUE
            LEFT JOIN LATERAL ({_RERATED}) rr ON TRUE
            LEFT JOIN LATERAL ({_LATEST_LINE}) cl ON TRUE
            WHERE l.invoice_id = %(invoice)s
        ) m
        LEFT JOIN (
            SELECT s.version_id, {_HAS_KIND} FROM {SURCHARGE} s
            WHERE s.version_id IN (SELECT v.id FROM {CONTRACT_VERSION} v JOIN {CONTRACT} vc ON vc.id = v.contract_id
                                   WHERE vc.vendor_id = %(vendor)s)
            GROUP BY s.version_id
        ) sv ON sv.version_id = m.contract_version_id
        OFFSET 0
    ) x
) f
WHERE {LINE}.id = f.line_id AND {LINE}.invoice_id = %(invoice)s
"""


AUDIT_SQL = _audit_sql()

# The audit statement's session settings (its transaction only).
AUDIT_SETTINGS = (
    # One large statement over the whole invoice: its joins, aggregate and sort fit in memory with
    # 256 MB (4 MB spills them to disk); JIT compilation would cost more than it saves.
    "SET LOCAL work_mem = '256MB'",
    "SET LOCAL jit = off",
    # The invoice's lines through the (invoice, line_no) index, never a scan of every line of every
    # invoice: once earlier invoices outnumber this one a few times, the planner would otherwise
    # read the whole line table three times (measured: `make bench`, incremental).
    "SET LOCAL enable_seqscan = off",
    # No nested loop the statement can do without (the per-line index probes of its LATERAL
    # subqueries remain). Planned on statistics that do not hold the invoice's lines yet — the
    # refresh before it skipped, as it does for an app role that does not own the table — the
    # planner estimates one line and joins every line to the whole audited invoice in a nested
    # loop: 112 s for 1,000 lines, over 30 minutes for 200,000. With hash joins: 0.07 and 4.3 s;
    # on fresh statistics 3.2 s against 3.5 s (measured next to a 1.2M-line invoice).
    "SET LOCAL enable_nestloop = off",
)


def _policy(vendor) -> VendorAuditPolicy:
    return VendorAuditPolicy.objects.filter(vendor=vendor).first() or VendorAuditPolicy(vendor=vendor)


def invoice_audit(*, invoice_id: int, progress=None, actor=None) -> VendorInvoice:
    """Audit (or re-audit) an invoice's lines set-based; approve it when nothing is left to
    review. Human decisions are kept on a re-audit. `progress(step, steps)` reports advance."""
    _analyze_if_bulk(invoice_id)
    return _invoice_audit(invoice_id=invoice_id, progress=progress or (lambda step, steps: None), actor=actor)


# The line table's statistics are refreshed before the audit of an invoice of at least this many
# lines: of any size. Planned without its lines in the statistics, a 1,000-line invoice took 112 s
# to audit (0.06 s after the refresh, which costs ~0.2 s on millions of lines).
ANALYZE_AFTER_LINES = 1


def _analyze_if_bulk(invoice_id: int) -> None:
    """Refresh the statistics of the line table before auditing a large invoice, outside the audit's
    transaction (the lock is held for the ANALYZE only). Planned on statistics from before its
    lines were written, the audit believes the invoice holds one line and joins each line to the
    whole invoice (112 s for 1,000 lines next to a 1.2M-line invoice; minutes for 20,000);
    autovacuum may come hours late or be off. ANALYZE reads a fixed number of rows at random across the table, so its cost
    grows with the earlier invoices' lines: it samples at WRITTEN_SAMPLE_TARGET, and only the
    columns the audit looks lines up by (and the row count): all 40 would cost several times as much.
    It waits for a table autovacuum is working on (`wait`): the lines just written are what set
    autovacuum off, its analyze comes after its vacuum, and an audit planned before it ran for
    30 minutes on a 200,000-line invoice (the bench, once) where it takes 3 s."""
    lines = VendorInvoice.objects.filter(pk=invoice_id).values_list("line_count", flat=True).first() or 0
    if lines >= ANALYZE_AFTER_LINES:
        analyze_written(f"{LINE} (invoice_id, tracking_number)", sample=WRITTEN_SAMPLE_TARGET, wait=True)


@retry_on_conflict
@transaction.atomic(durable=True)
def _invoice_audit(*, invoice_id: int, progress, actor) -> VendorInvoice:
    invoice = invoice_lock(invoice_id)
    if invoice.kind != VendorInvoice.Kind.INVOICE:
        raise DomainError("Credit notes are not audited line by line; approve them.", code="not_an_invoice")
    if invoice.status == VendorInvoice.Status.APPROVED:
        raise ConflictError("This invoice is approved; its audit is final.", code="bad_status")
    policy = _policy(invoice.vendor)
    params = {
        "invoice": invoice.pk,
        "vendor": invoice.vendor_id,
        "tol_amount": policy.tolerance_amount,
        "tol_percent": policy.tolerance_percent,
        "tol_weight": policy.weight_tolerance_kg,
        # The vendor's earlier invoices (not credit notes), for the check against double billing.
        "earlier": list(
            VendorInvoice.objects.filter(
                vendor_id=invoice.vendor_id, kind=VendorInvoice.Kind.INVOICE, pk__lt=invoice.pk
            ).values_list("pk", flat=True)
        ),
    }
    progress(1, 3)
    with connection.cursor() as cursor:
        for setting in AUDIT_SETTINGS:
            cursor.execute(setting)
        cursor.execute(AUDIT_SQL, params)
    progress(2, 3)
    invoice.audited_at = timezone.now()
    invoice.status = VendorInvoice.Status.IN_REVIEW
    invoice.save(update_fields=["audited_at", "status"])
    _summarise(invoice)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="vendor_invoice_audit",
        obj=invoice,
        detail={"pending": invoice.pending_count, "flagged": invoice.flagged_count},
    )
    if invoice.pending_count == 0:
        _approve(invoice, actor=actor)
    progress(3, 3)
    return invoice


_MONEY = DecimalField(max_digits=22, decimal_places=4)


def _sum(expr, condition=None):
    return Coalesce(
        Sum(ExpressionWrapper(expr, output_field=_MONEY), filter=condition), Decimal(0), output_field=_MONEY
    )


def _summarise(invoice: VendorInvoice) -> None:
    """Summary totals of the invoice, from its lines in one query (gross amounts)."""
    any_flag = Q()
    for name in FLAG_COLUMNS:
        any_flag |= Q(**{name: True})
    decided = ~Q(decision=D.PENDING)
    totals = invoice.lines.aggregate(
        t_expected=_sum(F("expected_net") + F("expected_vat"), Q(expected_net__isnull=False)),
        t_approved_net=_sum(F("approved_net")),
        t_approved_vat=_sum(F("approved_vat")),
        t_disputed=_sum(F("billed_gross"), Q(decision=D.DISPUTED)),
        t_savings=_sum(F("billed_gross") - F("approved_net") - F("approved_vat"), decided),
        t_pending=Count("id", filter=Q(decision=D.PENDING)),
        t_flagged=Count("id", filter=any_flag),
    )
    cur = invoice.currency
    invoice.expected_total = quantize(totals["t_expected"], cur)
    invoice.approved_net = quantize(totals["t_approved_net"], cur)
    invoice.approved_vat = quantize(totals["t_approved_vat"], cur)
    invoice.approved_total = invoice.approved_net + invoice.approved_vat
    invoice.disputed_total = quantize(totals["t_disputed"], cur)
    invoice.savings_total = quantize(totals["t_savings"], cur)
    invoice.pending_count = totals["t_pending"]
    invoice.flagged_count = totals["t_flagged"]
    invoice.save(
        update_fields=[
            "expected_total",
            "approved_net",
            "approved_vat",
            "approved_total",
            "disputed_total",
            "savings_total",
            "pending_count",
            "flagged_count",
        ]
    )


@retry_on_conflict
@transaction.atomic(durable=True)
def invoice_lines_decide(*, actor, invoice: VendorInvoice, line_ids, decision: str, reason: str = "") -> VendorInvoice:
    """Approve (pay billed), short-pay (pay the expected amount) or dispute (pay nothing) lines of
    an invoice in review, with a reason for short-pay and dispute. When no line is left pending
    the invoice is approved in the same transaction (posting + payable).

    Raises DomainError for a missing reason, unknown lines, or a short-pay of a line with no
    expected charge or not billed above it; ConflictError when the invoice is already approved.
    """
    invoice = invoice_lock(invoice.pk)
    if invoice.status != VendorInvoice.Status.IN_REVIEW:
        raise ConflictError(
            f"Lines can be decided while the invoice waits for review; it is {invoice.get_status_display().lower()}.",
            code="bad_status",
        )
    if decision not in HUMAN_DECISIONS:
        raise DomainError("Choose approve, short-pay or dispute.", field="decision")
    reason = (reason or "").strip()
    if decision in (D.SHORT_PAID, D.DISPUTED) and not reason:
        raise DomainError("Give a reason for a short-payment or a dispute.", code="required", field="reason")
    ids = sorted({int(i) for i in line_ids})
    if not ids:
        raise DomainError("Select at least one line.", field="lines")
    lines = invoice.lines.filter(pk__in=ids)
    if lines.count() != len(ids):
        raise DomainError("Some selected lines are not lines of this invoice.", field="lines")
    if invoice.is_credit_note:
        raise DomainError("Approve a credit note as a whole.", code="credit_note")
    if decision == D.SHORT_PAID:
        bad = lines.filter(Q(expected_net__isnull=True) | Q(billed_net__lte=F("expected_net"))).values_list(
            "line_no", flat=True
        )[:20]
        if bad:
            raise DomainError(
                f"Short-pay needs an expected charge below the billed one; not so on {'row' if len(bad) == 1 else 'rows'} "
                f"{', '.join(map(str, bad))}.",
                code="cannot_short_pay",
                field="lines",
            )
    now = timezone.now()
    common = dict(decision=decision, reason=reason[:255], decided_by=actor, decided_at=now)
    if decision == D.APPROVED:
        lines.update(approved_net=F("billed_net"), approved_vat=F("billed_vat"), **common)
    elif decision == D.SHORT_PAID:
        lines.update(approved_net=F("expected_net"), approved_vat=F("expected_vat"), **common)
    else:
        lines.update(approved_net=Decimal(0), approved_vat=Decimal(0), **common)
    _summarise(invoice)
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action=f"vendor_invoice_lines_{decision}",
        obj=invoice,
        detail={"lines": len(ids), "reason": reason[:200]},
    )
    if invoice.pending_count == 0:
        _approve(invoice, actor=actor)
    return invoice


def _payment_terms_days(invoice: VendorInvoice) -> int:
    contracts = Contract.objects.filter(vendor=invoice.vendor, status__in=Contract.EFFECTIVE_STATUSES)
    covering = (
        contracts.filter(valid_from__lte=invoice.invoice_date)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=invoice.invoice_date))
        .order_by("-valid_from")
        .first()
    )
    contract = covering or contracts.order_by("-valid_from").first()
    return contract.payment_terms_days if contract else invoice.vendor.payment_terms_days


def _approve(invoice: VendorInvoice, *, actor) -> None:
    """Post the approved amount and create the payable (inside the caller's transaction).

    Invoice: Dr accrued logistics cost (expected net of the approved, matched, non-duplicate lines)
    / Dr logistics cost (approved net - that accrual; a credit when negative) / Dr VAT input
    (approved VAT) / Cr vendor payable (approved gross). Nothing is posted when nothing is
    approved. Key payables:invoice:<id>:approve, so a retry never posts twice.
    """
    cur, vendor = invoice.currency, invoice.vendor
    relieved = invoice.lines.filter(
        decision__in=PAYING_DECISIONS,
        charge_line__isnull=False,
        flag_duplicate_in_invoice=False,
        flag_duplicate_other_invoice=False,
    ).aggregate(total=_sum(F("expected_net")))["total"]
    invoice.accrual_relieved = quantize(relieved, cur)
    gross = invoice.approved_net + invoice.approved_vat
    if gross > 0:
        difference = invoice.approved_net - invoice.accrual_relieved
        lines = [
            PostingLine(
                accrual_account(vendor, cur), invoice.accrual_relieved, f"Accrual relieved by {invoice.number}"
            ),
            PostingLine(
                market_account(vendor, AccountKind.LOGISTICS_COST, cur),
                difference,
                f"Billed vs accrued, {invoice.number}",
            ),
            PostingLine(
                market_account(vendor, AccountKind.VAT_INPUT, cur), invoice.approved_vat, f"Input VAT {invoice.number}"
            ),
            PostingLine(vendor_payable_account(vendor, cur), -gross, f"Invoice {invoice.number}"),
        ]
        invoice.entry = ledger_post(
            market=invoice.market,
            entry_date=invoice.market.local_date(),
            lines=[line for line in lines if line.amount != 0],
            idempotency_key=f"payables:invoice:{invoice.pk}:approve",
            source_type="vendor_invoice",
            source_id=str(invoice.pk),
            description=f"Vendor invoice {invoice.number} ({vendor.code}) approved",
            actor=actor,
        )
        Payable.objects.create(
            vendor=vendor,
            market=invoice.market,
            currency=cur,
            kind=Payable.Kind.INVOICE,
            invoice=invoice,
            amount=gross,
            due_date=invoice.invoice_date + timedelta(days=_payment_terms_days(invoice)),
        )
    invoice.status = VendorInvoice.Status.APPROVED
    invoice.approved_at = timezone.now()
    invoice.approved_by = actor if getattr(actor, "pk", None) else None
    invoice.save(update_fields=["accrual_relieved", "entry", "status", "approved_at", "approved_by"])
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="vendor_invoice_approve",
        obj=invoice,
        detail={"approved_total": str(gross), "savings": str(invoice.savings_total)},
    )


@retry_on_conflict
@transaction.atomic(durable=True)
def invoice_approve(*, actor, invoice: VendorInvoice) -> VendorInvoice:
    """Approve a credit note in review: it reduces what the vendor is owed.

    Dr vendor payable (gross) / Cr logistics cost (net) / Cr VAT input (VAT); a negative payable
    is created and netted by the next payment run. Refused when the credits of the invoice would
    exceed what was approved of it. (Invoices are approved by deciding their lines.)
    """
    invoice = invoice_lock(invoice.pk)
    if not invoice.is_credit_note:
        raise DomainError("Invoices are approved by deciding their flagged lines.", code="not_a_credit_note")
    if invoice.status != VendorInvoice.Status.IN_REVIEW:
        raise ConflictError("This credit note is already approved.", code="bad_status")
    credited = invoice_lock(invoice.credited_invoice_id)
    if credited.status != VendorInvoice.Status.APPROVED:
        raise ConflictError(
            f"Invoice {credited.number} is not approved yet; approve it before its credit notes.",
            code="credited_not_approved",
        )
    earlier = credited.credit_notes.filter(status=VendorInvoice.Status.APPROVED).aggregate(t=_sum(F("gross_total")))[
        "t"
    ]
    if earlier + invoice.gross_total > credited.approved_total:
        raise DomainError(
            f"Credits of {credited.number} would reach {invoice.currency} {quantize(earlier + invoice.gross_total, invoice.currency)}, "
            f"more than the {quantize(credited.approved_total, invoice.currency)} approved of it.",
            code="credit_exceeds_invoice",
        )
    cur, vendor = invoice.currency, invoice.vendor
    now = timezone.now()
    invoice.lines.update(
        decision=D.APPROVED,
        approved_net=F("billed_net"),
        approved_vat=F("billed_vat"),
        decided_by=actor,
        decided_at=now,
    )
    lines = [
        PostingLine(vendor_payable_account(vendor, cur), invoice.gross_total, f"Credit note {invoice.number}"),
        PostingLine(
            market_account(vendor, AccountKind.LOGISTICS_COST, cur), -invoice.net_total, f"Credit note {invoice.number}"
        ),
        PostingLine(
            market_account(vendor, AccountKind.VAT_INPUT, cur), -invoice.vat_total, f"Input VAT credit {invoice.number}"
        ),
    ]
    invoice.entry = ledger_post(
        market=invoice.market,
        entry_date=invoice.market.local_date(),
        lines=[line for line in lines if line.amount != 0],
        idempotency_key=f"payables:credit_note:{invoice.pk}:approve",
        source_type="vendor_credit_note",
        source_id=str(invoice.pk),
        description=f"Vendor credit note {invoice.number} ({vendor.code}) for {credited.number}",
        actor=actor,
    )
    if invoice.gross_total > 0:
        Payable.objects.create(
            vendor=vendor,
            market=invoice.market,
            currency=cur,
            kind=Payable.Kind.CREDIT_NOTE,
            invoice=invoice,
            amount=-invoice.gross_total,
            due_date=invoice.invoice_date,
        )
    invoice.status, invoice.approved_at, invoice.approved_by = VendorInvoice.Status.APPROVED, now, actor
    invoice.approved_net, invoice.approved_vat, invoice.approved_total = (
        invoice.net_total,
        invoice.vat_total,
        invoice.gross_total,
    )
    invoice.pending_count = 0
    invoice.save(
        update_fields=[
            "entry",
            "status",
            "approved_at",
            "approved_by",
            "approved_net",
            "approved_vat",
            "approved_total",
            "pending_count",
        ]
    )
    audit_record(
        kind=AuditEvent.Kind.APPROVAL,
        actor=actor,
        action="vendor_credit_note_approve",
        obj=invoice,
        detail={"credited": credited.number, "gross": str(invoice.gross_total)},
    )
    return invoice
