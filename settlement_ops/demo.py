"""Demo data of the kernel: users of every role, FX rates. Area apps add theirs in `<app>/demo.py`
with a `seed(ctx)` function (and `history(ctx)` for a past played through the services);
`manage.py seed_demo` finds them by app label and calls them phase by phase (its PHASES)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token

from .errors import DomainError
from .models import AccountingPeriod, FxRate, Market, month_start
from .period_workbook import period_workbook_start
from .periods import period_close, period_for, period_soft_close
from .roles import Role

DEMO_PASSWORD = "settle-demo-2026"

DEMO_USERS = [
    # username, first name, role
    ("specialist", "Sam", Role.FINANCE_SPECIALIST),
    ("specialist2", "Sasha", Role.FINANCE_SPECIALIST),
    ("approver", "Alex", Role.FINANCE_APPROVER),
    ("approver2", "Ari", Role.FINANCE_APPROVER),
    ("auditor", "Audrey", Role.AUDITOR),
    ("support1", "Tia", Role.SUPPORT_TIER1),
    ("support2", "Theo", Role.SUPPORT_TIER2),
    ("compqa", "Quinn", Role.COMPENSATION_QA),
    ("risk", "Riley", Role.RISK_ANALYST),
    ("integration", "Integration", Role.INTEGRATION),
]

# The platform's collection account per demo market (fictitious; named in dunning letters).
DEMO_COLLECTION_ACCOUNTS = {
    "GB": ("Barclays Bank UK", "Marketplace Logistics UK Ltd", "GB33BUKB20201555555555", "BUKBGB22"),
    "DE": ("Commerzbank", "Marketplace Logistics GmbH", "DE89370400440532013000", "COBADEFFXXX"),
    "FR": ("BNP Paribas", "Marketplace Logistique SAS", "FR1420041010050500013M02606", "BNPAFRPPXXX"),
    "ID": ("Bank Central Asia", "PT Marketplace Logistik Indonesia", "0123456789", "CENAIDJA"),
    "VN": ("Vietcombank", "Công ty TNHH Marketplace Logistics Việt Nam", "0071001234567", "BFTVVNVX"),
}

# 1 unit in EUR, around late 2026.
FX_BASE = {"GBP": Decimal("1.1650"), "USD": Decimal("0.9210"), "IDR": Decimal("0.0000562"), "VND": Decimal("0.0000351")}


@dataclass
class DemoContext:
    """What seeders share: options, a seeded RNG, and what earlier seeders created."""

    today: date
    shipments: int = 2000
    sellers_per_market: int = 8
    vendors_per_market: int = 4
    seed: int = 2026
    rng: random.Random = field(init=False)
    users: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)  # printed at the end

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    @property
    def markets(self):
        # The markets the product serves; an inactive one (the bench's ZZ, ZA, ...) has no demo data.
        return list(Market.objects.filter(is_active=True).order_by("code"))


def make_user(username: str, first_name: str, role: str, *, email: str | None = None) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first_name, "email": email or f"{username}@settlement.example"}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=role))
    return user


def seed(ctx: DemoContext) -> None:
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@settlement.example"}
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save(update_fields=["password"])
    ctx.users["admin"] = admin
    for username, first_name, role in DEMO_USERS:
        ctx.users[username] = make_user(username, first_name, role)
    token, _ = Token.objects.get_or_create(user=ctx.users["integration"])
    ctx.lines.append(
        f"Staff users (password {DEMO_PASSWORD}): admin, "
        + ", ".join(u for u, _, _ in DEMO_USERS if u != "integration")
    )
    ctx.lines.append(f"API token of user 'integration': {token.key}")

    rates = []
    for days_back in range(0, 120):
        day = ctx.today - timedelta(days=days_back)
        for currency, base in FX_BASE.items():
            wobble = Decimal(1) + Decimal(ctx.rng.randint(-150, 150)) / Decimal(10000)
            rates.append(
                FxRate(
                    rate_date=day,
                    currency=currency,
                    rate=(base * wobble).quantize(Decimal("0.000000000001")),
                    source="demo",
                )
            )
    FxRate.objects.bulk_create(rates, ignore_conflicts=True)
    # Only where finance has not set one: a re-seed never overwrites a real account.
    for code, (bank, holder, number, bic) in DEMO_COLLECTION_ACCOUNTS.items():
        Market.objects.filter(code=code, collection_account_number="").update(
            collection_bank_name=bank,
            collection_account_holder=holder,
            collection_account_number=number,
            collection_bic=bic,
        )


CLOSE_AFTER_DAYS = 5


def periods(ctx: DemoContext) -> None:
    """Period close after the demo's past was played (a last `periods` phase of seed_demo): the
    last complete month is soft-closed by the specialist and closed by the approver in GB (its
    tie-outs pass), soft-closed elsewhere, and GB's period workbook is written. Repeatable."""
    specialist, approver = ctx.users.get("specialist"), ctx.users.get("approver")
    if specialist is None or approver is None:
        specialist, approver = User.objects.get(username="specialist"), User.objects.get(username="approver")
    for market in ctx.markets:
        # Finance closes a month some days after it ends: in its first days the nightly run still
        # rates and posts the last day of the month before.
        if not market.is_active or ctx.today.day <= CLOSE_AFTER_DAYS:
            continue
        month = month_start(month_start(ctx.today) - timedelta(days=1))
        period = period_for(market=market, month=month)
        if period.status == AccountingPeriod.Status.OPEN:
            period = period_soft_close(actor=specialist, market=market, month=month)
        if market.code == "GB" and period.status == AccountingPeriod.Status.SOFT_CLOSED:
            try:
                period_close(actor=approver, period=period)
            except DomainError as exc:
                ctx.lines.append(f"GB {period.label} was not closed: {exc.message} {exc.errors}")
                continue
            workbook = period_workbook_start(actor=approver, market=market, month=month)
            ctx.lines.append(f"Period workbook of GB {period.label}: #{workbook.pk}")
