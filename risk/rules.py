"""The risk rules: each one SQL statement (or two) over a whole market, returning the conditions
it found as Hits. Table names come from Model._meta; parameters are bound, never formatted in.

A rule declares its default parameters per market (`defaults(market)`); the values in force are
the market's current RuleVersion (risk.services.rule_params). The compensation rule looks the
compensation models up through the app registry, so it stays quiet (no query at all) until that
app exists, and lights up once its tables hold data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.apps import apps
from django.db import connection

from billing.models import BillingRun, ChargeLine, ChargeLineTotal, RatingException, Shipment
from billing.payables.models import Payable, Payment, PaymentRun, VendorInvoice, VendorInvoiceLine
from billing.receivables.models import Invoice, PayoutDeduction
from sellers.models import Seller
from settlement_ops.models import ApprovalLimit, Market
from vendors.models import Contract, Vendor, VendorBankAccount, VendorBankChangeRequest

from .models import Severity


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# Per-currency defaults: amounts in the market's currency (IDR/VND have no minor unit in practice).
_BIG = {"GBP": 5000, "EUR": 5000, "USD": 5000, "IDR": 80_000_000, "VND": 120_000_000}
_ROUND = {"GBP": 100, "EUR": 100, "USD": 100, "IDR": 1_000_000, "VND": 1_000_000}
_ROUND_MIN = {"GBP": 1000, "EUR": 1000, "USD": 1000, "IDR": 20_000_000, "VND": 25_000_000}


@dataclass
class Hit:
    key: str
    title: str
    amount: Decimal
    subject_type: str = ""
    subject_id: int | None = None
    subject_label: str = ""
    evidence: list = field(default_factory=list)
    severity: str | None = None


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    description: str
    severity: str
    defaults: Callable[[Market], dict]
    run: Callable[[Market, dict, date], list[Hit]]


def _rows(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _ev(label: str, model, pk) -> dict:
    return {"label": label, "app": model._meta.app_label, "model": model._meta.model_name, "pk": pk}


def _vendor_label(row) -> str:
    return f"{row['vendor_code']} {row['vendor_name']}"


# --- Vendors and invoices ------------------------------------------------------------------------


def _duplicate_invoice(market: Market, p: dict, today: date) -> list[Hit]:
    by_number = _rows(
        f"""
        SELECT vi.vendor_id, v.code AS vendor_code, v.legal_name AS vendor_name,
               regexp_replace(upper(vi.number), '[^A-Z0-9]', '', 'g') AS norm,
               array_agg(vi.id ORDER BY vi.id) AS ids, array_agg(vi.number ORDER BY vi.id) AS numbers,
               sum(vi.gross_total) - max(vi.gross_total) AS amount
        FROM {_t(VendorInvoice)} vi JOIN {_t(Vendor)} v ON v.id = vi.vendor_id
        WHERE vi.market_id = %(m)s AND vi.kind = 'invoice' AND vi.invoice_date > %(today)s::date - %(days)s
        GROUP BY vi.vendor_id, v.code, v.legal_name, norm HAVING count(*) > 1
        """,
        {"m": market.code, "today": today, "days": p["window_days"]},
    )
    hits = [
        Hit(
            key=f"number:{r['vendor_id']}:{r['norm']}",
            title=f"{r['vendor_code']} billed invoice number {r['numbers'][0]} {len(r['ids'])} times",
            amount=r["amount"],
            subject_type="vendor",
            subject_id=r["vendor_id"],
            subject_label=_vendor_label(r),
            evidence=[_ev(f"Invoice {n}", VendorInvoice, i) for i, n in zip(r["ids"], r["numbers"], strict=True)],
        )
        for r in by_number
    ]
    # Same amount and date from two vendors paid into one bank account.
    pairs = _rows(
        f"""
        WITH acct AS (
            SELECT DISTINCT ba.vendor_id, COALESCE(NULLIF(ba.iban, ''), ba.bank_code || ':' || ba.account_number) AS acct
            FROM {_t(VendorBankAccount)} ba WHERE ba.status = 'active'
        ), pairs AS (
            SELECT DISTINCT a.vendor_id AS v1, b.vendor_id AS v2
            FROM acct a JOIN acct b ON a.acct = b.acct AND a.vendor_id < b.vendor_id AND a.acct <> ':'
        )
        SELECT i1.id AS id1, i1.number AS n1, i2.id AS id2, i2.number AS n2, i1.gross_total AS amount,
               i1.vendor_id, v.code AS vendor_code, v.legal_name AS vendor_name, v2.code AS other_code
        FROM pairs
        JOIN {_t(VendorInvoice)} i1 ON i1.vendor_id = pairs.v1
        JOIN {_t(VendorInvoice)} i2 ON i2.vendor_id = pairs.v2
             AND i2.invoice_date = i1.invoice_date AND i2.gross_total = i1.gross_total AND i2.kind = 'invoice'
        JOIN {_t(Vendor)} v ON v.id = i1.vendor_id JOIN {_t(Vendor)} v2 ON v2.id = i2.vendor_id
        WHERE i1.market_id = %(m)s AND i1.kind = 'invoice' AND i1.invoice_date > %(today)s::date - %(days)s
        """,
        {"m": market.code, "today": today, "days": p["window_days"]},
    )
    hits += [
        Hit(
            key=f"pair:{r['id1']}:{r['id2']}",
            title=f"{r['vendor_code']} and {r['other_code']} (one bank account) billed the same amount on the same day",
            amount=r["amount"],
            subject_type="vendor",
            subject_id=r["vendor_id"],
            subject_label=_vendor_label(r),
            evidence=[
                _ev(f"Invoice {r['n1']}", VendorInvoice, r["id1"]),
                _ev(f"Invoice {r['n2']}", VendorInvoice, r["id2"]),
            ],
        )
        for r in pairs
    ]
    return hits


def _shared_iban(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        WITH acct AS (
            SELECT ba.vendor_id, ba.id, COALESCE(NULLIF(ba.iban, ''), ba.bank_code || ':' || ba.account_number) AS acct
            FROM {_t(VendorBankAccount)} ba JOIN {_t(Vendor)} v ON v.id = ba.vendor_id
            WHERE ba.status = 'active' AND v.market_id = %(m)s
        ), shared AS (
            SELECT acct, array_agg(DISTINCT vendor_id) AS vendors, array_agg(id ORDER BY id) AS accounts
            FROM acct WHERE acct <> ':' GROUP BY acct HAVING count(DISTINCT vendor_id) > 1
        )
        SELECT s.acct, s.vendors, s.accounts,
               (SELECT string_agg(v.code, ', ' ORDER BY v.code) FROM {_t(Vendor)} v WHERE v.id = ANY(s.vendors)) AS codes,
               (SELECT COALESCE(sum(pa.amount), 0) FROM {_t(Payable)} pa
                 WHERE pa.vendor_id = ANY(s.vendors) AND pa.status <> 'paid' AND pa.amount > 0) AS amount
        FROM shared s
        """,
        {"m": market.code},
    )
    return [
        Hit(
            key=f"acct:{r['acct']}",
            title=f"One bank account (…{r['acct'][-4:]}) on vendors {r['codes']}",
            amount=r["amount"],
            subject_type="vendor",
            subject_id=min(r["vendors"]),
            subject_label=r["codes"],
            evidence=[
                _ev(f"Vendor {code}", Vendor, vid)
                for vid, code in zip(sorted(r["vendors"]), r["codes"].split(", "), strict=False)
            ],
        )
        for r in rows
    ]


