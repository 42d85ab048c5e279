from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from settlement_ops import demo
from settlement_ops.navigation import app_module

# Dependency order: masters before the records that use them.
SEED_ORDER = ["vendors", "sellers", "billing", "payables", "receivables", "compensation", "risk"]


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
            for app in SEED_ORDER:
                module = app_module(app, "demo")
                if module is not None:
                    module.seed(ctx)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for line in ctx.lines:
            self.stdout.write(f"  {line}")
