""" "Explain this charge": one seller's charge traced from the shipment to the money that settled it.

The consultation desk (sellers.desk) finds this module by app label, so the seller portal, the
agent's ticket page and a reply inserted into a thread all show the same trace:
shipment -> each rating (the fee schedule line, every fee with its basis, VAT) -> the invoice line
-> the receipt or payout deduction that settled the invoice. Only the seller's side: what the
vendor charges us is not the seller's business.

`resolve_reference(seller, kind, text)` is also the desk's check that a ticket's reference is one
of the seller's own records (another seller's number is "not found", like a missing one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as N_

from billing.models import ChargeLine, SellerFeeLine, Shipment
from settlement_ops.i18n import format_money

from .models import Invoice, InvoiceLine, ReceiptApplication, Statement


def _kg(value: Decimal) -> str:
    return f"{value.normalize():f}"


@dataclass
class Fee:
    """One fee of a rating. Its basis is written when read, in the reader's language and number
    format (the portal page, or the seller's language when an agent inserts the trace)."""

    label: str
    amount: Decimal
    currency: str
    basis_text: str = ""
    money: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)

    @property
    def basis(self) -> str:
        values = {key: format_money(value, self.currency) for key, value in self.money.items()}
        values |= {key: _kg(value) for key, value in self.weights.items()}
        values |= {key: f"{value.normalize():f}" for key, value in self.numbers.items()}
        return gettext(self.basis_text) % values if values else gettext(self.basis_text)


@dataclass
class Rating:
    generation: int
    kind: str
    rated_on: object
    schedule: str
    bracket: str
    chargeable_weight_kg: str
    fees: list[Fee]
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    gross: Decimal


@dataclass
class Settlement:
    label: str
    reference: str
    on: object
    amount: Decimal | None


@dataclass
class ChargeTrace:
    tracking_number: str
    currency: str
    shipment: dict
    ratings: list[Rating] = field(default_factory=list)
    invoice: dict | None = None
    settlements: list[Settlement] = field(default_factory=list)

    @property
    def charged(self) -> Decimal:
        return sum((rating.gross for rating in self.ratings), Decimal("0"))

    def as_text(self, gettext=lambda s: s, money=lambda amount, currency: f"{amount} {currency}") -> str:
        """The trace as plain text, for an agent to insert into a reply in the seller's language."""
        _ = gettext
        lines = [
            _("Shipment %(tracking)s, shipped %(date)s, %(route)s, service %(service)s.")
            % {
                "tracking": self.tracking_number,
                "date": self.shipment["ship_date"],
                "route": self.shipment["route"],
                "service": self.shipment["service_level"],
            }
        ]
        for rating in self.ratings:
            lines.append(
                _("Rating %(generation)s (%(schedule)s, bracket %(bracket)s, chargeable weight %(weight)s kg):")
                % {
                    "generation": rating.generation,
                    "schedule": rating.schedule,
                    "bracket": rating.bracket,
                    "weight": rating.chargeable_weight_kg,
                }
            )
            for fee in rating.fees:
                lines.append(f"  - {_(fee.label)}: {money(fee.amount, self.currency)} ({fee.basis})")
            lines.append(
                "  - "
                + _("VAT %(rate)s%%: %(vat)s; total %(gross)s")
                % {
                    "rate": f"{rating.vat_rate.normalize():f}",
                    "vat": money(rating.vat, self.currency),
                    "gross": money(rating.gross, self.currency),
                }
            )
        if self.invoice:
            lines.append(
                _("Invoiced on %(number)s of %(date)s, due %(due)s (%(status)s).")
                % {
                    "number": self.invoice["number"],
                    "date": self.invoice["issue_date"],
                    "due": self.invoice["due_date"],
                    "status": _(self.invoice["status"]),
                }
            )
        for settlement in self.settlements:
            lines.append(
                _("Settled by %(label)s %(reference)s on %(date)s.")
                % {"label": _(settlement.label), "reference": settlement.reference, "date": settlement.on}
            )
        return "\n".join(lines)


def _shipment_for(seller, tracking_number: str) -> Shipment | None:
    return (
        Shipment.objects.filter(seller=seller, tracking_number=tracking_number.strip())
        .select_related("market")
        .order_by("-ship_date", "-id")
        .first()
    )