def _bank_change_then_payment(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        SELECT r.id AS req, r.vendor_id, v.code AS vendor_code, v.legal_name AS vendor_name,
               r.decided_at, pm.id AS payment, pm.amount, pm.end_to_end_id, pr.pay_date, pr.id AS run, pr.number
        FROM {_t(VendorBankChangeRequest)} r
        JOIN {_t(Vendor)} v ON v.id = r.vendor_id
        JOIN {_t(Payment)} pm ON pm.vendor_id = r.vendor_id AND pm.status <> 'rejected'
        JOIN {_t(PaymentRun)} pr ON pr.id = pm.run_id AND pr.status <> 'cancelled'
        WHERE v.market_id = %(m)s AND r.status = 'approved'
          AND pr.pay_date >= (r.decided_at AT TIME ZONE 'UTC')::date
          AND pr.pay_date <= (r.decided_at AT TIME ZONE 'UTC')::date + %(days)s
          AND pr.pay_date > %(today)s::date - %(lookback)s
        """,
        {"m": market.code, "days": p["days"], "today": today, "lookback": p["lookback_days"]},
    )
    return [
        Hit(
            key=f"{r['req']}:{r['payment']}",
            title=f"{r['vendor_code']} paid {r['pay_date']:%Y-%m-%d}, {(r['pay_date'] - r['decided_at'].date()).days} day(s) after its bank details changed",
            amount=r["amount"],
            subject_type="vendor",
            subject_id=r["vendor_id"],
            subject_label=_vendor_label(r),
            evidence=[
                _ev("Bank change request", VendorBankChangeRequest, r["req"]),
                _ev(f"Payment run {r['number']}", PaymentRun, r["run"]),
            ],
        )
        for r in rows
    ]


def _new_vendor_big_invoice(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        SELECT * FROM (
            SELECT DISTINCT ON (vi.vendor_id) vi.vendor_id, v.code AS vendor_code, v.legal_name AS vendor_name,
                   vi.id, vi.number, vi.gross_total AS amount
            FROM {_t(VendorInvoice)} vi JOIN {_t(Vendor)} v ON v.id = vi.vendor_id
            WHERE vi.market_id = %(m)s AND vi.kind = 'invoice'
              AND (v.created_at AT TIME ZONE 'UTC')::date > %(today)s::date - %(new_days)s
            ORDER BY vi.vendor_id, vi.invoice_date, vi.id
        ) first WHERE amount > %(threshold)s
        """,
        {"m": market.code, "today": today, "new_days": p["new_days"], "threshold": Decimal(str(p["threshold"]))},
    )
    return [
        Hit(
            key=f"vendor:{r['vendor_id']}",
            title=f"New vendor {r['vendor_code']}'s first invoice {r['number']} is {market.currency} {r['amount']:,.0f}",
            amount=r["amount"],
            subject_type="vendor",
            subject_id=r["vendor_id"],
            subject_label=_vendor_label(r),
            evidence=[_ev(f"Invoice {r['number']}", VendorInvoice, r["id"])],
        )
        for r in rows
    ]


