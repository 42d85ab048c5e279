"""Billing use cases: start a run, rate a chunk, post a run, resume; shipment intake re-exported.

A run's life, all state in the database (not in the broker):

1. `billing_run_start` (one transaction): refuses a second active run of the market (returns it),
   fixes the watermark (highest shipment id now), plans chunks of CHUNK_SIZE candidate shipments
   by id range, and — after commit — queues one `billing_chunk_task` per chunk.
2. `billing_chunk_rate` (one transaction per chunk): locks the chunk row (SELECT ... FOR UPDATE
   SKIP LOCKED, so two workers given the same chunk do it once), returns if
   it is done, rates it set-based (billing.rating) and marks it done (progress is counted from the
   chunk rows, so parallel chunks share no hot row). A
   worker dying half-way rolls the whole chunk back; the redelivered message (acks_late) or
   `billing_run_resume` does it again. Charge lines are unique per (shipment, generation), so
   nothing is rated twice even by two runs at once.
3. When the last chunk is done, `billing_run_post` (one transaction) writes ONE ledger entry per
   run and vendor from the stored charge lines (set-based SUM), idempotency key
   `billing_run:<run>:vendor:<vendor>`, and completes the run. Charge lines are always committed
   before their postings, so there are never postings without charge lines; a run whose lines are
   not yet posted shows status "posting" and is finished by a retry or by the sweep.
4. Recovery, with no person: `billing_runs_sweep` (beat, every BILLING_SWEEP_EVERY seconds) reads
   each unfinished run's state here, in PostgreSQL, not the broker's. A chunk held by another
   transaction is retried later by its task (ChunkBusy), never acknowledged as done; a pending
   chunk nobody holds whose message is older than BILLING_REQUEUE_AFTER while the run is idle
   (lost: queue flushed; parked: unacknowledged by a killed worker until the visibility
   timeout) is sent again; a run whose chunks are done gets its posting sent again; a run with no
   progress for BILLING_STALL_AFTER is marked stalled with the reason; a failed run is resumed
   with back-off and, after BILLING_RECOVERY_MAX_ATTEMPTS, finance is e-mailed once. Every step
   is idempotent, so a duplicated message costs a lookup.
5. Starting a run of a market whose earlier run failed resumes that run and returns it (its
   stored charge lines are posted by it, exactly once, under its own keys); the new business date
   is started after it completed. A failed run is therefore never left behind unposted.

Ledger design (per run and vendor, in the market currency; deltas may be negative, so each
amount below is posted with its sign and zero sums are left out):
    vendor side   Dr 5000 Logistics cost                     vendor_net
                  Cr 2100 Accrued logistics cost (vendor)    vendor_net
    seller side   Dr 1200 Seller receivable (per seller)     seller_gross
                  Cr 4000 Logistics revenue                  seller_net
                  Cr 2200 VAT output                         seller_vat
The vendor cost is accrued net: input VAT is recognised by AP when the vendor's invoice is
audited and the accrual is moved to the vendor payable. The seller fee is the platform's sale, so
output VAT is due on it when the service is rendered; AR invoices from these charge lines.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone

from settlement_ops.db import WRITTEN_SAMPLE_TARGET, analyze_written, retry_on_conflict
from settlement_ops.errors import ConflictError, DomainError
from settlement_ops.models import Account, AccountKind, AuditEvent, Market
from settlement_ops.money import quantize
from settlement_ops.roles import Role
from settlement_ops.services import (
    EntrySpec,
    PostingLine,
    account_for,
    accounts_for,
    audit_record,
    ledger_post_many,
    period_guard,
)
from vendors.models import ContractVersion

from . import rating
from .fee_schedules import (  # noqa: F401  (use cases of this app: seller fee schedules, four eyes)
    seller_fee_schedule_approve,
    seller_fee_schedule_create,
    seller_fee_schedule_reject,
)
from .intake import IntakeResult, parse_shipments_csv, shipments_intake  # noqa: F401  (use cases of this app)
from .models import (
    BillingRun,
    BillingRunChunk,
    BillingRunEntry,
    ChargeLine,
    ChargeLineTotal,
    Shipment,
)

logger = logging.getLogger(__name__)

# Shipments per chunk. A chunk is one transaction of one rating statement; its memory is in the
# database (the rated rows of the chunk, ~400 bytes each = ~10 MB, within the chunk's work_mem),
# not in the worker.
CHUNK_SIZE = 25_000
# A re-sent chunk message waits BILLING_REQUEUE_AFTER x 2**n before the next one (n re-sends so
# far, at most this power): 30 s, 1, 2, 4, 8 min by default — far under the visibility timeout.
REQUEUE_MAX_DOUBLINGS = 4
# Planning looks at shipments written (`Shipment.updated_at`) since the last completed run started,
# less this margin: a write committed after that run took its snapshot (a long intake
# transaction) or stamped by an app server whose clock is behind carries an earlier time. Looking
# at a shipment again costs one index probe; missing one would leave it unbilled.
CHANGE_MARGIN = timedelta(minutes=15)
# A run that rated at least this many shipments refreshes the statistics of the charge lines after
# it posted (`_analyze_written`); smaller ones leave it to autovacuum.
ANALYZE_AFTER_LINES = 10_000
ANALYZED_COLUMNS = ["run_id", "shipment_id", "generation", "seller_id", "vendor_id", "market_id", "ship_date"]


class ChunkBusy(Exception):
    """Another transaction holds the chunk's row lock: a worker rating it, or the backend of a
    killed worker that has not rolled back yet. Not done: the task retries it later."""


def _seconds(name: str) -> timedelta:
    return timedelta(seconds=getattr(settings, name))


def _send_chunks(chunk_ids, *, now=None) -> None:
    """Send one message per chunk after commit and note when (the sweep re-sends from this)."""
    from .tasks import billing_chunk_task

    chunk_ids = list(chunk_ids)
    BillingRunChunk.objects.filter(pk__in=chunk_ids).update(queued_at=now or timezone.now(), sends=F("sends") + 1)
    for chunk_id in chunk_ids:
        transaction.on_commit(partial(billing_chunk_task.delay, chunk_id))


def _send_post(run_id: int, *, now=None) -> None:
    from .tasks import billing_run_post_task

    BillingRun.objects.filter(pk=run_id).update(post_queued_at=now or timezone.now())
    transaction.on_commit(partial(billing_run_post_task.delay, run_id))


def _last_completed(market: Market) -> BillingRun | None:
    return (
        BillingRun.objects.filter(market=market, status=BillingRun.Status.COMPLETED, started_at__isnull=False)
        .order_by("-started_at", "-id")
        .first()
    )


def _rerate_from(market: Market, last: BillingRun | None) -> date | None:
    """Earliest effective date of contract versions activated since the last completed run
    started (less CHANGE_MARGIN: an activation committed after that run's snapshot), or None when
    there are none — the retroactive amendments to look for. Before the first completed run every
    shipment is a candidate anyway."""
    versions = ContractVersion.objects.filter(contract__market=market, status=ContractVersion.Status.ACTIVE)
    if last is not None:
        versions = versions.filter(activated_at__gte=last.started_at - CHANGE_MARGIN)
    return versions.aggregate(first=Min("effective_from"))["first"]


def _since(last: BillingRun | None) -> rating.Since | None:
    """The bound of the candidates after the last completed run (None: look at every shipment)."""
    if last is None:
        return None
    return rating.Since(
        run_id=last.pk,
        max_shipment_id=last.max_shipment_id,
        business_date=last.business_date,
        changed_from=last.started_at - CHANGE_MARGIN,
    )


@transaction.atomic(durable=True)
def billing_run_start(
    *, market: Market, business_date: date, actor=None, trigger: str = BillingRun.Trigger.MANUAL, enqueue: bool = True
) -> BillingRun:
    """Start the billing run of a market and business date, or return the market's active run.

    Starting again after a run completed makes a new run that rates only what is still unrated
    (fixed exceptions, new or changed shipments, retroactive amendments) — so running the same
    market and date twice never rates a shipment twice.
    A market whose earlier run failed gets that run resumed and returned instead (whatever its
    business date): its stored charge lines are posted by it, exactly once, and a new run would
    otherwise rate only what it had not. Start again once it completed.
    Raises DomainError for a business date in the future (market time).
    """
    if business_date > market.local_date():
        raise DomainError(
            f"{business_date} is in the future in {market.code}.", code="future_date", field="business_date"
        )
    # A run dated in a closed period could rate but never post: refused before any work.
    period_guard(market=market, entry_date=business_date)
    active = BillingRun.objects.select_for_update().filter(market=market, status__in=BillingRun.ACTIVE_STATUSES).first()
    if active is not None:
        return active
    failed = (
        BillingRun.objects.select_for_update()
        .filter(market=market, status=BillingRun.Status.FAILED)
        .order_by("created_at", "id")
        .first()
    )
    if failed is not None:
        _resume(failed, actor=actor, automatic=False, enqueue=enqueue, action="billing_run_start_resumed_failed")
        return failed
    watermark = Shipment.objects.filter(market=market).order_by("-id").values_list("id", flat=True).first() or 0
    try:
        with transaction.atomic():
            run = BillingRun.objects.create(
                market=market,
                business_date=business_date,
                trigger=trigger,
                currency=market.currency,
                max_shipment_id=watermark,
                started_by=actor if getattr(actor, "pk", None) else None,
                started_at=timezone.now(),
                progress_at=timezone.now(),
                status=BillingRun.Status.RUNNING,
            )
    except IntegrityError:
        # Another transaction started the market's run between our check and insert.
        raise ConflictError(f"A billing run of {market.code} is already active.", code="run_active") from None
    previous = _last_completed(market)
    ranges = rating.chunk_ranges(
        market_code=market.code,
        business_date=business_date,
        watermark=watermark,
        size=CHUNK_SIZE,
        rerate_from=_rerate_from(market, previous),
        since=_since(previous),
    )
    chunks = BillingRunChunk.objects.bulk_create(
        BillingRunChunk(run=run, seq=seq, first_shipment_id=first, last_shipment_id=last)
        for seq, (first, last, _count) in enumerate(ranges, start=1)
    )
    run.chunk_count = len(chunks)
    run.save(update_fields=["chunk_count"])
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action="billing_run_start",
        obj=run,
        detail={"market": market.code, "business_date": str(business_date), "chunks": len(chunks), "trigger": trigger},
    )
    if enqueue:
        if chunks:
            _send_chunks([c.pk for c in chunks])
        else:
            _send_post(run.pk)
    return run


def _lock_chunk(chunk_id: int) -> BillingRunChunk | None:
    """The chunk, locked; None when it does not exist. Raises ChunkBusy when another transaction
    holds it: SKIP LOCKED finds nothing then, which is not "done" — the holder may be a killed
    worker's backend about to roll back, leaving the chunk pending with no message anywhere."""
    chunk = (
        BillingRunChunk.objects.select_related("run")
        .filter(pk=chunk_id)
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if chunk is None and BillingRunChunk.objects.filter(pk=chunk_id).exists():
        raise ChunkBusy(f"Billing chunk {chunk_id} is held by another transaction.")
    return chunk


def _take_chunk(chunk_id: int) -> None:
    """Note that a worker took the chunk's message, in a transaction of its own: if the worker
    dies in the rating, the sweep sees a pending chunk that was taken and nobody holds, and
    re-sends it at once instead of waiting for the message to count as lost. The note is a hint:
    its commit does not wait for the disk (a crash that loses it only makes the sweep wait for the
    message to count as lost)."""
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        taken = (
            BillingRunChunk.objects.filter(pk=chunk_id, status=BillingRunChunk.Status.PENDING)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
            .first()
        )
        if taken:
            BillingRunChunk.objects.filter(pk=taken).update(taken_at=timezone.now())


@retry_on_conflict
def billing_chunk_rate(*, chunk_id: int, post_when_done: bool = True) -> str:
    """Rate one chunk in one transaction. Returns what happened: "done", "skipped" (already done,
    missing, or its run is not running). Raises ChunkBusy when another transaction holds the
    chunk (retry later), and a database error as it is (the task retries).
    The last chunk to finish queues the run's posting unless `post_when_done` is False."""
    _take_chunk(chunk_id)
    try:
        with transaction.atomic(durable=True):
            chunk = _lock_chunk(chunk_id)
            if chunk is None:
                return "skipped"
            run = chunk.run
            if chunk.status == BillingRunChunk.Status.DONE or run.status not in (
                BillingRun.Status.RUNNING,
                BillingRun.Status.PENDING,
            ):
                return "skipped"
            outcome = rating.rate_chunk(
                run_id=run.pk,
                chunk_id=chunk.pk,
                market_code=run.market_id,
                currency=run.currency,
                business_date=run.business_date,
                first_id=chunk.first_shipment_id,
                last_id=chunk.last_shipment_id,
                watermark=run.max_shipment_id,
            )
            # Progress is counted from the chunk rows, not bumped on the run row: a shared hot row
            # would serialise the chunks' commits.
            BillingRunChunk.objects.filter(pk=chunk.pk).update(
                status=BillingRunChunk.Status.DONE,
                attempts=F("attempts") + 1,
                rated_count=outcome.rated,
                exception_count=outcome.exceptions,
                error="",
                finished_at=timezone.now(),
            )
            if post_when_done:
                transaction.on_commit(partial(_post_if_complete, run.pk))
            return "done"
    except ChunkBusy:
        raise
    except IntegrityError as exc:
        # A concurrent rating of the same shipments won the race: the chunk rolled back and the
        # next attempt finds them rated.
        _chunk_failed(chunk_id, exc)
        raise
    except Exception as exc:
        _chunk_failed(chunk_id, exc)
        raise


def _post_if_complete(run_id: int) -> None:
    """After a chunk commits: queue the posting once no chunk is open. Two chunks finishing at
    the same moment may both queue it; posting is idempotent."""
    if not BillingRunChunk.objects.filter(run_id=run_id).exclude(status=BillingRunChunk.Status.DONE).exists():
        from .tasks import billing_run_post_task

        BillingRun.objects.filter(pk=run_id).update(post_queued_at=timezone.now())
        billing_run_post_task.delay(run_id)


def recovery_backoff(attempts: int) -> timedelta:
    """Wait before the automatic resume that follows `attempts` earlier ones: 1, 2, 4, 8, 16 x
    BILLING_RECOVERY_BACKOFF."""
    return _seconds("BILLING_RECOVERY_BACKOFF") * 2 ** min(attempts, 10)


def _chunk_failed(chunk_id: int, exc: Exception) -> None:
    """Count a chunk's failure; the last allowed one fails its run (the sweep resumes it later).
    When the database itself failed (connection cut) this may fail too: the task retries."""
    # A connection the server cut is unusable; Django reconnects only once it is closed.
    if not connection.in_atomic_block and connection.errors_occurred and not connection.is_usable():
        connection.close()
    now = timezone.now()
    with transaction.atomic():
        run_id = BillingRunChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
        if run_id is None:
            return
        # Run first, then chunk: the order resume and the sweep lock them in.
        run = BillingRun.objects.select_for_update().get(pk=run_id)
        chunk = BillingRunChunk.objects.select_for_update().get(pk=chunk_id)
        if chunk.status == BillingRunChunk.Status.DONE:
            return
        chunk.attempts += 1
        chunk.error = f"{type(exc).__name__}: {exc}"[:2000]
        if chunk.attempts >= settings.BILLING_CHUNK_MAX_ATTEMPTS:
            chunk.status = BillingRunChunk.Status.FAILED
            if run.status == BillingRun.Status.RUNNING:
                run.status = BillingRun.Status.FAILED
                run.error = f"Chunk {chunk.seq} failed {chunk.attempts} times: {chunk.error}"
                run.failed_at = now
                run.next_recovery_at = now + recovery_backoff(run.recovery_attempts)
                run.save(update_fields=["status", "error", "failed_at", "next_recovery_at"])
                audit_record(
                    kind=AuditEvent.Kind.ACTION,
                    action="billing_run_failed",
                    obj=run,
                    detail={"error": run.error, "next_recovery_at": run.next_recovery_at.isoformat()},
                )
        chunk.save(update_fields=["attempts", "error", "status"])
    logger.warning("Billing chunk %s failed: %s", chunk_id, exc)


class _Accounts:
    """Ledger accounts a run posts to: the sellers' receivables and the vendors' accruals fetched (or
    created) in bulk, a few queries however many parties, and the market's own three accounts."""

    def __init__(self, market: Market, seller_ids, vendor_ids):
        self.market = market
        self.sellers = accounts_for(
            market=market, kind=AccountKind.SELLER_RECEIVABLE, party_type="seller", party_ids=seller_ids
        )
        self.accruals = accounts_for(
            market=market, kind=AccountKind.ACCRUED_LOGISTICS_COST, party_type="vendor", party_ids=vendor_ids
        )
        self.plain = {}

    def seller_receivable(self, seller_id: int) -> Account:
        return self.sellers[seller_id]

    def __call__(self, kind: str, vendor_id: int | None = None) -> Account:
        if vendor_id is not None and kind == AccountKind.ACCRUED_LOGISTICS_COST:
            return self.accruals[vendor_id]
        key = (kind, vendor_id)
        if key not in self.plain:
            party = {"party_type": "vendor", "party_id": vendor_id} if vendor_id else {}
            self.plain[key] = account_for(market=self.market, kind=kind, **party)
        return self.plain[key]


def _entry_lines(accounts: _Accounts, vendor_id: int, rows) -> tuple[list[PostingLine], dict]:
    """Posting lines of one run and vendor from per-seller sums of its charge lines."""
    market = accounts.market
    currency = market.currency
    vendor_net = quantize(sum((r["vendor_net"] or Decimal(0) for r in rows), Decimal(0)), currency)
    lines: list[PostingLine] = []
    if vendor_net:
        lines.append(PostingLine(accounts(AccountKind.LOGISTICS_COST), vendor_net, "Rated logistics cost"))
        lines.append(
            PostingLine(
                accounts(AccountKind.ACCRUED_LOGISTICS_COST, vendor_id), -vendor_net, "Accrued, not yet invoiced"
            )
        )
    seller_net_total = seller_vat_total = Decimal(0)
    for row in rows:
        net = quantize(row["seller_net"] or 0, currency)
        vat = quantize(row["seller_vat"] or 0, currency)
        seller_net_total += net
        seller_vat_total += vat
        if net + vat:
            lines.append(PostingLine(accounts.seller_receivable(row["seller_id"]), net + vat, "Logistics fees"))
    if seller_net_total:
        lines.append(PostingLine(accounts(AccountKind.LOGISTICS_REVENUE), -seller_net_total, "Logistics fees"))
    if seller_vat_total:
        lines.append(PostingLine(accounts(AccountKind.VAT_OUTPUT), -seller_vat_total, "VAT on logistics fees"))
    totals = {
        "vendor_net": vendor_net,
        "seller_net": seller_net_total,
        "seller_vat": seller_vat_total,
        "line_count": sum(r["lines"] for r in rows),
    }
    return lines, totals


@retry_on_conflict
def billing_run_post(*, run_id: int) -> BillingRun:
    """Post one ledger entry per vendor from the run's charge lines and complete the run.

    Idempotent: a completed run is returned as is; each entry has the key
    billing_run:<run>:vendor:<vendor>. Does nothing while chunks are still open.
    """
    with transaction.atomic(durable=True):
        run = BillingRun.objects.select_for_update().select_related("market").get(pk=run_id)
        if run.status in (BillingRun.Status.COMPLETED, BillingRun.Status.FAILED):
            return run
        if run.chunks.exclude(status=BillingRunChunk.Status.DONE).exists():
            return run
        run.status = BillingRun.Status.POSTING
        # The chunks' totals, written with their lines, not the lines themselves: a few thousand
        # rows to read instead of every charge line of the run.
        sums = (
            ChargeLineTotal.objects.filter(run=run)
            .values("vendor_id", "seller_id")
            .annotate(
                vendor_net=Sum("vendor_net"),
                seller_net=Sum("seller_net"),
                seller_vat=Sum("seller_vat"),
                lines=Sum("line_count"),
            )
            .order_by("vendor_id", "seller_id")
        )
        by_vendor = defaultdict(list)
        for row in sums:
            by_vendor[row["vendor_id"]].append(row)
        accounts = _Accounts(
            run.market, {row["seller_id"] for rows in by_vendor.values() for row in rows}, vendor_ids=by_vendor
        )
        totals = {"vendor_net": Decimal(0), "seller_net": Decimal(0), "seller_vat": Decimal(0)}
        specs, posted = [], []
        for vendor_id, rows in by_vendor.items():
            lines, vendor_totals = _entry_lines(accounts, vendor_id, rows)
            for key in totals:
                totals[key] += vendor_totals[key]
            if len(lines) < 2:
                continue  # every amount of this vendor nets to zero (e.g. a no-change re-rating)
            specs.append(
                EntrySpec(
                    market=run.market,
                    entry_date=run.business_date,
                    lines=tuple(lines),
                    idempotency_key=f"billing_run:{run.pk}:vendor:{vendor_id}",
                    source_type="billing_run",
                    source_id=str(run.pk),
                    description=f"Billing run {run.pk} {run.market_id} {run.business_date}: vendor {vendor_id}",
                )
            )
            posted.append((vendor_id, vendor_totals))
        # One entry per vendor, all posted together: a few statements for the night, not a few per vendor.
        entries = ledger_post_many(entries=specs)
        # The run's entries already recorded (none unless a posting was interrupted after them).
        recorded = set(BillingRunEntry.objects.filter(run=run).values_list("vendor_id", flat=True))
        new_entries = [
            BillingRunEntry(
                run=run,
                vendor_id=vendor_id,
                entry=entry,
                line_count=vendor_totals["line_count"],
                vendor_net=vendor_totals["vendor_net"],
                seller_net=vendor_totals["seller_net"],
                seller_vat=vendor_totals["seller_vat"],
            )
            for (vendor_id, vendor_totals), entry in zip(posted, entries, strict=True)
            if vendor_id not in recorded
        ]
        BillingRunEntry.objects.bulk_create(new_entries)
        counts = run.chunks.aggregate(rated=Sum("rated_count"), exceptions=Sum("exception_count"))
        run.shipments_rated = counts["rated"] or 0
        run.exception_count = counts["exceptions"] or 0
        run.vendor_net_total = totals["vendor_net"]
        run.seller_net_total = totals["seller_net"]
        run.seller_vat_total = totals["seller_vat"]
        run.status = BillingRun.Status.COMPLETED
        run.finished_at = timezone.now()
        run.stalled_since = None
        run.stall_reason = ""
        run.chunks_done = run.chunk_count
        run.save()
        audit_record(
            kind=AuditEvent.Kind.ACTION,
            action="billing_run_post",
            obj=run,
            detail={
                "entries": len(by_vendor),
                "vendor_net": str(totals["vendor_net"]),
                "seller_net": str(totals["seller_net"]),
            },
        )
    if run.shipments_rated >= ANALYZE_AFTER_LINES:
        _analyze_written()
    return run


def _analyze_written() -> None:
    """Refresh the planner's statistics of the tables a run wrote in bulk, after its commit: a
    production server's autovacuum may come hours late (or be off), and queries over the new lines
    would be planned on statistics from before them. ANALYZE reads a fixed number of rows at random
    across the table, so its cost grows with the history (0.1 s on 200,000 lines, 0.6 s on 5.2M at
    the default target): it samples at WRITTEN_SAMPLE_TARGET. A role that does not own the tables
    gets a warning, not an error.
    The charge lines' key columns only (and the row count): statistics of all 40 columns cost
    four times as much (2 s against 0.5 s on 220,000 lines, measured) and no query filters by an amount."""
    analyze_written(
        f"{ChargeLine._meta.db_table} ({', '.join(ANALYZED_COLUMNS)}), {ChargeLineTotal._meta.db_table}",
        sample=WRITTEN_SAMPLE_TARGET,
    )


@transaction.atomic(durable=True)
def billing_run_resume(*, run: BillingRun, actor=None) -> BillingRun:
    """Queue again whatever a run has left: its open or failed chunks, or its posting.

    For a run that a crashed worker or a lost message left behind; safe to call any time (chunks
    and posting are idempotent). A person's resume gives a failed run a fresh budget of
    automatic recoveries. Raises ConflictError when another run of the market is active."""
    run = BillingRun.objects.select_for_update().get(pk=run.pk)
    if run.status == BillingRun.Status.COMPLETED:
        return run
    if (
        run.status == BillingRun.Status.FAILED
        and BillingRun.objects.filter(market=run.market_id, status__in=BillingRun.ACTIVE_STATUSES)
        .exclude(pk=run.pk)
        .exists()
    ):
        raise ConflictError("Another run of this market is active; resume it instead.", code="run_active")
    _resume(run, actor=actor, automatic=False)
    return run


def _resume(run: BillingRun, *, actor, automatic: bool, enqueue: bool = True, action: str = "billing_run_resume"):
    """Resume a locked, unfinished run inside the caller's transaction: a failed run runs again
    (its failed chunks pending again), and its open chunks or its posting are sent again."""
    now = timezone.now()
    was = run.status
    error = run.error
    if run.status == BillingRun.Status.FAILED:
        run.status = BillingRun.Status.RUNNING
        run.error = ""
        run.chunks.filter(status=BillingRunChunk.Status.FAILED).update(
            status=BillingRunChunk.Status.PENDING, attempts=0
        )
    if automatic:
        run.recovery_attempts += 1
    else:
        run.recovery_attempts = 0
        run.alerted_at = None
    run.next_recovery_at = None
    run.progress_at = now
    run.stalled_since = None
    run.stall_reason = ""
    run.save(
        update_fields=[
            "status",
            "error",
            "recovery_attempts",
            "alerted_at",
            "next_recovery_at",
            "progress_at",
            "stalled_since",
            "stall_reason",
        ]
    )
    open_chunks = list(run.chunks.exclude(status=BillingRunChunk.Status.DONE).values_list("pk", flat=True))
    if enqueue:
        if open_chunks:
            _send_chunks(open_chunks, now=now)
        else:
            _send_post(run.pk, now=now)
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        actor=actor,
        action=action,
        obj=run,
        detail={
            "chunks": len(open_chunks),
            "was": was,
            "error": error,
            "automatic": automatic,
            "attempt": run.recovery_attempts,
        },
    )
    return run


def billing_runs_dispatch(*, now=None, markets=None, trigger: str = BillingRun.Trigger.SCHEDULE) -> list[BillingRun]:
    """Nightly schedule (every 30 minutes by beat): for each active market whose local date has
    rolled over since its last run, start the run of the market's yesterday. A market with an
    unfinished run (active, or failed and in the sweep's hands) waits for it; stalled and failed
    runs are the sweep's (billing_runs_sweep). Returns the runs started."""
    now = now or timezone.now()
    touched = []
    for market in markets or Market.objects.filter(is_active=True):
        business_date = market.local_date(now) - timedelta(days=1)
        unfinished = BillingRun.objects.filter(
            market=market, status__in=[*BillingRun.ACTIVE_STATUSES, BillingRun.Status.FAILED]
        )
        if unfinished.exists():
            continue
        if (
            trigger == BillingRun.Trigger.SCHEDULE
            and BillingRun.objects.filter(market=market, business_date=business_date).exists()
        ):
            continue
        touched.append(billing_run_start(market=market, business_date=business_date, trigger=trigger))
    return touched


# --- Recovery -------------------------------------------------------------------------------------


def billing_runs_sweep(*, now=None) -> dict:
    """Heal unfinished runs from their state in PostgreSQL (beat, every BILLING_SWEEP_EVERY s).

    For each active run (one short transaction each; a run being posted is skipped):
      * pending chunks that no transaction holds (FOR UPDATE SKIP LOCKED) are sent again when a
        worker took their last message (it died or failed in the rating), or when that message
        is older than BILLING_REQUEUE_AFTER (doubling per re-send) while the run made no progress
        for as long — it was flushed from the broker or is parked with a killed worker until the
        visibility timeout;
      * a run whose chunks are all done gets its posting sent again once that message is as old;
      * no progress for BILLING_STALL_AFTER marks the run stalled, with the reason (cleared by
        progress).
    For each failed run: resumed once its back-off passed (attempt n waits BACKOFF x 2**(n-1)),
    at most BILLING_RECOVERY_MAX_ATTEMPTS times; then finance is e-mailed once (audit-logged).

    Returns {"requeued": {run: [chunk seq]}, "posted": [run], "stalled": [run], "resumed": [run],
    "alerted": [run]}.
    """
    now = now or timezone.now()
    report = {"requeued": {}, "posted": [], "stalled": [], "resumed": [], "alerted": []}
    for run_id in BillingRun.objects.filter(status__in=BillingRun.ACTIVE_STATUSES).values_list("pk", flat=True):
        try:
            _sweep_active(run_id, now, report)
        except Exception:  # one broken run must not stop the others' recovery
            logger.exception("Billing sweep of run %s failed", run_id)
    for run_id in BillingRun.objects.filter(status=BillingRun.Status.FAILED).values_list("pk", flat=True):
        try:
            _sweep_failed(run_id, now, report)
        except Exception:
            logger.exception("Billing sweep of failed run %s failed", run_id)
    return report


def _requeue_wait(sends: int) -> timedelta:
    return _seconds("BILLING_REQUEUE_AFTER") * 2 ** min(max(sends - 1, 0), REQUEUE_MAX_DOUBLINGS)


def run_last_progress(run: BillingRun, last_finished=None):
    """The later of the run's start or resume and its last finished chunk."""
    if last_finished is None:
        last_finished = run.chunks.aggregate(last=Max("finished_at"))["last"]
    return max(t for t in (run.progress_at, run.started_at, run.created_at, last_finished) if t is not None)


@transaction.atomic(durable=True)
def _sweep_active(run_id: int, now, report: dict) -> None:
    run = (
        BillingRun.objects.select_for_update(skip_locked=True)
        .filter(pk=run_id, status__in=BillingRun.ACTIVE_STATUSES)
        .first()
    )
    if run is None:
        return  # being posted (the posting holds the run), or finished meanwhile
    counts = run.chunks.aggregate(
        open=Count("id", filter=~Q(status=BillingRunChunk.Status.DONE)), last=Max("finished_at")
    )
    last_progress = run_last_progress(run, counts["last"])
    idle = now - last_progress
    requeue_after = _seconds("BILLING_REQUEUE_AFTER")
    note = ""
    held = 0
    if counts["open"] == 0:
        if run.post_queued_at is None or now - run.post_queued_at >= requeue_after:
            _send_post(run.pk, now=now)
            report["posted"].append(run.pk)
            note = "the posting"
    else:
        free = list(
            run.chunks.filter(status=BillingRunChunk.Status.PENDING).select_for_update(skip_locked=True).order_by("seq")
        )
        held = counts["open"] - len(free)
        due = [
            c
            for c in free
            # taken since it was last sent, and nobody holds it: its worker died (or failed)
            if (c.taken_at is not None and (c.queued_at is None or c.taken_at >= c.queued_at))
            # never taken: lost or parked, once the run is idle and the message old enough
            or (idle >= requeue_after and (c.queued_at is None or now - c.queued_at >= _requeue_wait(c.sends)))
        ]
        if due:
            _send_chunks([c.pk for c in due], now=now)
            report["requeued"][run.pk] = [c.seq for c in due]
            note = f"{len(due)} chunk message(s): {', '.join(str(c.seq) for c in due[:20])}"
    fields = []
    if note:
        run.requeued_at = now
        run.requeue_note = f"Re-sent {note}"[:300]
        fields += ["requeued_at", "requeue_note"]
    if idle >= _seconds("BILLING_STALL_AFTER"):
        reason = (
            f"No progress since {last_progress:%Y-%m-%d %H:%M:%S} UTC ({int(idle.total_seconds() // 60)} min): "
            + (
                f"{counts['open']} of {run.chunk_count} chunk(s) open, {held} held by a worker"
                if counts["open"]
                else "every chunk is done, the posting has not finished"
            )
            + (f"; {run.requeue_note} at {run.requeued_at:%H:%M:%S}." if run.requeue_note else ".")
        )
        if run.stalled_since is None:
            audit_record(kind=AuditEvent.Kind.ACTION, action="billing_run_stalled", obj=run, detail={"reason": reason})
        run.stalled_since = last_progress
        run.stall_reason = reason
        fields += ["stalled_since", "stall_reason"]
        report["stalled"].append(run.pk)
    elif run.stalled_since is not None:
        run.stalled_since = None
        run.stall_reason = ""
        fields += ["stalled_since", "stall_reason"]
    if fields:
        run.save(update_fields=fields)


@transaction.atomic(durable=True)
def _sweep_failed(run_id: int, now, report: dict) -> None:
    run = (
        BillingRun.objects.select_for_update(skip_locked=True)
        .select_related("market")
        .filter(pk=run_id, status=BillingRun.Status.FAILED)
        .first()
    )
    if run is None:
        return
    if run.recovery_attempts >= settings.BILLING_RECOVERY_MAX_ATTEMPTS:
        if run.alerted_at is None:
            _alert_gave_up(run, now)
            report["alerted"].append(run.pk)
        return
    if run.next_recovery_at is None:
        # Failed before recovery existed, or by hand: schedule its first attempt.
        run.next_recovery_at = now + recovery_backoff(run.recovery_attempts)
        run.save(update_fields=["next_recovery_at"])
        return
    if now < run.next_recovery_at:
        return
    if BillingRun.objects.filter(market=run.market_id, status__in=BillingRun.ACTIVE_STATUSES).exists():
        return  # another run of the market is active: this one is resumed after it
    _resume(run, actor=None, automatic=True, action="billing_run_recover")
    report["resumed"].append(run.pk)


def billing_alert_recipients() -> list[str]:
    """BILLING_ALERT_EMAILS, or else every active finance user (specialist, approver) with an
    e-mail address."""
    if settings.BILLING_ALERT_EMAILS:
        return list(settings.BILLING_ALERT_EMAILS)
    users = get_user_model().objects.filter(is_active=True, groups__name__in=Role.FINANCE).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def _alert_gave_up(run: BillingRun, now) -> None:
    recipients = billing_alert_recipients()
    run.alerted_at = now
    run.save(update_fields=["alerted_at"])
    subject = f"Billing run {run.pk} of {run.market_id} for {run.business_date} failed and needs a person"
    body = (
        f"Billing run {run.pk} ({run.market_id}, business date {run.business_date}) failed and was resumed "
        f"automatically {run.recovery_attempts} times without completing. It is no longer retried.\n\n"
        f"Last error: {run.error or 'none recorded'}\n"
        f"Failed at: {run.failed_at or now:%Y-%m-%d %H:%M:%S} UTC\n\n"
        "Fix the cause, then press Resume on the run's page (or start the market's run again): its charge "
        "lines are posted only once it completes.\n"
    )
    audit_record(
        kind=AuditEvent.Kind.ACTION,
        action="billing_run_alert",
        obj=run,
        detail={"recipients": recipients, "attempts": run.recovery_attempts, "error": run.error},
    )
    if recipients:
        transaction.on_commit(partial(send_mail, subject, body, None, recipients), robust=True)
    else:
        logger.error("Billing run %s gave up and nobody can be e-mailed: %s", run.pk, run.error)
