"""Demo vendors per market with bank accounts, contracts, rate cards and surcharges.

Billing generates demo shipments from DEMO_ZONES and DEMO_SERVICES: every demo vendor has an
active contract for every service in DEMO_SERVICES, pricing every origin x destination pair of
its market's zones for 0 < chargeable weight <= DEMO_MAX_WEIGHT_KG.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from django.utils import timezone
from schwifty import IBAN

from .models import Contract, ContractVersion, RateLine, Surcharge, Vendor, VendorBankAccount, VendorBankChangeRequest

VENDOR_NAMES = {
    "GB": [
        ("ParcelNet UK", "last_mile", "GB980780684"),
        ("Albion Linehaul", "line_haul", "GB123456782"),
        ("Midlands Fulfilment", "warehouse", "GB314159228"),
        ("QuickDrop Couriers", "first_mile", "GB271828107"),
    ],
    "DE": [
        ("SchnellPaket GmbH", "last_mile", "DE136695976"),
        ("Autobahn Logistik", "line_haul", "DE129273398"),
        ("Lager Nord", "warehouse", "DE811569869"),
        ("Stadtkurier Berlin", "first_mile", "DE122119035"),
    ],
    "FR": [
        ("ColisRapide SAS", "last_mile", "FR40303265045"),
        ("Transports Rhône", "line_haul", "FR23334175221"),
        ("Entrepôt Seine", "warehouse", "FR84323140392"),
        ("Vélo Coursier", "first_mile", "FR03552081317"),
    ],
    "ID": [
        ("Kilat Ekspres", "last_mile", "01.300.066.6-091.000"),
        ("Jawa Linehaul", "line_haul", ""),
        ("Gudang Nusantara", "warehouse", ""),
        ("Ojek Kirim", "first_mile", ""),
    ],
    "VN": [
        ("Giao Hàng Nhanh Demo", "last_mile", "0100233488"),
        ("Bắc Nam Logistics", "line_haul", ""),
        ("Kho Miền Nam", "warehouse", ""),
        ("Xe Ôm Express", "first_mile", ""),
    ],
}

# Zones per market; the last one is remote (remote-area surcharge on deliveries into it).
DEMO_ZONES: dict[str, list[str]] = {
    "GB": ["GB-LON", "GB-MID", "GB-NTH", "GB-SCO", "GB-HIGH"],
    "DE": ["DE-BER", "DE-HAM", "DE-MUC", "DE-FRA", "DE-ISL"],
    "FR": ["FR-PAR", "FR-LYO", "FR-MAR", "FR-LIL", "FR-COR"],
    "ID": ["ID-JKT", "ID-BDG", "ID-SBY", "ID-MDN", "ID-PAP"],
    "VN": ["VN-HAN", "VN-HCM", "VN-DNG", "VN-HPH", "VN-MTN"],
}
DEMO_REMOTE_ZONE: dict[str, str] = {code: zones[-1] for code, zones in DEMO_ZONES.items()}
DEMO_SERVICES: list[str] = ["standard", "express"]
DEMO_MAX_WEIGHT_KG = D("30")
DEMO_VOLUMETRIC_DIVISOR = 5000

# Per market: brackets (from, to, base, per additional step, step kg, minimum), in the currency.
_BRACKETS = {
    "GBP": [(0, 1, "3.20", "0", "1", "0"), (1, 5, "4.10", "0.55", "0.5", "0"), (5, 30, "7.50", "0.40", "1", "9.00")],
    "EUR": [(0, 1, "3.60", "0", "1", "0"), (1, 5, "4.70", "0.60", "0.5", "0"), (5, 30, "8.40", "0.45", "1", "10.00")],
    "IDR": [(0, 1, "9000", "0", "1", "0"), (1, 5, "11000", "3000", "1", "0"), (5, 30, "22000", "2500", "1", "25000")],
    "VND": [
        (0, 1, "22000", "0", "1", "0"),
        (1, 5, "28000", "5000", "0.5", "0"),
        (5, 30, "65000", "4500", "1", "70000"),
    ],
}
# Flat surcharges per currency: remote area, oversize, COD minimum.
_FLATS = {
    "GBP": ("3.50", "12.00", "1.00"),
    "EUR": ("4.00", "14.00", "1.20"),
    "IDR": ("15000", "35000", "2500"),
    "VND": ("30000", "80000", "5000"),
}
_SERVICE_FACTOR = {"standard": D("1"), "express": D("1.45")}
_BANK = {
    "GB": lambda i: dict(
        iban=IBAN.generate("GB", bank_code="NWBK601613", account_code=f"{31926810 + i:08d}").compact, bic="NWBKGB2L"
    ),
    "DE": lambda i: dict(
        iban=IBAN.generate("DE", bank_code="37040044", account_code=f"{532013000 + i:010d}").compact, bic="COBADEFFXXX"
    ),
    "FR": lambda i: dict(
        iban=IBAN.generate("FR", bank_code="3000600001", account_code=f"{12345678900 + i:011d}").compact,
        bic="AGRIFRPPXXX",
    ),
    "ID": lambda i: dict(bank_code="014", account_number=f"{5270012340 + i}"),
    "VN": lambda i: dict(bank_code="VCB", account_number=f"{1012345670 + i}"),
}


def _price(value: str, factor: D, currency: str) -> D:
    places = D("1") if currency in ("IDR", "VND") else D("0.01")
    return (D(value) * factor).quantize(places)


def _rate_lines(
    version: ContractVersion, market_code: str, currency: str, service: str, uplift: D = D("1")
) -> list[RateLine]:
    zones = DEMO_ZONES[market_code]
    lines = []
    for origin in zones[:-1]:  # nothing is collected in the remote zone
        for destination in zones:
            distance = D("1") if origin == destination else D("1.2") if zones.index(destination) < 3 else D("1.35")
            factor = distance * _SERVICE_FACTOR[service] * uplift
            for low, high, base, per, step, minimum in _BRACKETS[currency]:
                lines.append(
                    RateLine(
                        version=version,
                        service_level=service,
                        origin_zone=origin,
                        destination_zone=destination,
                        weight_from_kg=D(low),
                        weight_to_kg=D(high),
                        base_price=_price(base, factor, currency),
                        price_per_additional_kg=_price(per, factor, currency),
                        additional_step_kg=D(step),
                        minimum_charge=_price(minimum, factor, currency),
                    )
                )
    return lines


def _surcharges(version: ContractVersion, market_code: str, currency: str, today: date) -> list[Surcharge]:
    remote, oversize, cod_min = _FLATS[currency]
    half_year_ago = today - timedelta(days=182)
    K = Surcharge.Kind
    rows = [
        Surcharge(version=version, kind=K.FUEL, percent=D("8.5"), valid_to=half_year_ago - timedelta(days=1)),
        Surcharge(version=version, kind=K.FUEL, percent=D("9.75"), valid_from=half_year_ago),
        Surcharge(version=version, kind=K.REMOTE_AREA, flat_amount=D(remote), zone=DEMO_REMOTE_ZONE[market_code]),
        Surcharge(version=version, kind=K.OVERSIZE, flat_amount=D(oversize), dimension_threshold_cm=D("120")),
        Surcharge(version=version, kind=K.COD, percent=D("1.5"), minimum_amount=D(cod_min)),
        Surcharge(version=version, kind=K.RETURNS, percent=D("50")),
    ]
    for year in (today.year - 1, today.year):
        rows.append(
            Surcharge(
                version=version,
                kind=K.PEAK,
                percent=D("10"),
                valid_from=date(year, 11, 15),
                valid_to=date(year, 12, 31),
            )
        )
    return rows


def _vendors(ctx) -> None:
    ctx.vendors = {}
    for market in ctx.markets:
        names = VENDOR_NAMES.get(market.code, [])
        vendors = []
        for i in range(ctx.vendors_per_market):
            legal_name, vendor_type, vat = names[i % len(names)]
            if i >= len(names):
                legal_name, vat = f"{legal_name} {i // len(names) + 1}", ""
            vendor, _ = Vendor.objects.get_or_create(
                code=f"V-{market.code}-{i + 1:02d}",
                defaults=dict(
                    market=market,
                    legal_name=legal_name,
                    vendor_type=vendor_type,
                    vat_number=vat,
                    contact_name="Accounts receivable",
                    contact_phone="+00 000 000",
                    contact_email=f"billing{i + 1}@{market.code.lower()}-vendor.example",
                    payment_terms_days=market.payment_terms_days,
                ),
            )
            vendors.append(vendor)
            if market.code in _BANK and not vendor.bank_accounts.exists():
                VendorBankAccount.objects.create(
                    vendor=vendor,
                    account_holder=legal_name,
                    currency=market.currency,
                    bank_name="Demo Bank",
                    **_BANK[market.code](i),
                )
        ctx.vendors[market.code] = vendors


def seed(ctx) -> None:
    _vendors(ctx)
    author, approver = ctx.users.get("specialist"), ctx.users.get("approver")
    if author is None or approver is None:
        return
    now = timezone.now()
    valid_from = date(ctx.today.year - 1, 1, 1)
    lines, surcharges = [], []
    for market in ctx.markets:
        if market.code not in DEMO_ZONES:
            continue
        for vendor in ctx.vendors.get(market.code, []):
            for service in DEMO_SERVICES:
                reference = f"C-{vendor.code}-{service.upper()}"
                if Contract.objects.filter(reference=reference).exists():
                    continue
                contract = Contract.objects.create(
                    reference=reference,
                    vendor=vendor,
                    market=market,
                    service_level=service,
                    currency=market.currency,
                    valid_from=valid_from,
                    payment_terms_days=vendor.payment_terms_days,
                    volumetric_divisor=DEMO_VOLUMETRIC_DIVISOR,
                    status=Contract.Status.ACTIVE,
                    author=author,
                    submitted_by=author,
                    submitted_at=now,
                    approved_by=approver,
                    approved_at=now,
                )
                version = ContractVersion.objects.create(
                    contract=contract,
                    number=1,
                    effective_from=valid_from,
                    status=ContractVersion.Status.ACTIVE,
                    created_by=author,
                    submitted_by=author,
                    submitted_at=now,
                    approved_by=approver,
                    approved_at=now,
                    activated_at=now,
                )
                lines += _rate_lines(version, market.code, market.currency, service)
                surcharges += _surcharges(version, market.code, market.currency, ctx.today)
    # A retroactive amendment: the first GB vendor's standard prices rose 3 % from 60 days ago.
    first = Contract.objects.filter(reference="C-V-GB-01-STANDARD").first()
    if first is not None and not first.versions.filter(number=2).exists():
        v2 = ContractVersion.objects.create(
            contract=first,
            number=2,
            effective_from=ctx.today - timedelta(days=60),
            status=ContractVersion.Status.ACTIVE,
            notes="Annual price review, +3 %",
            created_by=author,
            submitted_by=author,
            submitted_at=now,
            approved_by=approver,
            approved_at=now,
            activated_at=now,
        )
        lines += _rate_lines(v2, "GB", "GBP", "standard", uplift=D("1.03"))
        surcharges += _surcharges(v2, "GB", "GBP", ctx.today)
    RateLine.objects.bulk_create(lines, batch_size=2000)
    Surcharge.objects.bulk_create(surcharges, batch_size=2000)
    _review_examples(ctx, author)


def _review_examples(ctx, author) -> None:
    """Work waiting for an approver: a contract in review and a bank detail change."""
    vendor = (ctx.vendors.get("DE") or [None])[0]
    if vendor is None or Contract.objects.filter(reference=f"C-{vendor.code}-ECONOMY").exists():
        return
    now = timezone.now()
    contract = Contract.objects.create(
        reference=f"C-{vendor.code}-ECONOMY",
        vendor=vendor,
        market=vendor.market,
        service_level="economy",
        currency=vendor.market.currency,
        valid_from=ctx.today + timedelta(days=14),
        payment_terms_days=vendor.payment_terms_days,
        volumetric_divisor=6000,
        status=Contract.Status.IN_REVIEW,
        author=author,
        submitted_by=author,
        submitted_at=now,
        notes="New economy service from next month",
    )
    version = ContractVersion.objects.create(
        contract=contract,
        number=1,
        effective_from=contract.valid_from,
        status=ContractVersion.Status.IN_REVIEW,
        created_by=author,
        submitted_by=author,
        submitted_at=now,
    )
    RateLine.objects.bulk_create(_rate_lines(version, "DE", "EUR", "standard", uplift=D("0.85")), batch_size=2000)
    RateLine.objects.filter(version=version).update(service_level="economy")
    Surcharge.objects.bulk_create(_surcharges(version, "DE", "EUR", ctx.today))
    if not VendorBankChangeRequest.objects.filter(
        vendor=vendor, status=VendorBankChangeRequest.Status.PENDING
    ).exists():
        VendorBankChangeRequest.objects.create(
            vendor=vendor,
            account_holder=vendor.legal_name,
            currency="EUR",
            bank_name="Demo Bank Berlin",
            reason="Vendor letter of " + ctx.today.isoformat(),
            requested_by=author,
            **_BANK["DE"](99),
        )
