"""Billing's part of the seller account summary (sellers.selectors.seller_account_summary): the
fee schedules in force for the seller's market today, chosen as rating chooses them
(billing.selectors.fee_schedules_in_force_ids)."""

from .selectors import fee_schedule_with_lines, fee_schedules_in_force_ids


def fee_schedules_in_force(market, *, on):
    return (
        fee_schedule_with_lines()
        .filter(market=market, pk__in=fee_schedules_in_force_ids(on=on))
        .order_by("service_level")
    )


def seller_summary(seller, *, today) -> dict:
    return {"fee_schedules": list(fee_schedules_in_force(seller.market, on=today))}
