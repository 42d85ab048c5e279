from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = (
        "Run each active market's nightly chain once (the steps every app declares in its nightly.py, "
        "recorded on the Nightly jobs page), in-process; or, with --queue, hand the chains to workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--market", help="only this market (code)")
        parser.add_argument("--queue", action="store_true", help="queue the chains to Celery workers")

    def handle(self, *args, **options):
        # The orchestrator lives in an app above the kernel: found by its dotted path in settings.
        chain = import_string(settings.NIGHTLY_CHAIN)
        dispatch = import_string(settings.NIGHTLY_CHAIN_TASK)
        from settlement_ops.models import Market

        markets = Market.objects.filter(is_active=True).order_by("code")
        if options["market"]:
            markets = markets.filter(code=options["market"].upper())
        for market in markets:
            if options["queue"] and not settings.CELERY_TASK_ALWAYS_EAGER:
                day = import_string(settings.NIGHTLY_BUSINESS_DATE)(market)
                result = dispatch.delay(market.code, str(day))
                self.stdout.write(f"{market.code} {day}: queued as {result.id}")
                continue
            run = chain(market=market, wait=True)
            self.stdout.write(f"{market.code} {run.business_date}: {run.get_status_display()}")
            for step in run.steps.order_by("seq", "code"):
                took = f"{step.duration_s:.1f}s" if step.duration_s is not None else "-"
                self.stdout.write(
                    f"  {step.label:<42} {step.get_status_display():<16} {took:>7} {step.counts or step.error}"
                )
