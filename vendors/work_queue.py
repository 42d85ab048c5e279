"""Vendor approvals on the approver's home: bank-detail changes, new contracts and contract
amendments in review, never the ones the user prepared (four eyes)."""

from django.db.models import Q
from django.urls import reverse

from settlement_ops.work_queue import APPROVALS, WorkItem, WorkRow, filtered_url, may

from .models import Contract, ContractVersion, VendorBankChangeRequest


def work_items(user, *, today) -> list[WorkItem]:
    items = []
    if may(user, "vendors.approve_vendorbankchangerequest"):
        # No list page of change requests: each links to its vendor page, where it is decided.
        changes = (
            VendorBankChangeRequest.objects.filter(status=VendorBankChangeRequest.Status.PENDING)
            .exclude(requested_by=user)
            .select_related("vendor")
            .order_by("requested_at")
        )
        rows = [
            WorkRow(
                f"{c.vendor.code} {c.vendor.legal_name}: new account {c.iban or c.account_number}",
                reverse("vendors:vendor_detail", args=[c.vendor_id]),
            )
            for c in changes
        ]
        items.append(
            WorkItem(
                APPROVALS,
                "Bank-detail changes",
                len(rows),
                rows[0].url if rows else reverse("vendors:vendor_list"),
                "vendors.view_vendor",
                rows=rows,
            )
        )
    if may(user, "vendors.approve_contract"):
        mine = Q(author=user) | Q(submitted_by=user)
        contracts = Contract.objects.filter(status=Contract.Status.IN_REVIEW).exclude(mine)
        items.append(
            WorkItem(
                APPROVALS,
                "New contracts",
                contracts.count(),
                filtered_url("vendors:contract_list", status=Contract.Status.IN_REVIEW),
                "vendors.view_contract",
            )
        )
        versions = (
            ContractVersion.objects.filter(
                status=ContractVersion.Status.IN_REVIEW, number__gt=1, contract__status=Contract.Status.ACTIVE
            )
            .exclude(Q(created_by=user) | Q(submitted_by=user))
            .select_related("contract__vendor")
            .order_by("submitted_at", "pk")
        )
        rows = [
            WorkRow(
                f"{v.contract.reference} version {v.number} ({v.contract.vendor.code}), from {v.effective_from:%Y-%m-%d}",
                reverse("vendors:rate_card", args=[v.pk]),
            )
            for v in versions
        ]
        items.append(
            WorkItem(
                APPROVALS,
                "Contract amendments",
                len(rows),
                rows[0].url if rows else filtered_url("vendors:contract_list", status=Contract.Status.ACTIVE),
                "vendors.view_contract",
                rows=rows,
            )
        )
    return items
