"""Desk demo: tickets in every state and each portal language, one SLA breach, one escalation that
ends in a credit note, canned replies per language. Played through the services, after AR has
issued invoices (seed_demo's "desk" phase)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from settlement_ops.models import Market

from ..models import CannedReply, SellerUser, Ticket
from . import services

CANNED = {
    "en": (
        "Charge explained",
        "Your charge follows the fee schedule in force on the ship date; the trace below shows each fee.",
    ),
    "id": (
        "Biaya dijelaskan",
        "Biaya Anda mengikuti jadwal tarif yang berlaku pada tanggal pengiriman; rinciannya ada di bawah.",
    ),
    "vi": (
        "Giải thích phí",
        "Phí của bạn theo biểu phí có hiệu lực vào ngày gửi hàng; chi tiết từng khoản ở bên dưới.",
    ),
    "de": (
        "Gebühr erklärt",
        "Ihre Gebühr folgt dem am Versanddatum gültigen Tarif; die Aufstellung zeigt jede Position.",
    ),
    "fr": (
        "Frais expliqués",
        "Vos frais suivent le barème en vigueur à la date d'expédition ; le détail figure ci-dessous.",
    ),
}


def desk(ctx) -> None:
    for language, (title, body) in CANNED.items():
        CannedReply.objects.get_or_create(title=title, language=language, defaults={"body": body})
    if Ticket.objects.exists():
        return
    User = get_user_model()
    tier1, tier2 = User.objects.get(username="support1"), User.objects.get(username="support2")
    approver = User.objects.get(username="approver")
    now = timezone.now()
    links = list(SellerUser.objects.select_related("user", "seller__market").order_by("seller__market_id", "seller_id"))
    by_market = {}
    for link in links:
        by_market.setdefault(link.seller.market_id, link)
    for index, (code, link) in enumerate(sorted(by_market.items())):
        seller, user = link.seller, link.user
        shipment = seller.shipments.order_by("-ship_date").first()
        invoice = (
            seller.invoices.filter(
                kind="invoice", status="open", lines__charge_line__isnull=False, lines__credit_line__isnull=True
            )
            .order_by("-issue_date")
            .first()
        )
        tracking = {"reference_kind": "tracking", "reference": shipment.tracking_number} if shipment else {}

        def ask(subject, category="charge", when=now, seller=seller, user=user, **extra):
            return services.ticket_open(
                seller=seller, actor=user, category=category, subject=subject, body=subject, now=when, **extra
            )

        ask("Why is this parcel's fee higher than usual?", **tracking)  # new
        waiting = ask("Payout for last week", category="payout", when=now - timedelta(hours=5))
        services.agent_reply(ticket=waiting, actor=tier1, body="Which payout reference?", wait_on_seller=True)
        answered = ask("Invoice total question", category="document", when=now - timedelta(days=2))
        services.agent_reply(ticket=answered, actor=tier1, body="The total includes VAT at the standard rate.")
        services.ticket_resolve(ticket=answered, actor=tier1, reason="explained")
        if index % 2 == 0:
            services.ticket_confirm(ticket=answered, actor=user)
            services.ticket_rate(ticket=answered, actor=user, rating=5, comment="Clear, thank you")
        if index == 0:
            # Left unanswered past its deadline: the sweep escalates it.
            ask("Deduction on my statement is wrong", category="dispute", when=now - timedelta(days=6))
            services.sla_sweep(now=now, market=Market.objects.get(code=code))
        if index == 1 and invoice is not None:
            disputed = ask(
                "I was charged for a parcel I never sent",
                category="dispute",
                reference_kind="invoice",
                reference=invoice.number,
                when=now - timedelta(days=1),
            )
            services.ticket_escalate(ticket=disputed, actor=tier1, reason="Needs a credit decision")
            try:
                proposal = services.credit_propose(
                    ticket=disputed, actor=tier2, invoice_number=invoice.number, reason="Parcel not the seller's"
                )
                services.credit_decide(proposal=proposal, actor=approver, approve=True)
            except Exception as exc:  # noqa: BLE001 - a demo invoice already settled stays a proposal
                ctx.lines.append(f"Desk demo: credit proposal left open ({exc})")
            else:
                services.ticket_resolve(ticket=disputed, actor=tier2, reason="credited")
    ctx.lines.append(f"Seller desk: {Ticket.objects.count()} tickets (support1 = tier 1, support2 = tier 2)")