def _overbilling(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        SELECT vi.vendor_id, v.code AS vendor_code, v.legal_name AS vendor_name,
               sum(l.billed_net) AS billed, sum(l.expected_net) AS expected, count(*) AS lines,
               array_agg(DISTINCT vi.id) AS invoices
        FROM {_t(VendorInvoiceLine)} l
        JOIN {_t(VendorInvoice)} vi ON vi.id = l.invoice_id
        JOIN {_t(Vendor)} v ON v.id = vi.vendor_id
        WHERE vi.market_id = %(m)s AND vi.kind = 'invoice' AND l.expected_net IS NOT NULL
          AND vi.invoice_date > %(today)s::date - %(days)s
        GROUP BY vi.vendor_id, v.code, v.legal_name
        HAVING count(*) >= %(min_lines)s AND sum(l.expected_net) > 0
           AND sum(l.billed_net) > sum(l.expected_net) * (1 + %(pct)s / 100.0)
        """,
        {"m": market.code, "today": today, "days": p["window_days"], "min_lines": p["min_lines"], "pct": p["percent"]},
    )
    return [
        Hit(
            key=f"vendor:{r['vendor_id']}",
            title=(
                f"{r['vendor_code']} billed {(r['billed'] / r['expected'] - 1) * 100:.1f}% above expected over "
                f"{p['window_days']} days ({r['lines']} lines)"
            ),
            amount=r["billed"] - r["expected"],
            subject_type="vendor",
            subject_id=r["vendor_id"],
            subject_label=_vendor_label(r),
            evidence=[_ev(f"Invoice #{i}", VendorInvoice, i) for i in sorted(r["invoices"])[:20]],
        )
        for r in rows
    ]


def _round_or_just_under(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        WITH lim AS (
            SELECT COALESCE(%(limit)s, min(max_amount)) AS lim FROM {_t(ApprovalLimit)}
            WHERE action = 'payment_run' AND currency = %(cur)s
        )
        SELECT vi.id, vi.number, vi.vendor_id, v.code AS vendor_code, v.legal_name AS vendor_name,
               vi.gross_total AS amount, lim.lim,
               (vi.gross_total >= %(min)s AND mod(vi.gross_total, %(unit)s) = 0) AS is_round
        FROM {_t(VendorInvoice)} vi JOIN {_t(Vendor)} v ON v.id = vi.vendor_id CROSS JOIN lim
        WHERE vi.market_id = %(m)s AND vi.kind = 'invoice' AND vi.invoice_date > %(today)s::date - %(days)s
          AND ((vi.gross_total >= %(min)s AND mod(vi.gross_total, %(unit)s) = 0)
               OR (lim.lim IS NOT NULL AND vi.gross_total < lim.lim
                   AND vi.gross_total >= lim.lim * (1 - %(pct)s / 100.0)))
        """,
        {
            "m": market.code,
            "cur": market.currency,
            "today": today,
            "days": p["window_days"],
            "limit": Decimal(str(p["approval_limit"])) if p.get("approval_limit") else None,
            "min": Decimal(str(p["round_min"])),
            "unit": Decimal(str(p["round_unit"])),
            "pct": p["just_under_percent"],
        },
    )
    return [
        Hit(
            key=f"invoice:{r['id']}",
            title=(
                f"{r['vendor_code']} invoice {r['number']} is a round {market.currency} {r['amount']:,.0f}"
                if r["is_round"]
                else f"{r['vendor_code']} invoice {r['number']} is just under the approval limit ({r['lim']:,.0f})"
            ),
            amount=r["amount"],
            subject_type="vendor",
            subject_id=r["vendor_id"],
            subject_label=_vendor_label(r),
            evidence=[_ev(f"Invoice {r['number']}", VendorInvoice, r["id"])],
            severity=Severity.LOW if r["is_round"] else Severity.MEDIUM,
        )
        for r in rows
    ]


