"""Collections: the dunning ladder (nightly), letters in the market's language, collection notes
and promises to pay.

Dunning rule: an open bank-collected invoice moves up one level per run when it has waited the
next level's `wait_days` — counted from the due date for level 1 and from the previous notice for
later levels. An active promise to pay (promised date today or later, on the invoice or on the
seller as a whole) holds dunning. One notice per invoice and level (unique), so a second run on
the same day sends nothing. Emails go out after the transaction commits.

Letters: templates/receivables/dunning/letter_subject.txt and letter_body.txt, rendered in the
invoice's language through the translation catalogues (locale/<lang>/LC_MESSAGES/django.po:
English, Bahasa Indonesia, Vietnamese, German, French), with amounts and dates as that language
writes them, and the platform's collection bank account from the market's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import translation

from settlement_ops.errors import DomainError
from settlement_ops.i18n import format_money, supported_language
from settlement_ops.models import AuditEvent, Market
from settlement_ops.money import quantize, to_decimal
from settlement_ops.services import audit_record

from . import locks
from .models import CollectionNote, DunningLevel, DunningNotice, Invoice


@dataclass(frozen=True)
class Step:
    level: int
    name: str
    wait_days: int


DEFAULT_LADDER = [Step(1, "Friendly reminder", 3), Step(2, "Second reminder", 10), Step(3, "Final notice", 14)]


def dunning_ladder(market: Market) -> dict[int, Step]:
    rows = [Step(r.level, r.name, r.wait_days) for r in DunningLevel.objects.filter(market=market).order_by("level")]
    return {s.level: s for s in (rows or DEFAULT_LADDER)}


def letter_language(language: str) -> str:
    """The invoice's language when a catalogue exists for it (settings.LANGUAGES), else English."""
    return supported_language(language) or "en"


def dunning_letter(*, invoice: Invoice, level: int, on: date) -> tuple[str, str, str]:
    """(language, subject, body) of the letter for an invoice at a level, in the invoice's language."""
    language = letter_language(invoice.language)
    ctx = {
        "invoice": invoice,
        "seller": invoice.seller,
        "market": invoice.market,
        "level": level,
        "on": on,
        "days_overdue": (on - invoice.due_date).days,
        "amount_open": format_money(invoice.amount_open, invoice.currency, language),
        "currency": invoice.currency,
    }
    with translation.override(language):
        subject = " ".join(render_to_string("receivables/dunning/letter_subject.txt", ctx).split())
        body = render_to_string("receivables/dunning/letter_body.txt", ctx).strip() + "\n"
    return language, subject[:255], body


def _active_promise(on: date):
    return CollectionNote.objects.filter(kind=CollectionNote.Kind.PROMISE, promised_date__gte=on)


def _send(notice_id: int) -> None:
    notice = DunningNotice.objects.get(pk=notice_id)
    send_mail(notice.subject, notice.body, settings.DEFAULT_FROM_EMAIL, [notice.email_to])


def invoices_due_for_dunning(*, on: date, market: Market | None = None):
    """THE dunning rule, as one query: open bank-collected invoices past due, below the top of their
    market's ladder, not held by an active promise to pay, that have waited the next level's days
    (from the due date for level 1, from the previous letter after that) and have no letter of
    that level yet. The run, the home's work queue and the API all read it from here."""
    waited = Q(pk__in=[])
    markets = [market] if market is not None else Market.objects.filter(is_active=True)
    for mkt in markets:
        for level, step in dunning_ladder(mkt).items():
            since = "due_date" if level == 1 else "last_dunned_on"
            waited |= Q(market=mkt, dunning_level=level - 1, **{f"{since}__lte": on - timedelta(days=step.wait_days)})
    held = _active_promise(on)
    return (
        Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE,
            status__in=Invoice.OPEN_STATUSES,
            collection=Invoice.Collection.BANK,
            due_date__lt=on,
        )
        .filter(waited)
        .exclude(
            Q(pk__in=held.filter(invoice__isnull=False).values("invoice_id"))
            | Q(seller_id__in=held.filter(invoice__isnull=True).values("seller_id"))
        )
        .exclude(Exists(DunningNotice.objects.filter(invoice=OuterRef("pk"), level=F("invoice__dunning_level") + 1)))
    )


def _dunning_market(*, market: Market, on: date) -> int:
    ladder = dunning_ladder(market)
    candidates = invoices_due_for_dunning(on=on, market=market).order_by("pk").values_list("pk", flat=True)
    locked = locks.invoices_lock(list(candidates))
    # Another run may have moved some between the read and the locks: keep those still due.
    still_due = set(
        invoices_due_for_dunning(on=on, market=market)
        .filter(pk__in=[i.pk for i in locked])
        .values_list("pk", flat=True)
    )
    moved = 0
    for invoice in locked:
        if invoice.pk not in still_due:
            continue
        step = ladder[invoice.dunning_level + 1]
        language, subject, body = dunning_letter(invoice=invoice, level=step.level, on=on)
        notice = DunningNotice.objects.create(
            invoice=invoice,
            level=step.level,
            sent_on=on,
            language=language,
            email_to=invoice.seller.email,
            subject=subject,
            body=body,
            amount_open=invoice.amount_open,
        )
        invoice.dunning_level, invoice.last_dunned_on = step.level, on
        invoice.save(update_fields=["dunning_level", "last_dunned_on"])
        transaction.on_commit(partial(_send, notice.pk))
        moved += 1
    return moved


def dunning_run(*, on: date | None = None, markets=None) -> dict:
    """Move overdue invoices of every active market up the ladder (one durable transaction per
    market, at the market's business date unless `on` is given). Returns {market: notices sent}."""
    result = {}
    for market in markets or Market.objects.filter(is_active=True):
        with transaction.atomic(durable=True):
            day = on or market.local_date()
            result[market.code] = _dunning_market(market=market, on=day)
            if result[market.code]:
                audit_record(
                    kind=AuditEvent.Kind.ACTION,
                    action="dunning_run",
                    detail={"market": market.code, "on": day.isoformat(), "notices": result[market.code]},
                )
    return result


@transaction.atomic(durable=True)
def collection_note_add(
    *,
    actor,
    seller,
    text: str,
    kind: str = CollectionNote.Kind.NOTE,
    invoice: Invoice | None = None,
    promised_amount=None,
    promised_date: date | None = None,
) -> CollectionNote:
    """A note, or a promise to pay (amount and date, which holds dunning until that date)."""
    if not (text or "").strip():
        raise DomainError("Write what was said or agreed.", field="text")
    if invoice is not None and invoice.seller_id != seller.pk:
        raise DomainError(f"{invoice.number} is not an invoice of {seller.code}.", field="invoice")
    if kind == CollectionNote.Kind.PROMISE:
        if promised_amount in (None, "") or promised_date is None:
            raise DomainError("A promise needs an amount and a date.", field="promised_amount")
        promised_amount = to_decimal(promised_amount)
        if promised_amount <= 0 or promised_amount != quantize(promised_amount, seller.market.currency):
            raise DomainError(f"Enter a positive amount in {seller.market.currency}.", field="promised_amount")
        if promised_date < seller.market.local_date():
            raise DomainError("The promised date is in the past.", field="promised_date")
    else:
        promised_amount, promised_date = None, None
    note = CollectionNote.objects.create(
        seller=seller,
        invoice=invoice,
        kind=kind,
        text=text.strip(),
        promised_amount=promised_amount,
        promised_date=promised_date,
        author=actor,
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION, actor=actor, action="collection_note_add", obj=note, detail={"kind": kind}
    )
    return note
