"""The seller consultation desk through its doors: the portal (seller users), the staff pages
(tier 1, tier 2, approvers), the API (integration token, seller user) and the SLA sweep.

Money: the World of tests.receivables.helpers rates a 1 kg GB parcel at 4.99 + VAT 1.00 = 5.99
(fee line (0, 2] kg: 4.99 flat) through the real billing run and invoices it."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from billing.receivables.models import Invoice
from sellers.desk import services, sla
from sellers.models import PublicHoliday, SlaPolicy, Ticket, TicketAttachment, TicketCreditProposal
from settlement_ops.models import Market
from settlement_ops.roles import Role
from tests.factories import SellerFactory, SellerUserFactory, UserFactory, market
from tests.receivables.helpers import World, owed

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _at(market_code: str, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), Market.objects.get(code=market_code).tz)


# --- SLA clocks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "holiday"),
    [("GB", date(2026, 12, 28)), ("ID", date(2026, 12, 28)), ("VN", date(2026, 12, 28))],
)
def test_sla_clock_skips_the_weekend_and_a_holiday_in_the_market_timezone(code, holiday):
    m = market(code)
    PublicHoliday.objects.create(market=m, date=holiday, name="Holiday")
    SlaPolicy.objects.create(
        market=m, category="", priority="normal", first_response_minutes=120, resolution_minutes=9 * 60 * 2
    )
    # Friday 2026-12-25 17:00 local (desk hours 09:00-18:00, Mon-Fri): 60 minutes left that day,
    # the weekend and Monday's holiday do not count, 60 more minutes on Tuesday 29th.
    opened = _at(code, date(2026, 12, 25), 17)
    first, resolution = sla.deadlines(m, "charge", "normal", opened)
    assert first == _at(code, date(2026, 12, 29), 10)
    # 18 business hours: 1 on Friday, 9 on Tuesday, 8 on Wednesday -> Wednesday 17:00.
    assert resolution == _at(code, date(2026, 12, 30), 17)
    calendar = sla.Calendar.for_market(m)
    assert calendar.minutes_between(opened, first) == 120
    # The same instant is a different local time elsewhere: the deadline follows the market's zone.
    assert first.utcoffset() == m.tz.utcoffset(datetime(2026, 12, 29, 10))


# --- The portal ------------------------------------------------------------------------------


@pytest.fixture
def world():
    w = World()
    seller = w.seller(code="S-DESK-A")
    other = w.seller(code="S-DESK-B")
    invoice = w.invoice(seller, "1.000")
    shipment = invoice.lines.get().shipment
    foreign_invoice = w.invoice(other, "1.000")
    return {
        "world": w,
        "seller": seller,
        "other": other,
        "invoice": invoice,
        "tracking": shipment.tracking_number,
        "foreign_tracking": foreign_invoice.lines.get().shipment.tracking_number,
        "seller_user": SellerUserFactory(seller=seller).user,
        "other_user": SellerUserFactory(seller=other).user,
        "agent": UserFactory(role=Role.SUPPORT_TIER1, email="t1@desk.example"),
        "tier2": UserFactory(role=Role.SUPPORT_TIER2, email="t2@desk.example"),
    }


def _open(client, data, files=()):
    payload = {"category": "charge", "reference_kind": "", "reference": "", "subject": "Fee?", "body": "Why?", **data}
    if files:
        payload["attachments"] = list(files)
    return client.post(reverse("portal:desk_new"), payload)


def test_a_seller_explains_a_charge_then_asks_and_the_thread_never_shows_internal_notes(client, world):
    client.force_login(world["seller_user"])
    # Explain this charge: the fee line, the basis, VAT, the invoice; another seller's number is not found.
    page = client.get(reverse("portal:desk_explain"), {"tracking_number": world["tracking"]}).content.decode()
    assert "4.99" in page and "1.00" in page and "5.99" in page and world["invoice"].number in page
    assert "(0, 2] kg" in page
    missing = client.get(reverse("portal:desk_explain"), {"tracking_number": world["foreign_tracking"]})
    assert "None of your shipments has this tracking number." in missing.content.decode()

    refused = _open(client, {"reference_kind": "tracking", "reference": world["foreign_tracking"]})
    assert refused.status_code == 200
    assert f"{world['foreign_tracking']} is not one of your tracking numbers." in refused.content.decode()
    assert not Ticket.objects.exists()

    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = _open(
            client,
            {"reference_kind": "tracking", "reference": world["tracking"]},
            [SimpleUploadedFile("label.pdf", PDF, content_type="application/pdf")],
        )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("portal:desk_ticket", args=[ticket.pk])
    assert ticket.state == Ticket.State.NEW and ticket.seller == world["seller"] and ticket.tier == 1
    assert ticket.attachments.get().original_name == "label.pdf"
    assert ticket.attachments.get().storage_key not in ("label.pdf",) and ticket.attachments.get().size == len(PDF)
    assert [m.to for m in mail.outbox] == [[world["seller"].email]]

    agent = world["agent"]
    services.note_add(ticket=ticket, actor=agent, body="SECRET-NOTE: vendor overbilled us too")
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.agent_reply(ticket=ticket, actor=agent, body="It is the (0, 2] kg bracket.")
    portal_page = client.get(reverse("portal:desk_ticket", args=[ticket.pk])).content.decode()
    assert "It is the (0, 2] kg bracket." in portal_page and "SECRET-NOTE" not in portal_page
    assert all("SECRET-NOTE" not in m.body for m in mail.outbox)
    api = client.get(f"/api/seller-tickets/{ticket.pk}/").json()
    assert [m["kind"] for m in api["messages"]] == ["seller", "reply"]
    staff = client.__class__()
    staff.force_login(agent)
    assert "SECRET-NOTE" in staff.get(reverse("sellers:desk_ticket", args=[ticket.pk])).content.decode()

    # The lookup before the ticket is linked to it: self-service did not end it.
    report = services_report()
    assert report["explanations"] == 1 and report["self_service_rate"] == 0.0


def services_report():
    from sellers.desk.selectors import report

    today = date.today()
    return report(start=today - timedelta(days=1), end=today + timedelta(days=1))


def test_another_seller_gets_404_everywhere(client, world):
    ticket = services.ticket_open(
        seller=world["seller"],
        actor=world["seller_user"],
        category="other",
        subject="S",
        body="B",
        files=[SimpleUploadedFile("a.pdf", PDF)],
    )
    attachment = TicketAttachment.objects.get()
    client.force_login(world["other_user"])
    for url in (
        reverse("portal:desk_ticket", args=[ticket.pk]),
        reverse("portal:desk_attachment", args=[attachment.pk]),
        f"/api/seller-tickets/{ticket.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("portal:desk_reply", args=[ticket.pk]), {"body": "mine now"}).status_code == 404
    assert client.post(f"/api/seller-tickets/{ticket.pk}/reply/", {"body": "x"}).status_code == 404
    assert client.get("/api/seller-tickets/").json()["results"] == []
    assert ticket.messages.count() == 1
    # The owner downloads its file, under its own name.
    client.force_login(world["seller_user"])
    download = client.get(reverse("portal:desk_attachment", args=[attachment.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF
    assert 'filename="a.pdf"' in download["Content-Disposition"]


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (80 * 1024 * 1024))
    return buffer.getvalue()


HOSTILE = [
    ("invoice.pdf", b"MZ\x90\x00 not a pdf", "invoice.pdf: the content is not a PDF file"),
    ("photo.png", PDF, "photo.png: the content is not a PNG file"),
    ("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), "big.pdf: the file is larger than 10 MB."),
    ("bomb.xlsx", None, "bomb.xlsx: "),
    ("run.exe", b"MZ", "run.exe: attach a PDF, PNG, JPG, XLSX or CSV file."),
]


def test_a_hostile_upload_is_refused_with_a_clear_message_and_nothing_stored(client):
    client.force_login(SellerUserFactory(seller=SellerFactory(market=market("GB"))).user)
    for name, content, message in HOSTILE:
        response = _open(client, {}, [SimpleUploadedFile(name, content if content is not None else _zip_bomb())])
        assert response.status_code == 200
        assert message in response.content.decode(), name
        # What the seller typed stays in the form.
        assert "Why?" in response.content.decode()
    six = [SimpleUploadedFile(f"f{i}.pdf", PDF) for i in range(6)]
    assert "Attach at most 5 files" in _open(client, {}, six).content.decode()
    assert not Ticket.objects.exists() and not TicketAttachment.objects.exists()


# --- Staff: states, SLA pause, escalation, reopen, four-eyes credit -----------------------------


def test_the_whole_life_of_a_ticket(client, world):
    seller_user, agent, tier2 = world["seller_user"], world["agent"], world["tier2"]
    opened = _at("GB", date(2026, 12, 1), 10)  # a Tuesday
    ticket = services.ticket_open(
        seller=world["seller"], actor=seller_user, category="charge", subject="S", body="B", now=opened
    )
    # Default normal policy: 540 business minutes to answer -> Wednesday 10:00.
    assert ticket.first_response_due_at == _at("GB", date(2026, 12, 2), 10)
    assert sla.badge(ticket, opened + timedelta(hours=1)) == sla.Badge.ON_TRACK

    client.force_login(agent)
    page = client.get(reverse("sellers:desk_queue")).content.decode()
    assert ticket.number in page
    # Round-robin: the desk agent with the fewest open tickets (ties by id: the world's specialist).
    client.post(reverse("sellers:desk_assign", args=[ticket.pk]), {"assignee": "round_robin"})
    ticket.refresh_from_db()
    assert ticket.assignee == world["world"].clerk
    client.post(reverse("sellers:desk_assign", args=[ticket.pk]), {"assignee": str(agent.pk)})
    ticket.refresh_from_db()
    assert ticket.assignee == agent

    # Waiting on the seller pauses the clock: 2 business hours paused move both deadlines by 2 hours.
    services.agent_reply(
        ticket=ticket, actor=agent, body="Which parcel?", wait_on_seller=True, now=opened + timedelta(hours=1)
    )
    ticket.refresh_from_db()
    resolution_before = ticket.resolution_due_at
    assert ticket.state == Ticket.State.WAITING and sla.badge(ticket) == sla.Badge.PAUSED
    services.seller_reply(ticket=ticket, actor=seller_user, body="This one", now=opened + timedelta(hours=3))
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.OPEN and ticket.paused_at is None
    assert ticket.resolution_due_at == sla.Calendar.for_market(ticket.market).add_minutes(resolution_before, 120)

    # Resolution needs a reason; tier 1 escalates; tier 1 then no longer sees it (404), tier 2 does.
    response = client.post(reverse("sellers:desk_resolve", args=[ticket.pk]), {"reason": ""}, follow=True)
    assert "Choose a resolution reason." in response.content.decode()
    client.post(reverse("sellers:desk_escalate", args=[ticket.pk]), {"reason": "needs the rate card"})
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.state, ticket.assignee) == (2, Ticket.State.ESCALATED, None)
    assert client.get(reverse("sellers:desk_ticket", args=[ticket.pk])).status_code == 404
    client.force_login(tier2)
    client.post(reverse("sellers:desk_resolve", args=[ticket.pk]), {"reason": "explained", "note": "bracket"})
    ticket.refresh_from_db()
    assert ticket.state == Ticket.State.RESOLVED and ticket.last_owner == tier2

    # The seller reopens within 7 days: back to its last owner; then confirms and rates.
    client.force_login(seller_user)
    client.post(reverse("portal:desk_reopen", args=[ticket.pk]), {"body": "Still wrong"})
    ticket.refresh_from_db()
    assert (ticket.state, ticket.assignee, ticket.reopen_count) == (Ticket.State.ESCALATED, tier2, 1)
    services.ticket_resolve(ticket=ticket, actor=tier2, reason="explained")
    client.post(reverse("portal:desk_confirm", args=[ticket.pk]))
    client.post(reverse("portal:desk_rate", args=[ticket.pk]), {"rating": "5", "comment": "clear"})
    ticket.refresh_from_db()
    assert (ticket.state, ticket.csat_rating) == (Ticket.State.CLOSED, 5)
    late = ticket.resolved_at + timedelta(days=8)
    with pytest.raises(Exception, match="within 7 days"):
        services.ticket_reopen(ticket=ticket, actor=seller_user, body="again", now=late)


def test_the_sweep_escalates_a_breach_once_and_closes_quiet_resolved_tickets(world):
    opened = _at("GB", date(2026, 12, 1), 10)
    breached = services.ticket_open(
        seller=world["seller"], actor=world["seller_user"], category="other", subject="S", body="B", now=opened
    )
    resolved = services.ticket_open(
        seller=world["seller"], actor=world["seller_user"], category="other", subject="T", body="B", now=opened
    )
    services.ticket_resolve(ticket=resolved, actor=world["agent"], reason="explained", now=opened)
    mail.outbox.clear()
    later = opened + timedelta(days=10)
    assert services.sla_sweep(now=later) == {"escalated": 1, "notified": 1, "closed": 1}
    # Tier 2 of the market: support tier 2 and the billing specialists.
    assert "t2@desk.example" in mail.outbox[-1].to and "t1@desk.example" not in mail.outbox[-1].to
    assert "SLA breached" in mail.outbox[-1].subject
    assert services.sla_sweep(now=later) == {"escalated": 0, "notified": 0, "closed": 0}
    breached.refresh_from_db()
    resolved.refresh_from_db()
    assert (breached.tier, breached.state) == (2, Ticket.State.ESCALATED)
    assert resolved.state == Ticket.State.CLOSED


def test_a_credit_from_a_ticket_holds_four_eyes_and_issues_through_ar(client, world):
    ticket = services.ticket_open(
        seller=world["seller"],
        actor=world["seller_user"],
        category="dispute",
        subject="S",
        body="B",
        reference_kind="invoice",
        reference=world["invoice"].number,
    )
    tier2 = world["tier2"]
    client.force_login(world["agent"])  # tier 1 cannot propose
    client.post(
        reverse("sellers:desk_credit", args=[ticket.pk]), {"invoice_number": world["invoice"].number, "reason": "x"}
    )
    assert not TicketCreditProposal.objects.exists()
    client.force_login(tier2)
    client.post(
        reverse("sellers:desk_credit", args=[ticket.pk]),
        {"invoice_number": world["invoice"].number, "reason": "wrong weight"},
    )
    proposal = TicketCreditProposal.objects.get()
    assert (proposal.amount, proposal.currency) == (Decimal("5.99"), "GBP")
    # The proposer holding the approver role too is still refused; tier 2 has no approval right at all.
    tier2.groups.add(*UserFactory(role=Role.FINANCE_APPROVER).groups.all())
    tier2 = type(tier2).objects.get(pk=tier2.pk)
    client.force_login(tier2)
    response = client.post(
        reverse("sellers:desk_credit_decide", args=[proposal.pk]), {"decision": "approve"}, follow=True
    )
    assert "another approver must decide it" in response.content.decode()
    approver = UserFactory(role=Role.FINANCE_APPROVER)
    client.force_login(approver)
    client.post(reverse("sellers:desk_credit_decide", args=[proposal.pk]), {"decision": "approve"})
    proposal.refresh_from_db()
    ticket.refresh_from_db()
    credit = Invoice.objects.get(credited_invoice=world["invoice"])
    assert proposal.status == "issued" and ticket.credit_note_number == credit.number == proposal.credit_note_number
    assert credit.lines.get().gross == Decimal("5.99")
    # The ledger: the seller's receivable of 5.99 is taken back in full.
    assert owed(world["seller"]) == Decimal("0.00")
    assert (
        client.post(reverse("sellers:desk_credit_decide", args=[proposal.pk]), {"decision": "approve"}).status_code
        == 302
    )
    assert Invoice.objects.filter(credited_invoice=world["invoice"]).count() == 1


# --- API -------------------------------------------------------------------------------------


def test_a_retried_api_create_opens_one_ticket(world, api_client):
    integration = UserFactory(role=Role.INTEGRATION)
    api_client.force_authenticate(integration)
    body = {"seller": "S-DESK-A", "category": "payout", "subject": "Where is my payout?", "body": "Called in."}
    first = api_client.post("/api/seller-tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="call-1")
    again = api_client.post("/api/seller-tickets/", body, format="json", HTTP_IDEMPOTENCY_KEY="call-1")
    assert first.status_code == again.status_code == 201
    assert first.content == again.content and Ticket.objects.count() == 1
    assert Ticket.objects.get().channel == Ticket.Channel.API
    unknown = api_client.post("/api/seller-tickets/", {**body, "seller": "NOPE"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "seller"
    # A seller user's create is always its own seller's, whatever it names.
    api_client.force_authenticate(world["other_user"])
    own = api_client.post("/api/seller-tickets/", body, format="json")
    assert own.status_code == 201 and Ticket.objects.get(pk=own.json()["id"]).seller == world["other"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvers_issuing_the_same_proposal_at_once_make_one_credit_note():
    from tests.conftest import run_concurrently

    w = World()
    seller = w.seller(code="S-DESK-RACE")
    invoice = w.invoice(seller, "1.000")
    user = SellerUserFactory(seller=seller).user
    ticket = services.ticket_open(seller=seller, actor=user, category="dispute", subject="S", body="B")
    proposal = services.credit_propose(
        ticket=ticket, actor=UserFactory(role=Role.SUPPORT_TIER2), invoice_number=invoice.number, reason="wrong"
    )
    approvers = [UserFactory(role=Role.FINANCE_APPROVER) for _ in range(2)]
    results, errors = run_concurrently(
        *[lambda a=a: services.credit_decide(proposal=proposal, actor=a, approve=True) for a in approvers]
    )
    assert sum(r is not None for r in results) == 1 and sum(e is not None for e in errors) == 1, errors
    assert Invoice.objects.filter(credited_invoice=invoice).count() == 1
    proposal.refresh_from_db()
    assert proposal.status == "issued" and owed(seller) == Decimal("0.00")