# --- Contracts and billing -----------------------------------------------------------------------


def _contract_expiring(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        WITH flow AS (
            SELECT t.vendor_id, sum(t.line_count) AS lines, sum(t.vendor_net) AS spend
            FROM {_t(ChargeLineTotal)} t JOIN {_t(BillingRun)} r ON r.id = t.run_id
            WHERE r.market_id = %(m)s AND r.business_date > %(today)s::date - %(flow)s
            GROUP BY t.vendor_id
        )
        SELECT c.id, c.reference, c.valid_to, c.vendor_id, v.code AS vendor_code, v.legal_name AS vendor_name,
               flow.lines, flow.spend AS amount
        FROM {_t(Contract)} c JOIN {_t(Vendor)} v ON v.id = c.vendor_id JOIN flow ON flow.vendor_id = c.vendor_id
        WHERE c.market_id = %(m)s AND c.status = 'active' AND c.valid_to IS NOT NULL
          AND c.valid_to BETWEEN %(today)s::date AND %(today)s::date + %(days)s
          AND NOT EXISTS (SELECT 1 FROM {_t(Contract)} n WHERE n.vendor_id = c.vendor_id AND n.id <> c.id
                          AND n.status = 'active' AND n.service_level = c.service_level AND n.valid_from > c.valid_to)
        """,
        {"m": market.code, "today": today, "flow": p["flow_days"], "days": p["days"]},
    )
    return [
        Hit(
            key=f"contract:{r['id']}:{r['valid_to']}",
            title=f"Contract {r['reference']} of {r['vendor_code']} ends {r['valid_to']:%Y-%m-%d} with shipments still flowing and no successor",
            amount=max(r["amount"] or Decimal(0), Decimal(0)),
            subject_type="contract",
            subject_id=r["id"],
            subject_label=f"{r['reference']} ({r['vendor_code']})",
            evidence=[
                _ev(f"Contract {r['reference']}", Contract, r["id"]),
                _ev(f"Vendor {r['vendor_code']}", Vendor, r["vendor_id"]),
            ],
        )
        for r in rows
    ]


def _billed_without_contract(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        WITH unrated AS (
            SELECT e.vendor_id, count(DISTINCT e.shipment_id) AS shipments
            FROM {_t(RatingException)} e JOIN {_t(BillingRun)} r ON r.id = e.run_id
            WHERE r.market_id = %(m)s AND e.code = 'no_contract' AND r.business_date > %(today)s::date - %(days)s
            GROUP BY e.vendor_id
        ), billed AS (
            SELECT vi.vendor_id, count(*) AS lines, sum(l.billed_net) AS amount, array_agg(DISTINCT vi.id) AS invoices
            FROM {_t(VendorInvoiceLine)} l JOIN {_t(VendorInvoice)} vi ON vi.id = l.invoice_id
            WHERE vi.market_id = %(m)s AND l.flag_expired_contract AND vi.invoice_date > %(today)s::date - %(days)s
            GROUP BY vi.vendor_id
        )
        SELECT v.id AS vendor_id, v.code AS vendor_code, v.legal_name AS vendor_name,
               COALESCE(u.shipments, 0) AS shipments, COALESCE(b.lines, 0) AS lines,
               COALESCE(b.amount, 0) AS amount, b.invoices
        FROM {_t(Vendor)} v LEFT JOIN unrated u ON u.vendor_id = v.id LEFT JOIN billed b ON b.vendor_id = v.id
        WHERE v.market_id = %(m)s AND (u.vendor_id IS NOT NULL OR b.vendor_id IS NOT NULL)
        """,
        {"m": market.code, "today": today, "days": p["window_days"]},
    )
    return [
        Hit(
            key=f"vendor:{r['vendor_id']}",
            title=(
                f"{r['vendor_code']}: {r['shipments']} shipment(s) with no active contract, "
                f"{r['lines']} invoice line(s) billed outside a contract"
            ),
            amount=max(r["amount"], Decimal(0)),
            subject_type="vendor",
            subject_id=r["vendor_id"],
            subject_label=_vendor_label(r),
            evidence=[_ev(f"Vendor {r['vendor_code']}", Vendor, r["vendor_id"])]
            + [_ev(f"Invoice #{i}", VendorInvoice, i) for i in sorted(r["invoices"] or [])[:20]],
        )
        for r in rows
    ]


