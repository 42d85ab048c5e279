"""Demo sellers per market, with one portal user each for the first two sellers of a market."""

from settlement_ops.demo import make_user
from settlement_ops.roles import Role

from .models import Seller, SellerUser

SELLER_NAMES = {
    "GB": [
        "Thames Home Goods",
        "Brighton Bikes",
        "Leeds Tea Co",
        "Oxford Books",
        "Camden Vinyl",
        "Bristol Outdoor",
        "York Ceramics",
        "Kent Garden",
    ],
    "DE": [
        "Bayern Sport",
        "Hamburg Kaffee",
        "Kölner Küchen",
        "Berliner Mode",
        "Sachsen Spiel",
        "Rhein Elektro",
        "Alpen Outdoor",
        "Ruhr Werkzeug",
    ],
    "FR": [
        "Maison Lyon",
        "Paris Parfums",
        "Bordeaux Cave",
        "Nantes Jouets",
        "Lille Textile",
        "Marseille Savon",
        "Alsace Déco",
        "Breizh Bio",
    ],
    "ID": [
        "Toko Jakarta",
        "Batik Solo",
        "Kopi Bandung",
        "Bali Kerajinan",
        "Surabaya Elektronik",
        "Medan Fashion",
        "Jogja Buku",
        "Makassar Rempah",
    ],
    "VN": [
        "Hà Nội Shop",
        "Sài Gòn Style",
        "Đà Nẵng Tech",
        "Huế Gốm",
        "Cần Thơ Nông Sản",
        "Hải Phòng Đồ Gỗ",
        "Nha Trang Biển",
        "Đà Lạt Hoa",
    ],
}


def seed(ctx) -> None:
    ctx.sellers = {}
    portal_users = []
    for market in ctx.markets:
        names = SELLER_NAMES.get(market.code, [])
        sellers = []
        for i in range(ctx.sellers_per_market):
            base = names[i % len(names)] if names else f"Seller {i + 1}"
            name = base if i < len(names) else f"{base} {i // len(names) + 1}"
            seller, _ = Seller.objects.get_or_create(
                code=f"S-{market.code}-{i + 1:03d}",
                defaults=dict(
                    market=market,
                    name=name,
                    legal_name=f"{name} Ltd",
                    email=f"finance+{market.code.lower()}{i + 1}@seller.example",
                    net_from_payout=(i % 3 == 0),
                ),
            )
            sellers.append(seller)
        ctx.sellers[market.code] = sellers
        for seller in sellers[:2]:
            username = f"seller_{seller.code.lower().replace('-', '_')}"
            user = make_user(username, seller.name[:30], Role.SELLER_USER)
            SellerUser.objects.get_or_create(user=user, defaults={"seller": seller})
            portal_users.append(username)
    ctx.lines.append(
        "Seller portal users (same password): "
        + ", ".join(portal_users[:4])
        + (" ..." if len(portal_users) > 4 else "")
    )


# The desk's demo runs in seed_demo's "desk" phase, once AR has issued invoices.
from .desk.demo import desk  # noqa: E402, F401

# Seller health stories (degrading, improving after a plan, stable): seed_demo's "health" phase.
from .health_demo import health  # noqa: E402, F401
