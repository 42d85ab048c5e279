"""`manage.py run_billing --market GB [--date 2026-11-21] [--inline]`: start one billing run by hand."""

from datetime import date, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.models import BillingRun
from billing.services import billing_chunk_rate, billing_run_post, billing_run_start
from settlement_ops.errors import DomainError
from settlement_ops.models import Market


class Command(BaseCommand):
    help = (
        "Start the billing run of a market and business date (default: the market's yesterday). Chunks go to the "
        "Celery workers, or run here with --inline (always here without REDIS_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--market", required=True, help="market code, e.g. GB")
        parser.add_argument("--date", help="business date YYYY-MM-DD (default: yesterday in the market's timezone)")
        parser.add_argument("--inline", action="store_true", help="rate the chunks in this process")

    def handle(self, *args, **options):
        market = Market.objects.filter(pk=options["market"].upper()).first()
        if market is None:
            raise CommandError(f"Unknown market {options['market']!r}")
        try:
            business_date = (
                date.fromisoformat(options["date"]) if options["date"] else market.local_date() - timedelta(days=1)
            )
        except ValueError:
            raise CommandError("--date must be YYYY-MM-DD") from None
        inline = options["inline"]
        try:
            run = billing_run_start(
                market=market, business_date=business_date, trigger=BillingRun.Trigger.COMMAND, enqueue=not inline
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        if inline:
            for chunk_id in run.chunks.exclude(status="done").order_by("seq").values_list("pk", flat=True):
                billing_chunk_rate(chunk_id=chunk_id, post_when_done=False)
            billing_run_post(run_id=run.pk)
        run.refresh_from_db()
        if run.status == BillingRun.Status.COMPLETED or inline or settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Run {run.pk} {market.code} {business_date}: {run.get_status_display()}, {run.shipments_rated} rated, "
                    f"{run.exception_count} exceptions, vendor cost {run.currency} {run.vendor_net_total}, "
                    f"seller fees {run.currency} {run.seller_net_total}"
                )
            )
        else:
            self.stdout.write(
                f"Run {run.pk} {market.code} {business_date}: {run.chunk_count} chunks queued to the workers."
            )
