"""`make bench`: times a full billing run against a one-statement SQL floor (see __main__)."""

MARKET = "ZZ"
SERVICES = ["standard", "express"]
ZONES = ["Z1", "Z2", "Z3", "Z4", "Z5"]
SELLERS = 200
