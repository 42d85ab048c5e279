from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing import demo as billing_demo
from settlement_ops import demo
from settlement_ops.navigation import app_module

# Master data and shipments: bulk rows, written in one transaction (all or nothing).
MASTER_DATA = ["vendors", "sellers", "billing"]
# Then the demo's history is played through the services, each use case in its own transaction
# as in production: billing runs rate the shipments, then AP and AR work on the rated charges.
ACTIVITY = ["payables", "receivables", "compensation", "risk"]


class Command(BaseCommand):
    help = "Create a deterministic demo data set (users of every role, markets, vendors, sellers, ...)."

    def add_arguments(self, parser):
        parser.add_argument("--shipments", type=int, default=2000, help="number of shipments (default 2000)")
        parser.add_argument("--sellers", type=int, default=8, help="sellers per market")
        parser.add_argument("--vendors", type=int, default=4, help="vendors per market")
        parser.add_argument("--seed", type=int, default=2026, help="random seed")

    def handle(self, *args, **options):
        ctx = demo.DemoContext(
            today=timezone.localdate(),
            shipments=options["shipments"],
            sellers_per_market=options["sellers"],
            vendors_per_market=options["vendors"],
            seed=options["seed"],
        )
        with transaction.atomic():
            demo.seed(ctx)
            for app in MASTER_DATA:
                self._seed(app, ctx)
        billing_demo.rate_history(ctx)
        for app in ACTIVITY:
            self._seed(app, ctx)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for line in ctx.lines:
            self.stdout.write(f"  {line}")

    @staticmethod
    def _seed(app: str, ctx) -> None:
        module = app_module(app, "demo")
        if module is not None:
            module.seed(ctx)
