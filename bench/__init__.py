"""`make bench`: times a full billing run against a one-statement SQL floor (see __main__)."""

MARKET = "ZZ"
# Every market the bench writes (billing ZZ, ar ZA, compensation ZC, desk ZD, seller_health ZH,
# intake ZI): inactive, and nothing but the bench's own rows.
BENCH_MARKETS = ["ZZ", "ZA", "ZC", "ZD", "ZH", "ZI"]
SERVICES = ["standard", "express"]
ZONES = ["Z1", "Z2", "Z3", "Z4", "Z5"]
SELLERS = 200
