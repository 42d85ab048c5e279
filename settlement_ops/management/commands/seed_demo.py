from dataclasses import dataclass

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from settlement_ops.demo import DemoContext
from settlement_ops.navigation import app_module


@dataclass(frozen=True)
class Phase:
    """One pass over the apps: each listed app whose `demo.py` defines `step(ctx)` runs it."""

    step: str
    apps: tuple  # app labels, dependencies first
    atomic: bool = False  # the whole phase in one transaction


# Every app with demo data, dependencies first.
DEMO_APPS = ("settlement_ops", "vendors", "sellers", "billing", "payables", "receivables", "compensation", "risk")

# The demo is built in these phases, in this order; the apps are found by label (like roles.py),
# so the kernel never imports the apps above it.
PHASES = (
    # Users, master data and shipments: bulk rows, written in one transaction (all or nothing).
    Phase("seed", ("settlement_ops", "vendors", "sellers", "billing"), atomic=True),
    # Then the demo's past is played through the services, each use case in its own transaction
    # as in production: billing runs rate the shipments (billing's `history`), ...
    Phase("history", DEMO_APPS),
    # ... then AP, AR and the apps above them work on the rated charges.
    Phase("seed", ("payables", "receivables", "compensation", "risk")),
    # The seller desk's tickets ask about those invoices and charges.
    Phase("desk", ("sellers",)),
    # Seller health: three sellers with a story, their warnings and plan through the services.
    Phase("health", ("sellers",)),
    # Last: with the month's history in place, the kernel soft-closes and closes past periods.
    Phase("periods", ("settlement_ops",)),
)


class Command(BaseCommand):
    help = "Create a deterministic demo data set (users of every role, markets, vendors, sellers, ...)."

    def add_arguments(self, parser):
        parser.add_argument("--shipments", type=int, default=2000, help="number of shipments (default 2000)")
        parser.add_argument("--sellers", type=int, default=8, help="sellers per market")
        parser.add_argument("--vendors", type=int, default=4, help="vendors per market")
        parser.add_argument("--seed", type=int, default=2026, help="random seed")

    def handle(self, *args, **options):
        ctx = DemoContext(
            today=timezone.localdate(),
            shipments=options["shipments"],
            sellers_per_market=options["sellers"],
            vendors_per_market=options["vendors"],
            seed=options["seed"],
        )
        for phase in PHASES:
            if phase.atomic:
                with transaction.atomic():
                    self._run(phase, ctx)
            else:
                self._run(phase, ctx)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        for line in ctx.lines:
            self.stdout.write(f"  {line}")

    @staticmethod
    def _run(phase: Phase, ctx) -> None:
        for app in phase.apps:
            step = getattr(app_module(app, "demo"), phase.step, None)
            if step is not None:
                step(ctx)
