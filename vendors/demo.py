"""Demo vendors per market (carriers, line-haul, warehouses)."""
from .models import Vendor

VENDOR_NAMES = {
    "GB": [("ParcelNet UK", "last_mile", "GB980780684"), ("Albion Linehaul", "line_haul", "GB123456782"), ("Midlands Fulfilment", "warehouse", "GB314159263"), ("QuickDrop Couriers", "first_mile", "GB271828187")],
    "DE": [("SchnellPaket GmbH", "last_mile", "DE136695976"), ("Autobahn Logistik", "line_haul", "DE129273398"), ("Lager Nord", "warehouse", "DE811569869"), ("Stadtkurier Berlin", "first_mile", "DE122119035")],
    "FR": [("ColisRapide SAS", "last_mile", "FR40303265045"), ("Transports Rhône", "line_haul", "FR23334175221"), ("Entrepôt Seine", "warehouse", "FR84323140392"), ("Vélo Coursier", "first_mile", "FR03552081317")],
    "ID": [("Kilat Ekspres", "last_mile", ""), ("Jawa Linehaul", "line_haul", ""), ("Gudang Nusantara", "warehouse", ""), ("Ojek Kirim", "first_mile", "")],
    "VN": [("Giao Hàng Nhanh Demo", "last_mile", ""), ("Bắc Nam Logistics", "line_haul", ""), ("Kho Miền Nam", "warehouse", ""), ("Xe Ôm Express", "first_mile", "")],
}


def seed(ctx) -> None:
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
                    market=market, legal_name=legal_name, vendor_type=vendor_type, vat_number=vat,
                    contact_email=f"billing{i + 1}@{market.code.lower()}-vendor.example", payment_terms_days=market.payment_terms_days,
                ),
            )
            vendors.append(vendor)
        ctx.vendors[market.code] = vendors
