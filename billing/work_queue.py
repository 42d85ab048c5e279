"""Billing on the home: seller fee schedules waiting for approval (never the approver's own drafts),
and shipments a run could not rate and that are still unrated, by age (days since shipping),
each linking to its list with the same filter."""

from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q

from settlement_ops.work_queue import APPROVALS, BILLING, WorkItem, filtered_url, may

from .models import ChargeLine, RatingException, SellerFeeSchedule

# (label, youngest age in days, oldest age in days or None)
EXCEPTION_AGES = [("up to 2 days old", 0, 2), ("3 to 7 days old", 3, 7), ("older than 7 days", 8, None)]


def work_items(user, *, today) -> list[WorkItem]:
    items = []
    if may(user, "billing.approve_sellerfeeschedule"):
        drafts = SellerFeeSchedule.objects.filter(status=SellerFeeSchedule.Status.DRAFT).exclude(created_by=user)
        items.append(
            WorkItem(
                APPROVALS,
                "Seller fee schedules",
                drafts.count(),
                filtered_url("billing:fee_schedule_list", status=SellerFeeSchedule.Status.DRAFT),
                "billing.view_sellerfeeschedule",
            )
        )
    if may(user, ("billing.start_billingrun", "billing.view_ratingexception")):
        items.extend(_exception_items(today))
    return items


def _exception_items(today) -> list[WorkItem]:
    # Driven from the exceptions (few) with an anti-join on the charge lines' (shipment, generation)
    # index: the same shipments as the search's rated=exception filter, without scanning shipments.
    unrated = RatingException.objects.filter(~Exists(ChargeLine.objects.of_shipments(OuterRef("shipment_id"))))
    windows = []
    for label, youngest, oldest in EXCEPTION_AGES:
        date_to = today - timedelta(days=youngest)
        date_from = today - timedelta(days=oldest) if oldest is not None else None
        windows.append((label, date_from, date_to))
    counts = unrated.aggregate(
        **{
            f"w{i}": Count(
                "shipment_id",
                distinct=True,
                filter=Q(shipment__ship_date__lte=date_to)
                & (Q(shipment__ship_date__gte=date_from) if date_from else Q()),
            )
            for i, (_, date_from, date_to) in enumerate(windows)
        }
    )
    return [
        WorkItem(
            BILLING,
            f"Rating exceptions {label}",
            counts[f"w{i}"],
            filtered_url(
                "billing:shipment_list",
                rated="exception",
                date_from=date_from.isoformat() if date_from else None,
                date_to=date_to.isoformat(),
            ),
            "billing.view_shipment",
            overdue=oldest is None and counts[f"w{i}"] > 0,
        )
        for i, ((label, date_from, date_to), (_, _, oldest)) in enumerate(zip(windows, EXCEPTION_AGES, strict=True))
    ]