def _aged_exceptions(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        WITH fee AS (
            SELECT COALESCE(sum(t.seller_net) / NULLIF(sum(t.line_count), 0), 0) AS avg_fee
            FROM {_t(ChargeLineTotal)} t JOIN {_t(BillingRun)} r ON r.id = t.run_id
            WHERE r.market_id = %(m)s AND r.business_date > %(today)s::date - 30
        ), aged AS (
            SELECT e.vendor_id, count(DISTINCT e.shipment_id) AS shipments, min(e.created_at) AS oldest
            FROM {_t(RatingException)} e JOIN {_t(BillingRun)} r ON r.id = e.run_id
            WHERE r.market_id = %(m)s AND e.created_at < %(today)s::date - %(days)s
              AND NOT EXISTS (SELECT 1 FROM {_t(ChargeLine)} cl WHERE {ChargeLine.of_shipments_sql("cl", "e.shipment_id")})
            GROUP BY e.vendor_id
        )
        SELECT aged.*, v.code AS vendor_code, v.legal_name AS vendor_name, round(aged.shipments * fee.avg_fee, 2) AS amount
        FROM aged JOIN {_t(Vendor)} v ON v.id = aged.vendor_id CROSS JOIN fee
        """,
        {"m": market.code, "today": today, "days": p["days"]},
    )
    return [
        Hit(
            key=f"vendor:{r['vendor_id']}",
            title=f"{r['shipments']} shipment(s) of {r['vendor_code']} unbilled for more than {p['days']} days (oldest {r['oldest']:%Y-%m-%d})",
            amount=r["amount"],
            subject_type="vendor",
            subject_id=r["vendor_id"],
            subject_label=_vendor_label(r),
            evidence=[_ev(f"Vendor {r['vendor_code']}", Vendor, r["vendor_id"])],
        )
        for r in rows
    ]


# --- Sellers ---------------------------------------------------------------------------------------


def _seller_ar_overdue(market: Market, p: dict, today: date) -> list[Hit]:
    rows = _rows(
        f"""
        SELECT i.seller_id, s.code, s.name,
               sum(i.amount_open) FILTER (WHERE i.due_date < %(today)s::date - %(days)s) AS overdue,
               sum(i.amount_open) FILTER (WHERE i.issue_date > %(today)s::date - %(growth)s) AS new_open,
               sum(i.amount_open) AS amount,
               array_agg(i.id ORDER BY i.due_date) FILTER (WHERE i.due_date < %(today)s::date - %(days)s) AS ids,
               array_agg(i.number ORDER BY i.due_date) FILTER (WHERE i.due_date < %(today)s::date - %(days)s) AS numbers
        FROM {_t(Invoice)} i JOIN {_t(Seller)} s ON s.id = i.seller_id
        WHERE i.market_id = %(m)s AND i.status IN ('open', 'partially_paid') AND i.amount_open > 0
        GROUP BY i.seller_id, s.code, s.name
        HAVING sum(i.amount_open) FILTER (WHERE i.due_date < %(today)s::date - %(days)s) > 0
           AND sum(i.amount_open) FILTER (WHERE i.issue_date > %(today)s::date - %(growth)s) > 0
        """,
        {"m": market.code, "today": today, "days": p["days"], "growth": p["growth_days"]},
    )
    return [
        Hit(
            key=f"seller:{r['seller_id']}",
            title=f"{r['code']} is {market.currency} {r['overdue']:,.2f} overdue by more than {p['days']} days and its exposure grows",
            amount=r["amount"],
            subject_type="seller",
            subject_id=r["seller_id"],
            subject_label=f"{r['code']} {r['name']}",
            evidence=[_ev(f"Invoice {n}", Invoice, i) for i, n in zip(r["ids"], r["numbers"], strict=True)][:20],
        )
        for r in rows
    ]


def _chargeback_model():
    try:
        return apps.get_model("compensation", "Chargeback")
    except LookupError:
        return None


def _payout_with_open_items(market: Market, p: dict, today: date) -> list[Hit]:
    chargeback = _chargeback_model()
    open_chargebacks = (
        f"(SELECT count(*) FROM {_t(chargeback)} cb WHERE cb.seller_id = pd.seller_id AND cb.status IN ('posted', 'disputed'))"
        if chargeback is not None
        else "0"
    )
    rows = _rows(
        f"""
        SELECT * FROM (
            SELECT pd.seller_id, s.code, s.name, max(pd.confirmed_at) AS paid_at,
                   array_agg(pd.id ORDER BY pd.id) AS deductions,
                   (SELECT COALESCE(sum(i.amount_open), 0) FROM {_t(Invoice)} i
                     WHERE i.seller_id = pd.seller_id AND i.status IN ('open', 'partially_paid')
                       AND i.due_date < %(today)s) AS overdue,
                   {open_chargebacks} AS chargebacks
            FROM {_t(PayoutDeduction)} pd JOIN {_t(Seller)} s ON s.id = pd.seller_id
            WHERE pd.market_id = %(m)s AND pd.status = 'confirmed'
              AND pd.confirmed_at >= %(today)s::date - %(days)s
            GROUP BY pd.seller_id, s.code, s.name
        ) x WHERE overdue > 0 OR chargebacks > 0
        """,
        {"m": market.code, "today": today, "days": p["days"]},
    )
    return [
        Hit(
            key=f"seller:{r['seller_id']}:{r['paid_at']:%Y-%m-%d}",
            title=(
                f"{r['code']} was paid out on {r['paid_at']:%Y-%m-%d} with {market.currency} {r['overdue']:,.2f} overdue"
                f" and {r['chargebacks']} open chargeback(s)"
            ),
            amount=r["overdue"],
            subject_type="seller",
            subject_id=r["seller_id"],
            subject_label=f"{r['code']} {r['name']}",
            evidence=[_ev(f"Payout deduction #{d}", PayoutDeduction, d) for d in r["deductions"][:20]],
        )
        for r in rows
    ]


def _compensation_spike(market: Market, p: dict, today: date) -> list[Hit]:
    """Compensation requests per carrier and per seller (through the shipment) and chargebacks per
    party: the last `recent_days` against the party's own baseline over the `baseline_days`
    before. Quiet until the compensation app is installed and has data."""
    try:
        request_model = apps.get_model("compensation", "CompensationRequest")
    except LookupError:
        return []
    chargeback = _chargeback_model()
    parts = [
        f"""SELECT 'vendor' AS party, sh.vendor_id AS party_id, cr.issued_at AS at, cr.amount
            FROM {_t(request_model)} cr JOIN {_t(Shipment)} sh ON sh.id = cr.shipment_id WHERE cr.market_id = %(m)s""",
        f"""SELECT 'seller', sh.seller_id, cr.issued_at, cr.amount
            FROM {_t(request_model)} cr JOIN {_t(Shipment)} sh ON sh.id = cr.shipment_id WHERE cr.market_id = %(m)s""",
    ]
    if chargeback is not None:
        parts.append(
            f"""SELECT CASE WHEN cb.vendor_id IS NOT NULL THEN 'vendor' ELSE 'seller' END,
                       COALESCE(cb.vendor_id, cb.seller_id), cb.created_at, cb.amount
                FROM {_t(chargeback)} cb WHERE cb.market_id = %(m)s AND COALESCE(cb.vendor_id, cb.seller_id) IS NOT NULL"""
        )
    rows = _rows(
        f"""
        WITH ev AS ({" UNION ALL ".join(parts)}),
        agg AS (
            SELECT party, party_id,
                   count(*) FILTER (WHERE at >= %(today)s::date - %(recent)s) AS recent,
                   COALESCE(sum(amount) FILTER (WHERE at >= %(today)s::date - %(recent)s), 0) AS amount,
                   count(*) FILTER (WHERE at < %(today)s::date - %(recent)s) AS base
            FROM ev WHERE at >= %(today)s::date - %(recent)s - %(baseline)s AND at < %(today)s::date + 1
            GROUP BY party, party_id
        )
        SELECT agg.*, COALESCE(v.code, s.code) AS code, COALESCE(v.legal_name, s.name) AS name
        FROM agg LEFT JOIN {_t(Vendor)} v ON agg.party = 'vendor' AND v.id = agg.party_id
                 LEFT JOIN {_t(Seller)} s ON agg.party = 'seller' AND s.id = agg.party_id
        WHERE agg.recent >= %(min)s
          AND agg.recent > %(factor)s * GREATEST(agg.base::numeric * %(recent)s / %(baseline)s, 1)
        """,
        {
            "m": market.code,
            "today": today,
            "recent": p["recent_days"],
            "baseline": p["baseline_days"],
            "min": p["min_count"],
            "factor": Decimal(str(p["factor"])),
        },
    )
    return [
        Hit(
            key=f"{r['party']}:{r['party_id']}",
            title=(
                f"{r['code']}: {r['recent']} compensations/chargebacks in {p['recent_days']} days against "
                f"{r['base']} in the {p['baseline_days']} days before"
            ),
            amount=r["amount"],
            subject_type=r["party"],
            subject_id=r["party_id"],
            subject_label=f"{r['code']} {r['name']}",
            evidence=[
                _ev(f"{r['party'].title()} {r['code']}", Vendor if r["party"] == "vendor" else Seller, r["party_id"])
            ],
        )
        for r in rows
    ]


RULES: list[Rule] = [
    Rule(
        "duplicate_invoice",
        "Duplicate vendor invoice",
        "The same vendor and invoice number (ignoring punctuation), or the same amount and date from vendors sharing a bank account.",
        Severity.HIGH,
        lambda m: {"window_days": 180},
        _duplicate_invoice,
    ),
    Rule(
        "shared_bank_account",
        "One bank account on two vendors",
        "The same IBAN (or bank code and account number) is active on more than one vendor.",
        Severity.HIGH,
        lambda m: {},
        _shared_iban,
    ),
    Rule(
        "bank_change_payment",
        "Payment soon after a bank-detail change",
        "A vendor was paid within N days after its bank details changed (business e-mail compromise).",
        Severity.HIGH,
        lambda m: {"days": 14, "lookback_days": 90},
        _bank_change_then_payment,
    ),
    Rule(
        "new_vendor_big_invoice",
        "New vendor with a large first invoice",
        "A vendor created within N days whose first invoice exceeds a threshold (market currency).",
        Severity.MEDIUM,
        lambda m: {"new_days": 90, "threshold": _BIG.get(m.currency, 5000)},
        _new_vendor_big_invoice,
    ),
    Rule(
        "vendor_overbilling",
        "Vendor over-billing trend",
        "A vendor billed more than X % above the expected (rated) amount over a rolling window.",
        Severity.MEDIUM,
        lambda m: {"window_days": 30, "percent": 5, "min_lines": 5},
        _overbilling,
    ),
    Rule(
        "round_or_just_under_limit",
        "Round amount or just under the approval limit",
        "Invoices of a round amount, or within a few percent below the lowest payment-run approval limit.",
        Severity.LOW,
        lambda m: {
            "window_days": 30,
            "round_unit": _ROUND.get(m.currency, 100),
            "round_min": _ROUND_MIN.get(m.currency, 1000),
            "just_under_percent": 3,
            "approval_limit": None,
        },
        _round_or_just_under,
    ),
    Rule(
        "contract_expiring",
        "Contract expiring with shipments flowing",
        "An active contract ends within N days, the vendor still ships, and no successor contract is active.",
        Severity.MEDIUM,
        lambda m: {"days": 30, "flow_days": 7},
        _contract_expiring,
    ),
    Rule(
        "billed_without_contract",
        "Shipments without an active contract",
        "Shipments the billing run could not rate for lack of a contract, or invoice lines billed outside a contract.",
        Severity.MEDIUM,
        lambda m: {"window_days": 30},
        _billed_without_contract,
    ),
    Rule(
        "aged_billing_exceptions",
        "Billing exceptions older than N days",
        "Shipments still unrated N days after the run that raised the exception (unbilled revenue, estimated at the market's average fee).",
        Severity.MEDIUM,
        lambda m: {"days": 7},
        _aged_exceptions,
    ),
    Rule(
        "seller_ar_overdue",
        "Seller overdue with growing exposure",
        "A seller has receivables overdue more than N days while new invoices are still open.",
        Severity.HIGH,
        lambda m: {"days": 30, "growth_days": 45},
        _seller_ar_overdue,
    ),
    Rule(
        "payout_with_open_items",
        "Seller payout with open chargebacks or overdue invoices",
        "A seller's payout was made while it had overdue invoices or open chargebacks.",
        Severity.MEDIUM,
        lambda m: {"days": 14},
        _payout_with_open_items,
    ),
    Rule(
        "compensation_spike",
        "Compensation or chargeback spike",
        "A carrier or seller had more compensations or chargebacks recently than its own baseline (needs the compensation app).",
        Severity.MEDIUM,
        lambda m: {"recent_days": 7, "baseline_days": 56, "factor": 3.0, "min_count": 10},
        _compensation_spike,
    ),
]
RULES_BY_CODE = {rule.code: rule for rule in RULES}
