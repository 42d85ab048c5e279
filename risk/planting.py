"""Planted conditions, one per rule: the demo plants each once (so every rule has a finding to
show) and the tests plant them one at a time to prove each rule fires on its own condition.

Each planter takes the market and the day and returns a short description of what it planted,
or None when the market lacks what it needs (e.g. no rated shipments yet). Planters touch only
rows without ledger effect, or go through the owning app's services when they would have one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from billing.models import BillingRun, BillingRunChunk, ChargeLineTotal, RatingException, Shipment
from billing.payables.models import Payment, PaymentRun, VendorInvoice, VendorInvoiceLine
from billing.receivables.models import Invoice, PayoutDeduction
from settlement_ops.models import Market
from vendors.models import Contract, Vendor, VendorBankAccount, VendorBankChangeRequest

from .rules import RULES_BY_CODE


def _params(code: str, market: Market) -> dict:
    from .services import rule_version_current

    rule = RULES_BY_CODE[code]
    return {**rule.defaults(market), **rule_version_current(rule=rule, market=market).params}


def _aware(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _vendor(market: Market) -> Vendor | None:
    """A vendor of the market with rated shipments (the one the planters share)."""
    with_lines = ChargeLineTotal.objects.filter(run__market=market).values_list("vendor_id", flat=True)
    return (
        Vendor.objects.filter(market=market, pk__in=with_lines).order_by("pk").first()
        or Vendor.objects.filter(market=market, status=Vendor.Status.ACTIVE).order_by("pk").first()
    )


def _staff_user():
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(groups__name="finance_specialist").order_by("pk").first() or users.order_by("pk").first()


def _second_user(first):
    users = get_user_model().objects.filter(is_active=True).exclude(pk=getattr(first, "pk", None))
    return users.filter(groups__name="finance_approver").order_by("pk").first() or users.order_by("pk").first()


def _invoice(vendor: Vendor, number: str, day: date, gross: Decimal, **extra) -> VendorInvoice:
    invoice, _ = VendorInvoice.objects.get_or_create(
        vendor=vendor,
        number=number,
        defaults={
            "market": vendor.market,
            "kind": VendorInvoice.Kind.INVOICE,
            "invoice_date": day,
            "currency": vendor.market.currency,
            "net_total": gross,
            "vat_total": Decimal(0),
            "gross_total": gross,
            "status": VendorInvoice.Status.IN_REVIEW,
            **extra,
        },
    )
    return invoice


def _twin_vendor(market: Market, code: str) -> Vendor:
    vendor, _ = Vendor.objects.get_or_create(
        code=f"{code}-{market.code}",
        defaults={
            "market": market,
            "legal_name": f"{code.title()} Logistics {market.code}",
            "vendor_type": "last_mile",
        },
    )
    return vendor


def plant_duplicate_invoice(market: Market, today: date) -> str | None:
    vendor = _vendor(market)
    if vendor is None:
        return None
    for number in ("RISK-DUP-0001", "RISKDUP0001"):
        _invoice(vendor, number, today - timedelta(days=3), Decimal("120"))
    return f"{vendor.code} billed RISK-DUP-0001 twice"


def plant_shared_bank_account(market: Market, today: date) -> str | None:
    vendor = _vendor(market)
    account = VendorBankAccount.objects.filter(vendor=vendor, status=VendorBankAccount.Status.ACTIVE).first()
    if account is None:
        return None
    twin = _twin_vendor(market, "RISKTWIN")
    if not VendorBankAccount.objects.filter(vendor=twin, status=VendorBankAccount.Status.ACTIVE).exists():
        VendorBankAccount.objects.create(
            vendor=twin,
            account_holder=twin.legal_name,
            iban=account.iban,
            bic=account.bic,
            account_number=account.account_number,
            bank_code=account.bank_code,
            currency=account.currency,
        )
    return f"{twin.code} has {vendor.code}'s bank account"


def plant_bank_change_payment(market: Market, today: date) -> str | None:
    payment = (
        Payment.objects.filter(run__market=market)
        .exclude(run__status=PaymentRun.Status.CANCELLED)
        .exclude(status=Payment.Status.REJECTED)
        .select_related("run", "vendor")
        .order_by("-run__pay_date", "pk")
        .first()
    )
    user = _staff_user()
    if payment is None:
        vendor = _vendor(market)
        if vendor is None or user is None:
            return None
        run = PaymentRun.objects.create(
            number=f"RISK-PR-{market.code}-1", market=market, currency=market.currency, pay_date=today, prepared_by=user
        )
        payment = Payment.objects.create(
            run=run,
            vendor=vendor,
            currency=market.currency,
            amount=Decimal("950"),
            end_to_end_id=f"RISK-PR-{market.code}-1-{vendor.pk}",
            account_holder=vendor.legal_name,
        )
    vendor = payment.vendor
    decided = _aware(payment.run.pay_date - timedelta(days=2))
    VendorBankChangeRequest.objects.get_or_create(
        vendor=vendor,
        reason="RISK planted: change by e-mail",
        defaults={
            "account_holder": vendor.legal_name,
            "iban": "GB33BUKB20201555555555",
            "currency": market.currency,
            "status": VendorBankChangeRequest.Status.APPROVED,
            "requested_by": user,
            "decided_by": _second_user(user),
            "decided_at": decided,
        },
    )
    return f"{vendor.code} paid two days after a bank change"


def plant_new_vendor_big_invoice(market: Market, today: date) -> str | None:
    vendor = _twin_vendor(market, "RISKNEW")
    amount = Decimal(str(_params("new_vendor_big_invoice", market)["threshold"])) * 2 + 37
    _invoice(vendor, "RISK-NEW-0001", today - timedelta(days=2), amount)
    return f"{vendor.code}'s first invoice is {amount}"


def plant_vendor_overbilling(market: Market, today: date) -> str | None:
    vendor = _vendor(market)
    if vendor is None:
        return None
    p = _params("vendor_overbilling", market)
    count = int(p["min_lines"])
    expected, billed = Decimal("100"), Decimal("100") * (1 + Decimal(str(p["percent"])) / 50)
    invoice = _invoice(
        vendor, "RISK-OVER-0001", today - timedelta(days=4), billed * count, line_count=count, pending_count=count
    )
    if not invoice.lines.exists():
        VendorInvoiceLine.objects.bulk_create(
            VendorInvoiceLine(
                invoice=invoice,
                line_no=n + 1,
                tracking_number=f"RISK-OVER-{n + 1}",
                billed_base=billed,
                billed_net=billed,
                billed_gross=billed,
                expected_net=expected,
            )
            for n in range(count)
        )
    return f"{vendor.code} billed above expected"


def plant_round_or_just_under_limit(market: Market, today: date) -> str | None:
    vendor = _vendor(market)
    if vendor is None:
        return None
    amount = Decimal(str(_params("round_or_just_under_limit", market)["round_min"])) * 2
    _invoice(vendor, "RISK-ROUND-0001", today - timedelta(days=1), amount)
    return f"{vendor.code} invoiced a round {amount}"


def plant_contract_expiring(market: Market, today: date) -> str | None:
    p = _params("contract_expiring", market)
    flowing = ChargeLineTotal.objects.filter(
        run__market=market, run__business_date__gt=today - timedelta(days=int(p["flow_days"]))
    ).values_list("vendor_id", flat=True)
    contract = (
        Contract.objects.filter(market=market, status=Contract.Status.ACTIVE, vendor_id__in=flowing)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=today))
        .order_by("pk")
        .first()
    )
    if contract is None:
        return None
    contract.valid_to = today + timedelta(days=max(int(p["days"]) - 10, 1))
    contract.save(update_fields=["valid_to"])
    return f"contract {contract.reference} ends {contract.valid_to}"


def _exception(market: Market, vendor: Vendor, code: str, created: datetime, business_date: date, tag: str):
    run = BillingRun.objects.filter(market=market, business_date=business_date).first()
    if run is None:
        run = BillingRun.objects.create(
            market=market, business_date=business_date, status=BillingRun.Status.COMPLETED, currency=market.currency
        )
    chunk = run.chunks.order_by("seq").first() or BillingRunChunk.objects.create(
        run=run, seq=1, first_shipment_id=1, last_shipment_id=10**12, status=BillingRunChunk.Status.DONE
    )
    seller_id = Shipment.objects.filter(market=market).values_list("seller_id", flat=True).first()
    if seller_id is None:
        from sellers.models import Seller

        seller_id = Seller.objects.filter(market=market).values_list("pk", flat=True).first()
    shipment, _ = Shipment.objects.get_or_create(
        tracking_number=f"RISK-{tag}-{market.code}",
        defaults={
            "market": market,
            "vendor": vendor,
            "seller_id": seller_id,
            "service_level": "standard",
            "origin_zone": "X",
            "destination_zone": "X",
            "actual_weight_kg": Decimal("1.000"),
            "ship_date": business_date,
            "status": Shipment.Status.DELIVERED,
        },
    )
    RatingException.objects.get_or_create(
        run=run, shipment=shipment, defaults={"chunk": chunk, "vendor": vendor, "code": code, "created_at": created}
    )
    return shipment


def plant_billed_without_contract(market: Market, today: date) -> str | None:
    vendor = _twin_vendor(market, "RISKNOCON")
    _exception(market, vendor, RatingException.Code.NO_CONTRACT, timezone.now(), today - timedelta(days=1), "NOCON")
    return f"{vendor.code} ships without a contract"


def plant_aged_billing_exceptions(market: Market, today: date) -> str | None:
    vendor = _vendor(market)
    if vendor is None:
        return None
    days = int(_params("aged_billing_exceptions", market)["days"])
    day = today - timedelta(days=days + 5)
    _exception(market, vendor, RatingException.Code.NO_RATE_LINE, _aware(day), day, "AGED")
    return f"{vendor.code} has a shipment unrated since {day}"


def _seller_invoice(market: Market, seller_id: int, number: str, issue: date, due: date, gross: Decimal) -> Invoice:
    invoice, _ = Invoice.objects.get_or_create(
        number=number,
        defaults={
            "market": market,
            "seller_id": seller_id,
            "issue_date": issue,
            "due_date": due,
            "period_start": issue.replace(day=1),
            "period_end": issue,
            "currency": market.currency,
            "language": market.language,
            "net_total": gross,
            "gross_total": gross,
            "amount_open": gross,
        },
    )
    return invoice


def plant_seller_ar_overdue(market: Market, today: date, *, create: bool = False) -> str | None:
    """Makes an open invoice overdue (its due date moved back; no ledger effect). With `create`
    (tests, an empty market) the invoice is created first."""
    p = _params("seller_ar_overdue", market)
    overdue_due = today - timedelta(days=int(p["days"]) + 10)
    issue_after = today - timedelta(days=int(p["growth_days"]) - 1)
    invoice = (
        Invoice.objects.filter(
            market=market, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN, issue_date__gte=issue_after
        )
        .order_by("pk")
        .first()
    )
    if invoice is None:
        if not create:
            return None
        seller_id = Shipment.objects.filter(market=market).values_list("seller_id", flat=True).first()
        invoice = _seller_invoice(
            market, seller_id, f"RISK-AR-{market.code}-1", today - timedelta(days=5), overdue_due, Decimal("800")
        )
    Invoice.objects.filter(pk=invoice.pk).update(due_date=min(invoice.due_date, overdue_due))
    return f"invoice {invoice.number} is overdue"


def plant_payout_with_open_items(market: Market, today: date, *, entry=None) -> str | None:
    """A payout (a confirmed payout deduction) to a seller with an overdue invoice. Confirms a
    pending deduction through the receivables service when there is one; tests pass a posted
    `entry` to record one directly."""
    from billing.receivables.services import payout_deduction_confirm

    pending = (
        PayoutDeduction.objects.filter(market=market, status="pending").select_related("invoice").order_by("pk").first()
    )
    if pending is not None:
        payout_deduction_confirm(actor=_staff_user(), deduction=pending, payout_reference=f"RISK-PAYOUT-{market.code}")
        seller_id = pending.seller_id
    elif entry is not None:
        seller_id = Shipment.objects.filter(market=market).values_list("seller_id", flat=True).first()
        paid = _seller_invoice(
            market, seller_id, f"RISK-PO-{market.code}-1", today - timedelta(days=3), today, Decimal("50")
        )
        PayoutDeduction.objects.get_or_create(
            invoice=paid,
            defaults={
                "market": market,
                "seller_id": seller_id,
                "currency": market.currency,
                "amount": Decimal("50"),
                "status": "confirmed",
                "payout_reference": "RISK",
                "confirmed_at": timezone.now(),
                "entry": entry,
            },
        )
    else:
        return None
    other = Invoice.objects.filter(seller_id=seller_id, status__in=["open", "partially_paid"]).order_by("pk").first()
    if other is None:
        if entry is None:
            return None
        other = _seller_invoice(
            market,
            seller_id,
            f"RISK-PO-{market.code}-2",
            today - timedelta(days=40),
            today - timedelta(days=10),
            Decimal("75"),
        )
    Invoice.objects.filter(pk=other.pk).update(due_date=min(other.due_date, today - timedelta(days=1)))
    return f"seller #{seller_id} paid out with an overdue invoice"


def plant_compensation_spike(market: Market, today: date) -> str | None:
    try:
        model = apps.get_model("compensation", "CompensationRequest")
    except LookupError:
        return None
    p = _params("compensation_spike", market)
    vendor = _vendor(market)
    needed = int(p["min_count"]) + 1
    shipments = list(Shipment.objects.filter(market=market, vendor=vendor).order_by("pk")[:needed])
    if not shipments:
        return None
    template = shipments[0]
    for n in range(len(shipments), needed):  # a small market: the spike's parcels are planted too
        shipments.append(
            Shipment.objects.get_or_create(
                tracking_number=f"RISK-SPIKE-{market.code}-{n}",
                defaults={
                    "market": market,
                    "vendor": vendor,
                    "seller_id": template.seller_id,
                    "service_level": template.service_level,
                    "origin_zone": template.origin_zone,
                    "destination_zone": template.destination_zone,
                    "actual_weight_kg": template.actual_weight_kg,
                    "ship_date": template.ship_date,
                    "status": Shipment.Status.LOST,
                },
            )[0]
        )
    for n, shipment in enumerate(shipments):
        model.objects.get_or_create(
            market=market,
            external_id=f"RISK-SPIKE-{n}",
            defaults={
                "order_number": f"RISK-ORDER-{n}",
                "tracking_number": shipment.tracking_number,
                "shipment": shipment,
                "buyer_reference": f"RISK-BUYER-{n}",
                "instrument": "voucher",
                "reason": "lost",
                "currency": market.currency,
                "amount": Decimal("25"),
                "agent": "risk-demo",
                "issued_at": _aware(today - timedelta(days=1 + n % 3)),
            },
        )
    return f"{len(shipments)} compensations on {vendor.code} this week"


PLANTERS = {
    "duplicate_invoice": plant_duplicate_invoice,
    "shared_bank_account": plant_shared_bank_account,
    "bank_change_payment": plant_bank_change_payment,
    "new_vendor_big_invoice": plant_new_vendor_big_invoice,
    "vendor_overbilling": plant_vendor_overbilling,
    "round_or_just_under_limit": plant_round_or_just_under_limit,
    "contract_expiring": plant_contract_expiring,
    "billed_without_contract": plant_billed_without_contract,
    "aged_billing_exceptions": plant_aged_billing_exceptions,
    "seller_ar_overdue": plant_seller_ar_overdue,
    "payout_with_open_items": plant_payout_with_open_items,
    "compensation_spike": plant_compensation_spike,
}
