"""Nightly steps of sellers (collected by the nightly chain): the desk's SLA sweep, which also runs
every few minutes on its own (sellers.tasks); in the chain it makes the night's record complete."""

from .desk.services import sla_sweep
from .health.services import health_night


def _desk_sweep(*, market, business_date) -> dict:
    return sla_sweep(market=market)


def _health(*, market, business_date) -> dict:
    return health_night(market=market, business_date=business_date)


STEPS = [
    {"order": 60, "code": "desk_sla_sweep", "label": "Seller desk SLA sweep", "run": _desk_sweep},
    # After billing, AR and compensation: the metrics read what they wrote tonight.
    {"order": 65, "code": "seller_health", "label": "Seller health metrics and warnings", "run": _health},
]