def _fees(line: ChargeLine, fee_line: SellerFeeLine | None, shipment: Shipment, currency: str) -> list[Fee]:
    if fee_line is None:
        base = Fee(N_("Delivery fee"), line.seller_base, currency, N_("weight bracket"))
    elif fee_line.fee_per_additional_step:
        base = Fee(
            N_("Delivery fee"),
            line.seller_base,
            currency,
            N_("%(base)s + %(per_step)s per %(step)s kg above %(from)s kg, minimum %(minimum)s")
            if fee_line.minimum_fee
            else N_("%(base)s + %(per_step)s per %(step)s kg above %(from)s kg"),
            money={"base": fee_line.base_fee, "per_step": fee_line.fee_per_additional_step}
            | ({"minimum": fee_line.minimum_fee} if fee_line.minimum_fee else {}),
            weights={"step": fee_line.additional_step_kg, "from": fee_line.weight_from_kg},
        )
    else:
        base = Fee(
            N_("Delivery fee"),
            line.seller_base,
            currency,
            N_("flat %(base)s in this weight bracket"),
            money={"base": fee_line.base_fee},
        )
    fees = [base]
    if line.seller_cod:
        schedule = line.seller_fee_schedule
        fees.append(
            Fee(
                N_("Cash-on-delivery fee"),
                line.seller_cod,
                currency,
                N_("%(percent)s %% of the COD value %(cod)s, minimum %(minimum)s"),
                money={"cod": shipment.cod_amount, "minimum": schedule.cod_fee_minimum},
                numbers={"percent": schedule.cod_fee_percent},
            )
        )
    if line.seller_returns:
        fees.append(Fee(N_("Returns fee"), line.seller_returns, currency, N_("flat fee for a returned shipment")))
    return fees


def trace_shipment(seller, tracking_number: str) -> ChargeTrace | None:
    shipment = _shipment_for(seller, tracking_number)
    if shipment is None:
        return None
    currency = shipment.market.currency
    lines = list(
        ChargeLine.objects.of_shipments(shipment.pk).select_related("seller_fee_schedule", "run").order_by("generation")
    )
    dims = (
        f"{_kg(shipment.length_cm)} x {_kg(shipment.width_cm)} x {_kg(shipment.height_cm)} cm"
        if shipment.has_dimensions
        else N_("no dimensions")
    )
    trace = ChargeTrace(
        tracking_number=shipment.tracking_number,
        currency=currency,
        shipment={
            "ship_date": shipment.ship_date,
            "route": f"{shipment.origin_zone} -> {shipment.destination_zone}",
            "service_level": shipment.service_level,
            "weight": f"{_kg(shipment.actual_weight_kg)} kg" if shipment.actual_weight_kg else "-",
            "dimensions": dims,
            "cod_amount": shipment.cod_amount,
            "returned": shipment.is_return,
            "status": shipment.get_status_display(),
        },
    )
    for line in lines:
        schedule = line.seller_fee_schedule
        chargeable = line.seller_chargeable_weight_kg
        fee_line = (
            SellerFeeLine.objects.filter(
                schedule=schedule, weight_from_kg__lt=chargeable, weight_to_kg__gte=chargeable
            ).first()
            if schedule
            else None
        )
        trace.ratings.append(
            Rating(
                generation=line.generation,
                kind=line.get_kind_display(),
                rated_on=line.run.business_date if line.run_id else line.created_at.date(),
                schedule=schedule.name if schedule else "-",
                bracket=f"({_kg(fee_line.weight_from_kg)}, {_kg(fee_line.weight_to_kg)}] kg" if fee_line else "-",
                chargeable_weight_kg=_kg(chargeable),
                fees=_fees(line, fee_line, shipment, currency),
                net=line.seller_net,
                vat_rate=schedule.vat_rate if schedule else Decimal("0"),
                vat=line.seller_vat,
                gross=line.seller_gross,
            )
        )
    invoice_line = (
        InvoiceLine.objects.filter(shipment=shipment, invoice__seller=seller)
        .select_related("invoice")
        .order_by("invoice__issue_date", "id")
        .first()
    )
    if invoice_line is not None:
        trace.invoice = _invoice_summary(invoice_line.invoice)
        trace.settlements = settlements_of(invoice_line.invoice)
    return trace


def _invoice_summary(invoice: Invoice) -> dict:
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "status": invoice.get_status_display(),
        "portal_url": reverse("portal:invoice_detail", args=[invoice.pk]),
    }


def settlements_of(invoice: Invoice) -> list[Settlement]:
    settlements = [
        Settlement(N_("Bank receipt"), application.receipt.bank_reference, application.receipt.value_date, None)
        for application in ReceiptApplication.objects.filter(invoice=invoice, reversed_at__isnull=True)
        .select_related("receipt")
        .order_by("applied_at")
    ]
    deduction = getattr(invoice, "payout_deduction", None) if hasattr(invoice, "payout_deduction") else None
    if deduction is not None and deduction.confirmed_at:
        settlements.append(
            Settlement(N_("Payout deduction"), deduction.payout_reference, deduction.confirmed_at.date(), None)
        )
    return settlements


def resolve_reference(seller, kind: str, text: str) -> str | None:
    """The reference as the seller's own record (a display label), or None when the seller has no
    such record."""
    text = (text or "").strip()
    if not text:
        return None
    if kind == "tracking":
        return text if _shipment_for(seller, text) else None
    if kind == "invoice":
        invoice = Invoice.objects.filter(seller=seller, number=text).first()
        return invoice.number if invoice else None
    if kind == "statement":
        key = text.lstrip("#")
        statement = Statement.objects.filter(seller=seller, pk=int(key)).first() if key.isdigit() else None
        return f"Statement {statement.period_start} – {statement.period_end}" if statement else None
    return None
